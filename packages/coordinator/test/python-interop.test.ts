import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "./helpers/coordinator-process.js";

const PYTHON = "/usr/bin/python3";
const PLUGIN = "/usr/bin/grpc_python_plugin";
const PROTO_DIR = join(__dirname, "..", "..", "..", "proto");
const SCRIPT = join(__dirname, "python", "simulated_worker.py");

function requireTool(path: string, apt: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${apt}`);
}

interface Line {
  event: string;
  [key: string]: unknown;
}

function runWorker(gen: string, target: string, workerId: string, world: number): Promise<Line[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      PYTHON,
      [SCRIPT, "--gen", gen, "--target", target, "--worker-id", workerId, "--world", String(world)],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0)
        reject(new Error(`${workerId} exited ${code}\nstdout:\n${out}\nstderr:\n${err}`));
      else
        resolve(
          out
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l) as Line),
        );
    });
  });
}

describe("Python grpcio workers (the original simulated worker flow)", () => {
  let dir: string;
  let coordinator: CoordinatorProcess;
  let gen: string;

  beforeAll(async () => {
    requireTool(PYTHON, "python3-grpcio");
    requireTool(PLUGIN, "protobuf-compiler-grpc");
    requireTool("/usr/bin/protoc", "protobuf-compiler");
    dir = makeTempDir();
    gen = join(dir, "py-gen");
    execFileSync("mkdir", ["-p", gen]);
    execFileSync("/usr/bin/protoc", [
      `-I${PROTO_DIR}`,
      `--python_out=${gen}`,
      `--grpc_python_out=${gen}`,
      `--plugin=protoc-gen-grpc_python=${PLUGIN}`,
      join(PROTO_DIR, "coordinator.proto"),
    ]);
    coordinator = await startCoordinatorProcess(join(dir, "data"));
  });

  afterAll(async () => {
    expect(await coordinator?.stop()).toBe(0);
    removeDir(dir);
  });

  test("four workers register, train three epochs with checkpoints and barriers, and finish idle", async () => {
    const ids = ["gpu-node-1", "gpu-node-2", "gpu-node-3", "gpu-node-4"];
    const outputs = await Promise.all(
      ids.map((id) => runWorker(gen, coordinator.grpc, id, ids.length)),
    );
    const ranks = outputs.map((lines) => lines.find((l) => l.event === "registered")?.rank);
    expect(new Set(ranks)).toEqual(new Set([0, 1, 2, 3]));
    const shardCounts: Record<string, number> = {
      "gpu-node-1": 10,
      "gpu-node-2": 10,
      "gpu-node-3": 11,
      "gpu-node-4": 9,
    };
    for (const [i, lines] of outputs.entries()) {
      expect(lines.filter((l) => l.event.endsWith("_failed"))).toEqual([]);
      expect(lines.find((l) => l.event === "dataset")?.total_shards).toBe(
        shardCounts[ids[i] as string],
      );
      const barriers = lines.filter((l) => l.event === "barrier");
      expect(barriers.map((b) => b.epoch)).toEqual([0, 1, 2]);
      for (const b of barriers) {
        expect(b.released).toBe(true);
        expect(b.participants).toBe(4);
      }
      expect(lines.filter((l) => l.event === "checkpoint").every((l) => l.success === true)).toBe(
        true,
      );
      expect(
        lines.filter((l) => l.event === "heartbeat").every((l) => l.acknowledged === true),
      ).toBe(true);
      expect(lines.at(-2)).toMatchObject({ event: "heartbeat", state: "IDLE" });
      // With 4 live workers, each gets a part of its dataset's shards.
      expect(lines.at(-1)).toMatchObject({ event: "shards" });
    }
    const text = await (await fetch(`http://${coordinator.http}/metrics`)).text();
    expect(text).toMatch(/strata_barrier_releases_total 3/);
    expect(text).toMatch(/strata_datasets 4/);
  });
});
