import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createLocalStorage, type StorageBackend } from "@strata/storage";
import { createS3Storage } from "@strata/storage/s3";
import { S3RVER_CREDENTIALS, startS3rver } from "@strata/storage/testing";
import { createCheckpointManager } from "../src/index.js";
import { crashState } from "./fixtures/crash-state.js";
import { tempDir } from "./helpers.js";

const PACKAGE_DIR = path.resolve(__dirname, "..");
const CHILD = path.join(PACKAGE_DIR, "test", "fixtures", "crash-child.ts");
const KILLS = Number(process.env.STRATA_CRASH_KILLS ?? 16);
/** The child's `retention.keepLast` and `maxInFlight` (test/fixtures/crash-child.ts). */
const CHILD_KEEP_LAST = 3;
const CHILD_MAX_IN_FLIGHT = 2;

/** Starts the saving child; resolves once it printed "ready". Collects the steps it reports committed. */
function startChild(
  config: object,
): Promise<{ child: ChildProcess; committed: number[]; stderr: () => string }> {
  const child = spawn(
    process.execPath,
    ["--conditions=@strata/source", "--import", "tsx", CHILD, JSON.stringify(config)],
    {
      cwd: PACKAGE_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const committed: number[] = [];
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout?.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "ready") resolve({ child, committed, stderr: () => err });
        const m = /^committed (\d+)$/.exec(line);
        if (m) committed.push(Number(m[1]));
      }
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`crash child exited before ready (code ${code}, signal ${signal}): ${err}`)),
    );
  });
}

function killAndWait(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

/** After a kill: every listed step is complete and verifies; latest loads with the exact bytes. */
async function checkInvariants(
  storage: StorageBackend,
  jobId: string,
  reported: number[],
): Promise<number | undefined> {
  const reader = createCheckpointManager({ storage, prefix: "crash", jobId });
  try {
    // Retention keeps up under kills: keepLast (3), plus the steps that committed just before the
    // kill cut their retention run short (up to the child's maxInFlight, 2, since both saves in
    // flight may commit before the run deletes anything); at most one step being written and one
    // being deleted. Without retention on start-up the count would grow with every kill.
    const all = await reader.list({ includePartial: true });
    const count = (state: string) => all.filter((c) => c.state === state).length;
    const states = JSON.stringify(all.map((c) => [c.step, c.state]));
    if (
      count("complete") > CHILD_KEEP_LAST + CHILD_MAX_IN_FLIGHT ||
      count("partial") > 1 ||
      count("deleting") > 1 ||
      count("corrupt") > 0
    ) {
      throw new Error(`retention fell behind: ${states}`);
    }
    const listed = await reader.list();
    for (const c of listed) {
      expect(c.state).toBe("complete");
      const report = await reader.verify(c.step);
      if (!report.ok)
        throw new Error(
          `listed step ${c.step} does not verify: ${JSON.stringify(report.problems)}`,
        );
    }
    const latest = await reader.latest();
    // Every step the child saw committed, and not since pruned, is still there: commits are durable.
    const newestReported = reported.length > 0 ? Math.max(...reported) : undefined;
    if (newestReported !== undefined) {
      expect(latest).toBeDefined();
      expect(latest?.step).toBeGreaterThanOrEqual(newestReported);
    }
    if (latest === undefined) return undefined;
    expect(listed.at(-1)?.step).toBe(latest.step);
    const loaded = await reader.load(latest.step);
    const expected = crashState(latest.step);
    for (const [name, bytes] of Object.entries(expected)) {
      expect(
        Buffer.compare(Buffer.from(loaded.buffers[name] as Uint8Array), Buffer.from(bytes)),
      ).toBe(0);
    }
    expect(loaded.metadata).toEqual({ step: latest.step });
    return latest.step;
  } finally {
    await reader.close();
  }
}

async function crashLoop(config: object, storage: StorageBackend, jobId: string): Promise<void> {
  let lastLatest = 0;
  for (let i = 0; i < KILLS; i++) {
    const { child, committed, stderr } = await startChild(config);
    // Kill at a random moment: sometimes before the first write, mostly mid-save or mid-commit.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 400));
    await killAndWait(child);
    const latest = await checkInvariants(storage, jobId, committed).catch((error: unknown) => {
      throw new Error(`after kill ${i + 1}: ${String(error)}\nchild stderr: ${stderr()}`);
    });
    // Resuming after a kill never meets "already committed": a new attempt supersedes a partial step.
    expect(stderr()).not.toMatch(/already_exists|AlreadyExists|already committed/);
    // Once anything was committed, a good checkpoint exists after every later kill, never older.
    if (lastLatest > 0) expect(latest).toBeDefined();
    if (latest !== undefined) {
      expect(latest).toBeGreaterThanOrEqual(lastLatest);
      lastLatest = latest;
    }
  }
  expect(lastLatest).toBeGreaterThan(0);
}

describe("crash safety under SIGKILL", () => {
  jest.setTimeout(120_000);

  test(`local storage: ${KILLS} random kills never expose a partial checkpoint`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const storage = createLocalStorage({ root: dir });
      await crashLoop(
        { kind: "local", root: dir, jobId: "crash-local", compression: "none" },
        storage,
        "crash-local",
      );
    } finally {
      await cleanup();
    }
  });

  test(`S3 (s3rver): ${KILLS} random kills never expose a partial checkpoint`, async () => {
    const server = await startS3rver({ bucket: "strata-ckpt", resolveFrom: PACKAGE_DIR });
    const storage = createS3Storage({
      bucket: server.bucket,
      endpoint: server.endpoint,
      region: "us-east-1",
      credentials: S3RVER_CREDENTIALS,
      onWarning: () => {},
    });
    try {
      await crashLoop(
        {
          kind: "s3",
          s3: { endpoint: server.endpoint, bucket: server.bucket },
          jobId: "crash-s3",
          compression: "lz4",
        },
        storage,
        "crash-s3",
      );
    } finally {
      await storage.close();
      await server.dispose();
    }
  });
});
