import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as MarkdownExamples from "../../../scripts/markdown-examples.cjs";

// Every fenced block of this package's README runs as written (twice where a reader would run it
// again), except the HTTP API section's, which test/http/readme-http.test.ts runs, and blocks
// marked `not runnable:` with their reason. Adding a block fails the inventory test below until a
// case here runs it. The commands use the README's fixed ports (50051, 3000) on loopback.
const { fencedBlocks, runBashBlock, runTypeScriptBlock, startBashBlock } =
  require("../../../scripts/markdown-examples.cjs") as typeof MarkdownExamples;

const PACKAGE_DIR = join(__dirname, "..");
const ROOT = join(PACKAGE_DIR, "..", "..");
const README = join(PACKAGE_DIR, "README.md");
const PYTHON = process.env.STRATA_PYTHON ?? "/usr/bin/python3";

jest.setTimeout(300_000);

const blocks = fencedBlocks(README);
/** The one block whose first line starts with `start` (the README's order is not assumed). */
function block(start: string): MarkdownExamples.FencedBlock {
  const found = blocks.filter((b) => b.code.trimStart().startsWith(start));
  if (found.length !== 1) throw new Error(`README has ${found.length} blocks starting ${start}`);
  return found[0] as MarkdownExamples.FencedBlock;
}

const RUN_PNPM_START = "pnpm start";
const RUN_BIN = "node packages/coordinator/dist/bin.js --grpc-addr";
const RUN_TLS = "openssl req";
const LISTENING_JSON = '{"msg":"listening"';
const HA = "# not runnable:";
const HTTP_API = 'import { createMemoryStore, startCoordinator } from "@strata/coordinator";';
const EMBEDDING = 'import { startCoordinator } from "@strata/coordinator";';
const TESTING = 'import { startCoordinatorProcess } from "@strata/coordinator/testing";';
const GRPC_JS = 'import { credentials, Metadata } from "@grpc/grpc-js";';
const PROTOC = "mkdir -p gen && protoc";
const PYTHON_WORKER = 'import sys; sys.path.insert(0, "gen")';

test("every block of the README is covered by a case below", () => {
  const covered = [
    RUN_PNPM_START,
    RUN_BIN,
    RUN_TLS,
    LISTENING_JSON,
    HA,
    HTTP_API,
    EMBEDDING,
    TESTING,
    GRPC_JS,
    PROTOC,
    PYTHON_WORKER,
  ];
  for (const b of blocks) {
    expect({
      line: b.line,
      covered: covered.some((c) => b.code.trimStart().startsWith(c)),
    }).toEqual({ line: b.line, covered: true });
  }
  expect(blocks).toHaveLength(covered.length);
  // The only block that does not run says why, and points to where the same thing does run.
  expect(blocks.filter((b) => !b.runnable).map((b) => b.reason)).toEqual([
    "needs a three-member etcd cluster at these addresses (docs/high-availability.md runs one on this machine)",
  ]);
});

/** Waits for the coordinator's `listening` line in a started block and parses it. */
async function listening(started: MarkdownExamples.StartedBlock, ms = 60_000) {
  const match = await started.waitFor(/^\{"msg":"listening".*\}$/m, ms);
  return JSON.parse(match[0]) as Record<string, unknown>;
}

async function stopCleanly(started: MarkdownExamples.StartedBlock): Promise<void> {
  const result = await started.interrupt();
  expect(result.timedOut).toBe(false);
  // The coordinator shut down gracefully (Ctrl-C), rather than being killed.
  expect(started.output()).toContain('"msg":"stopped"');
}

