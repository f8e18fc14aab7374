import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock, type WorkerState } from "@strata/runtime-core";
import Database from "libsql";
import { HISTORY_SERIES, type HistorySeries } from "../api/history.js";
import { workerHistoryResponseSchema } from "../api/worker-history.js";
import { HISTORY_FILE, type History, openHistory } from "./history.js";
import type { WorkerSampleBatch } from "./history-database.js";

const retention = { retentionMs: 3_600_000, fullResolutionMs: 120_000, maxEvents: 50 };

function event(history: History, message: string, at = 0) {
  return history.append({
    type: "log",
    at,
    level: "info",
    message,
    source: "test",
    worker_id: message.startsWith("w") ? message : null,
    task_id: null,
    dataset_id: null,
    barrier_id: null,
    job_id: null,
    data: { n: message },
  });
}

function sample(value: number): Record<HistorySeries, number | null> {
  const values = {} as Record<HistorySeries, number | null>;
  for (const name of HISTORY_SERIES) values[name] = name === "workers_alive" ? value : null;
  return values;
}

/** A batch of worker samples: `[id, state, step, cpu, gpu]` per worker (step rate = step / 10). */
function workerBatch(
  atMs: number,
  rows: readonly [string, WorkerState, number, number | null, number | null][],
): WorkerSampleBatch {
  return {
    atMs,
    workerIds: rows.map((r) => r[0]),
    states: rows.map((r) => r[1]),
    steps: rows.map((r) => r[2]),
    epochs: rows.map(() => 1),
    stepRates: rows.map((r) => r[2] / 10),
    cpuPercents: rows.map((r) => r[3]),
    memoryUsedBytes: rows.map((r) => (r[3] === null ? null : 1_000 + r[2])),
    gpuUtilizationPercents: rows.map((r) => r[4]),
  };
}

