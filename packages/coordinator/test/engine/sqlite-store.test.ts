import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Code, ManualClock } from "@strata/runtime-core";
import Database from "libsql";
import { createCoordinatorEngine } from "../../src/engine/index.js";
import {
  type CoordinatorStore,
  createSqliteStore,
  type StoredWorker,
} from "../../src/store/index.js";
import { dataset, registerAll, T0 } from "./helpers.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "strata-store-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function worker(id: string, rank: number): StoredWorker {
  return {
    workerId: id,
    hostname: "h",
    port: 1,
    gpuCount: 2,
    memoryBytes: 2 ** 40,
    metadata: { a: "b" },
    rank,
    incarnation: 1,
    status: "alive",
    state: "training",
    registeredAtMs: T0,
    lastHeartbeatMs: T0,
    currentStep: 0,
    currentEpoch: 0,
    currentTask: "",
  };
}

describe("SQLite store", () => {
  test("everything written survives close and reopen, and only files inside the directory are created", async () => {
    const path = join(dir, "coordinator.db");
    const store = createSqliteStore({ path });
    await store.apply([
      { t: "put_worker", worker: worker("a", 0) },
      { t: "put_worker", worker: worker("b", 1) },
      { t: "set_membership_version", version: 7 },
      {
        t: "put_dataset",
        dataset: { spec: dataset({ seed: 2n ** 64n - 1n }), totalShards: 100, registeredAtMs: T0 },
      },
      {
        t: "put_shard_progress",
        progress: {
          datasetId: "ds",
          epoch: 1,
          shardId: 3,
          consumed: [{ start: 30, end: 35 }],
          ownerWorkerId: "a",
        },
      },
      {
        t: "put_shard_progress",
        progress: {
          datasetId: "ds",
          epoch: 0,
          shardId: 3,
          consumed: [{ start: 30, end: 31 }],
          ownerWorkerId: "",
        },
      },
      { t: "delete_shard_progress_before", datasetId: "ds", beforeEpoch: 1 },
      {
        t: "put_checkpoint_step",
        step: {
          jobId: "j",
          step: 5,
          epoch: 0,
          expectedRanks: [0, 1],
          complete: false,
          createdAtMs: T0,
          completedAtMs: 0,
        },
      },
      {
        t: "put_checkpoint",
        record: {
          jobId: "j",
          step: 5,
          rank: 0,
          workerId: "a",
          checkpointId: "c",
          epoch: 0,
          storagePath: "p",
          sizeBytes: 9,
          kind: "model_only",
          recordedAtMs: T0,
          metadata: {},
        },
      },
    ]);
    await Promise.all([
      store.apply([
        {
          t: "put_liveness",
          workerId: "a",
          state: "checkpointing",
          lastHeartbeatMs: T0 + 5,
          currentStep: 9,
          currentEpoch: 1,
          currentTask: "t",
        },
      ]),
      store.apply([{ t: "delete_worker", workerId: "b" }]),
    ]);
    await store.close();
    await store.close();
    await expect(store.apply([])).rejects.toMatchObject({ code: Code.Unavailable });

    const reopened = createSqliteStore({ path });
    const state = await reopened.load();
    expect(state.membershipVersion).toBe(7);
    expect(state.workers).toEqual([
      {
        ...worker("a", 0),
        state: "checkpointing",
        lastHeartbeatMs: T0 + 5,
        currentStep: 9,
        currentEpoch: 1,
        currentTask: "t",
      },
    ]);
    expect(state.datasets[0]?.spec.seed).toBe(2n ** 64n - 1n);
    expect(state.shardProgress).toEqual([
      {
        datasetId: "ds",
        epoch: 1,
        shardId: 3,
        consumed: [{ start: 30, end: 35 }],
        ownerWorkerId: "a",
      },
    ]);
    expect(state.checkpointSteps[0]?.expectedRanks).toEqual([0, 1]);
    expect(state.checkpoints[0]?.kind).toBe("model_only");
    await reopened.close();
    expect(readdirSync(dir).every((f) => f.startsWith("coordinator.db"))).toBe(true);
  });

  test("a liveness-only batch (written without fsync) is still there after reopen", async () => {
    const path = join(dir, "l.db");
    const store = createSqliteStore({ path });
    await store.apply([{ t: "put_worker", worker: worker("a", 0) }]);
    await store.apply([
      {
        t: "put_liveness",
        workerId: "a",
        state: "recovering",
        lastHeartbeatMs: T0 + 9,
        currentStep: 4,
        currentEpoch: 2,
        currentTask: "r",
      },
      {
        t: "put_liveness",
        workerId: "unknown",
        state: "idle",
        lastHeartbeatMs: 1,
        currentStep: 0,
        currentEpoch: 0,
        currentTask: "",
      },
    ]);
    await store.apply([{ t: "set_membership_version", version: 2 }]);
    await store.close();
    const reopened = createSqliteStore({ path });
    const state = await reopened.load();
    expect(state.workers).toEqual([
      {
        ...worker("a", 0),
        state: "recovering",
        lastHeartbeatMs: T0 + 9,
        currentStep: 4,
        currentEpoch: 2,
        currentTask: "r",
      },
    ]);
    expect(state.membershipVersion).toBe(2);
    await reopened.close();
  });

  test("a database from a newer coordinator is refused; an unopenable path is UNAVAILABLE", async () => {
    const path = join(dir, "v.db");
    const store = createSqliteStore({ path });
    await store.close();
    const raw = new Database(path);
    raw.prepare("UPDATE schema_version SET version = 99").run();
    raw.close();
    const newer = createSqliteStore({ path });
    await expect(newer.load()).rejects.toThrow(/schema version 99 is newer/);
    await newer.close();
    const unopenable = createSqliteStore({ path: join(dir, "missing", "dir", "x.db") });
    await expect(unopenable.load()).rejects.toMatchObject({ code: Code.Unavailable });
    await unopenable.close();
  });

  test("a failed batch rejects every caller with UNAVAILABLE and keeps nothing of it", async () => {
    const path = join(dir, "c.db");
    const store = createSqliteStore({ path });
    const bad = {
      t: "put_worker",
      worker: { ...worker("x", 0), hostname: null },
    } as unknown as Parameters<CoordinatorStore["apply"]>[0][number];
    const results = await Promise.allSettled([
      store.apply([{ t: "set_membership_version", version: 3 }]),
      store.apply([bad]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: Code.Unavailable });
    expect((await store.load()).membershipVersion).toBe(0);
    await store.close();
  });

  test("an engine restarted on the same database keeps workers, datasets, progress and checkpoints", async () => {
    const path = join(dir, "e.db");
    const clock = new ManualClock(T0);
    const firstStore = createSqliteStore({ path });
    const first = createCoordinatorEngine({ store: firstStore, clock });
    await first.start();
    await registerAll(first, ["a", "b"]);
    await first.registerDataset(dataset());
    first.heartbeat({ workerId: "a", state: "training", step: 3 });
    await first.close();
    await firstStore.close();
    const secondStore = createSqliteStore({ path });
    const second = createCoordinatorEngine({ store: secondStore, clock });
    await second.start();
    expect(second.membership()).toEqual({
      version: 2,
      workers: [
        { workerId: "a", rank: 0 },
        { workerId: "b", rank: 1 },
      ],
    });
    // close() flushed the batched liveness.
    expect(second.snapshot().workers[0]).toMatchObject({ state: "training", currentStep: 3 });
    expect(await second.registerDataset(dataset())).toEqual({ totalShards: 100, created: false });
    await second.close();
    await secondStore.close();
  });

  test("after kill -9 of a coordinator process nothing it acknowledged is lost", async () => {
    const path = join(dir, "crash.db");
    const root = resolve(__dirname, "../..");
    const child = spawn(
      process.execPath,
      ["--conditions=@strata/source", "--import", "tsx", "test/engine/crash-child.ts", path],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const line = await new Promise<string>((resolveLine, reject) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("\n")) resolveLine(out.trim());
      });
      child.on("exit", (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
    });
    expect(line).toMatch(/^ready \d+$/);
    const shardId = Number(line.split(" ")[1]);
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    await exited;

    const clock = new ManualClock(T0 + 10 * 60_000);
    const store = createSqliteStore({ path });
    const engine = createCoordinatorEngine({ store, clock, restartGraceMs: 30_000 });
    await engine.start();
    expect(engine.membership()).toEqual({
      version: 4,
      workers: [
        { workerId: "a", rank: 0 },
        { workerId: "c", rank: 2 },
      ],
    });
    expect(engine.snapshot().workers.find((w) => w.workerId === "a")).toMatchObject({
      gpuCount: 4,
      metadata: { k: "a" },
    });
    const shard = engine
      .getShardAssignments({ workerId: "a", datasetId: "ds", epoch: 0 })
      .assignments.find((s) => s.shardId === shardId);
    expect(shard?.consumedSamples).toBe(5);
    const latest = engine.getLatestCheckpoint({ workerId: "c", jobId: "job" });
    expect(latest.hasCheckpoint && latest.checkpoint.storagePath).toBe("s3://b/ck/c");
    // The returning b gets its rank 1 back.
    const b = await engine.registerWorker({
      workerId: "b",
      hostname: "b",
      port: 1,
      gpuCount: 1,
      memoryBytes: 1,
      metadata: {},
    });
    expect(b).toMatchObject({ rank: 1, incarnation: 2 });
    await engine.close();
    await store.close();
  });
});