test("the plain coordinator command serves the grpc-js and Python workers, run twice on one data directory", async () => {
  rmSync("/tmp/strata-coordinator", { recursive: true, force: true });
  const gen = mkdtempSync(join(tmpdir(), "strata-readme-python-"));
  // The README runs protoc and Python from the repository root; here a folder that looks like it
  // (a `proto` link), so `gen/` is not left in the checkout.
  symlinkSync(join(ROOT, "proto"), join(gen, "proto"));
  try {
    for (let run = 0; run < 2; run++) {
      const server = startBashBlock(block(RUN_BIN).code, { cwd: ROOT });
      try {
        const line = await listening(server);
        // The README's sample line has the same fields as the real one.
        const sample = JSON.parse(block(LISTENING_JSON).code) as Record<string, unknown>;
        expect(Object.keys(line).sort()).toEqual(Object.keys(sample).sort());
        expect(line.grpc).toBe("127.0.0.1:50051");

        const grpcJs = await runTypeScriptBlock(block(GRPC_JS).code, {
          cwd: PACKAGE_DIR,
          env: { STRATA_AUTH_TOKEN: "" },
          timeoutMs: 60_000,
        });
        expect({ code: grpcJs.code, stderr: grpcJs.stderr }).toEqual({ code: 0, stderr: "" });
        expect(grpcJs.stdout).toBe("rank 0 of 1\ntrue\n");

        const protoc = await runBashBlock(block(PROTOC).code, { cwd: gen, timeoutMs: 60_000 });
        expect({ code: protoc.code, stderr: protoc.stderr }).toEqual({ code: 0, stderr: "" });
        expect(existsSync(join(gen, "gen", "coordinator_pb2_grpc.py"))).toBe(true);
        const python = await runBashBlock(`${PYTHON} - <<'PY'\n${block(PYTHON_WORKER).code}PY\n`, {
          cwd: gen,
          timeoutMs: 60_000,
        });
        expect({ code: python.code, stderr: python.stderr }).toEqual({ code: 0, stderr: "" });
        expect(python.stdout).toBe("10 shards\n");
      } finally {
        await stopCleanly(server);
      }
    }
  } finally {
    rmSync(gen, { recursive: true, force: true });
    rmSync("/tmp/strata-coordinator", { recursive: true, force: true });
  }
});

test("pnpm start with a flag builds and runs the coordinator on the default addresses", async () => {
  const server = startBashBlock(block(RUN_PNPM_START).code, { cwd: ROOT });
  try {
    const line = await listening(server, 240_000);
    expect(line).toMatchObject({ grpc: "0.0.0.0:50051", http: "127.0.0.1:3000", state: "sqlite" });
    const status = await fetch("http://127.0.0.1:3000/api/status");
    expect(status.status).toBe(200);
    expect(((await status.json()) as { heartbeat_timeout_ms: number }).heartbeat_timeout_ms).toBe(
      10_000,
    );
  } finally {
    await stopCleanly(server);
  }
});

test("the TLS and token command serves HTTPS with the self-signed certificate, twice", async () => {
  try {
    for (let run = 0; run < 2; run++) {
      const server = startBashBlock(block(RUN_TLS).code, { cwd: ROOT });
      try {
        const line = await listening(server);
        expect(line).toMatchObject({ tls: true, auth: true });
        // HTTPS with the certificate the block made, trusted as its CA.
        const health = await new Promise<number | undefined>((resolve, reject) =>
          httpsGet(
            `https://localhost:${String(line.http).split(":")[1]}/api/health`,
            { ca: readFileSync("/tmp/strata-cert.pem") },
            (response) => {
              response.resume();
              resolve(response.statusCode);
            },
          ).on("error", reject),
        );
        expect(health).toBe(200);
      } finally {
        await stopCleanly(server);
      }
    }
  } finally {
    rmSync("/tmp/strata-coordinator-tls", { recursive: true, force: true });
  }
});

test("the testing example starts a real coordinator process and stops it cleanly, twice", async () => {
  try {
    for (let run = 0; run < 2; run++) {
      const result = await runTypeScriptBlock(block(TESTING).code, {
        cwd: PACKAGE_DIR,
        timeoutMs: 60_000,
      });
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
      expect(result.stdout).toMatch(/^127\.0\.0\.1:\d+ 200\n0\n$/);
    }
  } finally {
    rmSync("/tmp/strata-test", { recursive: true, force: true });
  }
});

test("the embedding example runs as written, twice", async () => {
  try {
    for (let run = 0; run < 2; run++) {
      const result = await runTypeScriptBlock(block(EMBEDDING).code, {
        cwd: PACKAGE_DIR,
        timeoutMs: 60_000,
      });
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
      expect(result.stdout).toMatch(/^127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+\n$/);
    }
  } finally {
    rmSync("/tmp/strata", { recursive: true, force: true });
  }
});