describe.each([["sqlite"], ["memory"]])("history (%s)", (kind) => {
  let dir: string;
  const open = (clock = new ManualClock(1_000_000)) =>
    openHistory({ ...(kind === "sqlite" ? { dataDir: dir } : {}), retention, clock });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "strata-history-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("seq grows by one; queries filter and page; writes are batched until flush", async () => {
    const history = open();
    expect(history.nextSeq).toBe(1);
    const seqs = ["a", "w-1", "b", "w-2"].map((m) => event(history, m).seq);
    expect(seqs).toEqual([1, 2, 3, 4]);
    expect(history.query({ limit: 10 }).map((e) => e.seq)).toEqual([4, 3, 2, 1]);
    expect(history.query({ limit: 10, text: "W-" }).map((e) => e.message)).toEqual(["w-2", "w-1"]);
    expect(history.query({ limit: 1, beforeSeq: 3 }).map((e) => e.seq)).toEqual([2]);
    expect(history.query({ limit: 2, order: "asc", afterSeq: 1 }).map((e) => e.seq)).toEqual([
      2, 3,
    ]);
    const replay = history.replay(2, 10);
    expect(replay).toEqual({ ok: true, events: history.query({ limit: 2 }).reverse() });
    expect(history.replay(0, 3)).toEqual({ ok: false, reason: "replay_limit" });
    expect(history.replay(9, 3)).toEqual({ ok: false, reason: "unknown_seq" });
    await history.close();
  });

  test("samples average per step and are downsampled to minutes with age", async () => {
    const clock = new ManualClock(10 * 60_000);
    const history = open(clock);
    for (let s = 0; s < 180; s++)
      history.addSample({ atMs: s * 1_000, values: sample(s % 2 === 0 ? 2 : 4) });
    await history.flush();
    const fine = history.readSamples({
      series: ["workers_alive", "workers_dead"],
      from: 0,
      to: 10_000,
      step_ms: 5_000,
    });
    expect(fine.timestamps).toEqual([0, 5_000]);
    expect(fine.series.workers_alive).toEqual([2.8, 3.2]);
    expect(fine.series.workers_dead).toEqual([null, null]);
    await history.close();
    if (kind === "memory") return;
    // Reopened 10 minutes later: everything older than 2 minutes became one row per minute.
    const later = open(new ManualClock(10 * 60_000));
    const coarse = later.readSamples({
      series: ["workers_alive"],
      from: 0,
      to: 180_000,
      step_ms: 1_000,
    });
    const present = (coarse.series.workers_alive ?? []).filter((v) => v !== null);
    expect(present).toEqual([3, 3, 3]);
    await later.close();
  });

  test("worker samples: latest step and state per step, means of the rest, nulls where none", async () => {
    const history = open(new ManualClock(10 * 60_000));
    history.addWorkerSamples(
      workerBatch(0, [
        ["w-a", "training", 10, 100, 50],
        ["w-b", "idle", 0, null, null],
      ]),
    );
    history.addWorkerSamples(workerBatch(10_000, [["w-a", "training", 30, 200, 70]]));
    history.addWorkerSamples(workerBatch(20_000, [["w-a", "checkpointing", 40, 150, null]]));
    // Nothing is readable before the batch is written.
    expect(history.readWorkerSamples("w-a", { from: 0, to: 40_000, step_ms: 10_000 }).step).toEqual(
      [null, null, null, null],
    );
    await history.flush();
    const fine = workerHistoryResponseSchema.parse(
      history.readWorkerSamples("w-a", { from: 0, to: 40_000, step_ms: 10_000 }),
    );
    expect(fine).toEqual({
      worker_id: "w-a",
      from: 0,
      to: 40_000,
      step_ms: 10_000,
      first_sample_at: 0,
      last_sample_at: 20_000,
      timestamps: [0, 10_000, 20_000, 30_000],
      step: [10, 30, 40, null],
      epoch: [1, 1, 1, null],
      state: ["training", "training", "checkpointing", null],
      step_rate: [1, 3, 4, null],
      cpu_percent: [100, 200, 150, null],
      memory_used_bytes: [1_010, 1_030, 1_040, null],
      gpu_utilization_percent: [50, 70, null, null],
    });
    const coarse = history.readWorkerSamples("w-a", { from: 0, to: 40_000, step_ms: 20_000 });
    expect(coarse.step).toEqual([30, 40]);
    expect(coarse.state).toEqual(["training", "checkpointing"]);
    expect(coarse.cpu_percent).toEqual([150, 150]);
    expect(coarse.gpu_utilization_percent).toEqual([60, null]);
    const idle = history.readWorkerSamples("w-b", { from: 0, to: 20_000, step_ms: 10_000 });
    expect(idle.state).toEqual(["idle", null]);
    expect(idle.cpu_percent).toEqual([null, null]);
    const nobody = history.readWorkerSamples("w-x", { from: 0, to: 20_000, step_ms: 10_000 });
    expect(nobody.step).toEqual([null, null]);
    expect(nobody.first_sample_at).toBeNull();
    // Known through samples, or through an event naming the worker; else unknown.
    expect(history.knowsWorker("w-a")).toBe(true);
    expect(history.knowsWorker("w-x")).toBe(false);
    event(history, "w-x");
    expect(history.knowsWorker("w-x")).toBe(true);
    await history.close();
  });

  test("events filter by time: from inclusive, to exclusive, in the ring and in the database", async () => {
    const history = open();
    for (let i = 0; i < 6; i++) event(history, `e${i}`, 1_000 * i);
    await history.flush();
    const within = (fromMs?: number, toMs?: number) =>
      history
        .query({
          limit: 100,
          ...(fromMs === undefined ? {} : { fromMs }),
          ...(toMs === undefined ? {} : { toMs }),
        })
        .map((e) => e.message);
    expect(within(2_000, 4_000)).toEqual(["e3", "e2"]);
    expect(within(4_000)).toEqual(["e5", "e4"]);
    expect(within(undefined, 1_000)).toEqual(["e0"]);
    await history.close();
    if (kind === "memory") return;
    // From the database alone (a reopened history's ring is reloaded, so read older than it).
    const reopened = openHistory({
      dataDir: dir,
      retention,
      clock: new ManualClock(1_000_000),
      ringSize: 16,
    });
    for (let i = 6; i < 40; i++) event(reopened, `e${i}`, 1_000 * i);
    expect(
      reopened.query({ limit: 100, fromMs: 2_000, toMs: 4_000 }).map((e) => e.message),
    ).toEqual(["e3", "e2"]);
    expect(
      reopened
        .query({ limit: 100, fromMs: 2_000, toMs: 4_000, order: "asc" })
        .map((e) => e.message),
    ).toEqual(["e2", "e3"]);
    await reopened.close();
  });

  test("worker samples older than the full resolution become 10-minute rows; expired ones go", async () => {
    const hour = 3_600_000;
    const clock = new ManualClock(hour);
    const kept = { ...retention, retentionMs: 80 * 60_000 };
    const history = openHistory({
      ...(kind === "sqlite" ? { dataDir: dir } : {}),
      retention: kept,
      clock,
    });
    // 30 minutes of 10-second samples of one worker, from 0.
    for (let t = 0; t < 30 * 60_000; t += 10_000) {
      history.addWorkerSamples(
        workerBatch(t, [["w-a", "training", t / 1_000, t < 600_000 ? 10 : 30, null]]),
      );
    }
    await history.flush();
    if (kind === "sqlite") {
      await history.close();
    }
    // Half an hour later (at 90 minutes): samples older than 2 minutes are rolled up, and with
    // an 80-minute retention the first 10 minutes are gone. SQLite applies retention when it
    // opens; memory on its timer, once a minute of its clock.
    clock.advance(30 * 60_000);
    const later =
      kind === "sqlite" ? openHistory({ dataDir: dir, retention: kept, clock }) : history;
    const rows = later.readWorkerSamples("w-a", { from: 0, to: 30 * 60_000, step_ms: 600_000 });
    expect(rows.step).toEqual([null, 1_190, 1_790]);
    expect(rows.cpu_percent).toEqual([null, 30, 30]);
    expect(rows.first_sample_at).toBe(600_000);
    expect(rows.last_sample_at).toBe(1_200_000);
    // One row per 10 minutes now, at the bucket's start.
    const fine = later.readWorkerSamples("w-a", { from: 600_000, to: 1_200_000, step_ms: 10_000 });
    expect(fine.step.filter((v) => v !== null)).toEqual([1_190]);
    expect(fine.step[0]).toBe(1_190);
    await later.close();
  });

  if (kind === "sqlite") {
    test("a history.db from before worker samples opens, keeps its events and gains the table", async () => {
      const path = join(dir, HISTORY_FILE);
      const old = new Database(path);
      old.exec(`
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE events (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, type TEXT NOT NULL,
          level INTEGER NOT NULL, source TEXT NOT NULL, worker_id TEXT, task_id TEXT,
          dataset_id TEXT, barrier_id TEXT, job_id TEXT, message TEXT NOT NULL,
          data_json TEXT NOT NULL);
        CREATE TABLE samples (tier INTEGER NOT NULL, at_ms INTEGER NOT NULL,
          workers_alive REAL, PRIMARY KEY (tier, at_ms)) WITHOUT ROWID;
        INSERT INTO meta VALUES ('reserved_seq', '7');
        INSERT INTO events VALUES (7, 999000, 'log', 1, 'test', 'w-old', NULL, NULL, NULL, NULL,
          'from before', '{}');
      `);
      old.close();
      const history = open();
      expect(history.nextSeq).toBe(8);
      expect(history.query({ limit: 10 }).map((e) => e.message)).toEqual(["from before"]);
      expect(history.knowsWorker("w-old")).toBe(true);
      history.addWorkerSamples(workerBatch(990_000, [["w-new", "idle", 3, 5, null]]));
      await history.close();
      const reopened = open();
      expect(
        reopened.readWorkerSamples("w-new", { from: 990_000, to: 1_000_000, step_ms: 10_000 }).step,
      ).toEqual([3]);
      await reopened.close();
    });

    test("seq is reserved in blocks: a reopened history never hands out a seq it may have shown", async () => {
      const first = open();
      for (let i = 0; i < 5; i++) event(first, `e${i}`);
      // No flush, no close: as after kill -9, the events were seen live but never written.
      const second = open();
      expect(second.nextSeq).toBeGreaterThan(5);
      expect(second.query({ limit: 10 })).toEqual([]);
      const next = event(second, "after crash").seq;
      await second.close();
      const third = open();
      expect(third.nextSeq).toBeGreaterThan(next);
      expect(third.query({ limit: 10 }).map((e) => e.message)).toEqual(["after crash"]);
      expect(third.replay(0, 10)).toEqual({ ok: true, events: third.query({ limit: 10 }) });
      await third.close();
      await first.close();
    });

    test("retention keeps at most maxEvents, newest first", async () => {
      const history = open();
      for (let i = 0; i < 80; i++) event(history, `e${i}`, 1_000_000);
      await history.close();
      const reopened = open();
      const kept = reopened.query({ limit: 1_000 });
      expect(kept).toHaveLength(50);
      expect(kept[0]?.message).toBe("e79");
      await reopened.close();
    });
  }
});
