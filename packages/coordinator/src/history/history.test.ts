import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "@strata/runtime-core";
import { HISTORY_SERIES, type HistorySeries } from "../api/history.js";
import { type History, openHistory } from "./history.js";

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

  if (kind === "sqlite") {
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
