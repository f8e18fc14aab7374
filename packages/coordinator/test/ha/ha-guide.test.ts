import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type * as MarkdownExamples from "../../../../scripts/markdown-examples.cjs";
import { BIN } from "../helpers/coordinator-process.js";

// docs/high-availability.md promises that its shell blocks run as written, in order: etcd, three
// coordinators, a worker, the HTTP view, kill -9 of the leader, the restart, and the stop. Run
// them twice (a reader repeats the guide), from the repository root, on the guide's fixed ports.
// The blocks that need Docker or Kubernetes say so and are the only ones not run.
const { fencedBlocks, runBashBlock } =
  require("../../../../scripts/markdown-examples.cjs") as typeof MarkdownExamples;

const ROOT = join(__dirname, "..", "..", "..", "..");
const GUIDE = join(ROOT, "docs", "high-availability.md");
const WORKER_BIN = join(ROOT, "packages", "client-sdk", "dist", "worker-cli", "bin.js");
/** Where the guide keeps everything, pid files included. */
const HA_DIR = "/tmp/strata-ha";

const blocks = fencedBlocks(GUIDE, { lang: "bash" });
const runnable = blocks.filter((b) => b.runnable);

/** The pids in the guide's pid files now. */
function pidFiles(): Map<string, number> {
  const pids = new Map<string, number>();
  if (!existsSync(HA_DIR)) return pids;
  for (const file of readdirSync(HA_DIR).filter((f) => f.endsWith(".pid"))) {
    const pid = Number(readFileSync(join(HA_DIR, file), "utf8").trim());
    if (Number.isInteger(pid) && pid > 0) pids.set(file, pid);
  }
  return pids;
}

/** Whether `pid` runs one of the guide's processes (its command line names the guide's folder). */
function isGuideProcess(pid: number): boolean {
  try {
    return execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).includes(
      `${HA_DIR}/`,
    );
  } catch {
    return false; // not running
  }
}

/** Kills whatever a failed or interrupted run left behind, then removes the folder. */
function cleanUp(seen: Iterable<number> = []): void {
  for (const pid of new Set([...pidFiles().values(), ...seen])) {
    if (isGuideProcess(pid)) process.kill(pid, "SIGKILL");
  }
  rmSync(HA_DIR, { recursive: true, force: true });
}

const seen = new Set<number>();

beforeAll(() => {
  for (const bin of [BIN, WORKER_BIN]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run pnpm build first`);
  }
  // A run interrupted before its stop block would hold the guide's ports.
  cleanUp();
});

afterAll(() => cleanUp(seen));

jest.setTimeout(300_000);

test("the blocks that cannot run here are exactly the Docker and Kubernetes ones, and say why", () => {
  const skipped = blocks.filter((b) => !b.runnable);
  expect(skipped.map((b) => b.reason)).toEqual([
    "needs a Docker engine (docker compose)",
    "needs a Kubernetes cluster (kubectl)",
  ]);
  for (const block of blocks) {
    const needsEngine = /^\s*(docker|kubectl) /m.test(block.code);
    expect({ line: block.line, runnable: block.runnable }).toEqual({
      line: block.line,
      runnable: !needsEngine,
    });
  }
  expect(runnable).toHaveLength(7);
});

/** What each runnable block must print, in order. */
const expectations: ((stdout: string, state: { killed?: string }) => void)[] = [
  // 1. etcd: every member healthy.
  (out) => {
    for (const port of [12379, 13379, 14379]) expect(out).toContain(`127.0.0.1:${port} is healthy`);
  },
  // 2. Coordinators: one leader, two followers.
  (out) => {
    const roles = [...out.matchAll(/^coordinator-\d: "role":"(\w+)"$/gm)].map((m) => m[1]);
    expect(roles.sort()).toEqual(["follower", "follower", "leader"]);
  },
  // 3. A worker whose checkpoint the coordinator recorded.
  (out) => {
    expect(out).toMatch(/"event":"checkpoint_committed".*"complete":true/);
  },
  // 4. Readiness follows leadership; every coordinator names the same leader.
  (out) => {
    const lines = [...out.matchAll(/^coordinator-\d: \/api\/ready (\d+), "role":"(\w+)"$/gm)];
    expect(lines.map((m) => `${m[2]} ${m[1]}`).sort()).toEqual([
      "follower 503",
      "follower 503",
      "leader 200",
    ]);
    const leaders = new Set([...out.matchAll(/^ {2}("leader":\{.*\})$/gm)].map((m) => m[1]));
    expect(leaders.size).toBe(1);
    expect([...leaders][0]).toMatch(/"grpc_address":"127\.0\.0\.1:1505[123]"/);
  },
  // 5. Another coordinator leads after the kill, and the worker checkpointed through it.
  (out, state) => {
    const killed = /^killed coordinator-(\d) \(the leader\)$/m.exec(out)?.[1];
    const next = /^coordinator-(\d) leads now$/m.exec(out)?.[1];
    expect(killed).toBeDefined();
    expect(next).toBeDefined();
    expect(next).not.toBe(killed);
    expect(out).toMatch(/^the worker goes on: .*"event":"checkpoint_committed"/m);
    state.killed = killed;
  },
  // 6. The killed one is back, as a follower.
  (out, state) => {
    expect(out.trim()).toBe(`coordinator-${state.killed}: "role":"follower"`);
  },
  // 7. Everything stopped and removed.
  (out) => {
    expect(out.trim()).toBe("stopped");
  },
];

for (const round of [1, 2]) {
  test(`run ${round}: start, a leader answers, kill it, a new one leads, stop everything`, async () => {
    expect(expectations).toHaveLength(runnable.length);
    const state: { killed?: string } = {};
    for (const [i, block] of runnable.entries()) {
      const result = await runBashBlock(block.code, { cwd: ROOT, timeoutMs: 60_000 });
      for (const pid of pidFiles().values()) seen.add(pid);
      const shown = { line: block.line, code: result.code, stderr: result.stderr };
      expect(shown).toEqual({ line: block.line, code: 0, stderr: "" });
      expectations[i]?.(result.stdout, state);
    }
    // Nothing is left running or on disk.
    expect(existsSync(HA_DIR)).toBe(false);
    for (const pid of seen)
      expect({ pid, running: isGuideProcess(pid) }).toEqual({ pid, running: false });
  });
}
