import type Database from "libsql";
import type { ApiEvent } from "../api/events.js";
import { HISTORY_SERIES } from "../api/history.js";
import { WORKER_SAMPLE_INTERVAL_MS } from "../api/worker-history.js";
import {
  type HistoryRetention,
  type HistorySample,
  LEVEL_RANK,
  MINUTE_MS,
  WORKER_COARSE_MS,
  type WorkerSampleBatch,
} from "./history-database.js";

type Db = InstanceType<typeof Database>;

/** Sample tier of 1-second rows, in ms (older rows are rolled up into {@link MINUTE_MS} rows). */
export const SECOND_TIER = 1_000;

/** Tier of 10-second worker samples (older rows are rolled up into {@link WORKER_COARSE_MS} rows). */
export const WORKER_FINE_TIER = WORKER_SAMPLE_INTERVAL_MS;

/**
 * The worker samples table, added to a `history.db` from before it on open (`IF NOT EXISTS`).
 * Keyed by worker first, so one worker's samples over a window are one range of the table (what
 * `/api/workers/:id/history` reads); `worker_samples_age` serves retention, which walks rows by
 * age across workers.
 */
export const WORKER_SAMPLES_SCHEMA = `
CREATE TABLE IF NOT EXISTS worker_samples (
  worker_id TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  tier INTEGER NOT NULL,
  state TEXT NOT NULL,
  step INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  step_rate REAL,
  cpu_percent REAL,
  memory_used_bytes REAL,
  gpu_utilization_percent REAL,
  PRIMARY KEY (worker_id, at_ms, tier)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS worker_samples_age ON worker_samples (tier, at_ms);
`;

/** The history's writes on one connection: appending, and retention. */
export interface HistoryWrites {
  /** Appends events, cluster samples and worker samples in one transaction. */
  write(
    events: readonly ApiEvent[],
    samples: readonly HistorySample[],
    workerSamples: readonly WorkerSampleBatch[],
  ): void;
  /**
   * Rolls old 1-second samples up into 1-minute averages and old 10-second worker samples into
   * 10-minute rows, and deletes expired rows, in one transaction.
   */
  compact(nowMs: number, retention: HistoryRetention): void;
}

/** Prepares the history's write statements on `db` (the writer thread's, or the main one's at open). */
export function prepareHistoryWrites(db: Db): HistoryWrites {
  const seriesList = HISTORY_SERIES.join(", ");
  const stmt = {
    putEvent: db.prepare(
      `INSERT OR REPLACE INTO events (seq, at_ms, type, level, source, worker_id, task_id, dataset_id,
         barrier_id, job_id, message, data_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    putSample: db.prepare(
      `INSERT OR REPLACE INTO samples (tier, at_ms, ${seriesList})
       VALUES (${SECOND_TIER}, ?, ${HISTORY_SERIES.map(() => "?").join(", ")})`,
    ),
    rollUp: db.prepare(
      `INSERT OR REPLACE INTO samples (tier, at_ms, ${seriesList})
       SELECT ${MINUTE_MS}, (at_ms / ${MINUTE_MS}) * ${MINUTE_MS},
         ${HISTORY_SERIES.map((s) => `avg(${s})`).join(", ")}
       FROM samples WHERE tier = ${SECOND_TIER} AND at_ms < ? GROUP BY 2`,
    ),
    deleteSeconds: db.prepare(`DELETE FROM samples WHERE tier = ${SECOND_TIER} AND at_ms < ?`),
    deleteSamples: db.prepare("DELETE FROM samples WHERE at_ms < ?"),
    deleteOldEvents: db.prepare("DELETE FROM events WHERE at_ms < ?"),
    deleteExtraEvents: db.prepare(
      "DELETE FROM events WHERE seq <= (SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?)",
    ),
    putWorkerSample: db.prepare(
      `INSERT OR REPLACE INTO worker_samples (worker_id, at_ms, tier, state, step, epoch, step_rate,
         cpu_percent, memory_used_bytes, gpu_utilization_percent)
       VALUES (?, ?, ${WORKER_FINE_TIER}, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Per worker and 10 minutes: the last sample's state, step and epoch (SQLite takes bare
    // columns from the row holding the single max()), mean rates and resources.
    rollUpWorkers: db.prepare(
      `INSERT OR REPLACE INTO worker_samples (worker_id, at_ms, tier, state, step, epoch, step_rate,
         cpu_percent, memory_used_bytes, gpu_utilization_percent)
       SELECT worker_id, bucket, ${WORKER_COARSE_MS}, state, step, epoch, rate, cpu, memory, gpu
       FROM (
         SELECT worker_id, (at_ms / ${WORKER_COARSE_MS}) * ${WORKER_COARSE_MS} AS bucket,
           max(at_ms) AS last_at, state, step, epoch, avg(step_rate) AS rate,
           avg(cpu_percent) AS cpu, avg(memory_used_bytes) AS memory,
           avg(gpu_utilization_percent) AS gpu
         FROM worker_samples WHERE tier = ${WORKER_FINE_TIER} AND at_ms < ?
         GROUP BY worker_id, bucket
       )`,
    ),
    deleteWorkerTier: db.prepare("DELETE FROM worker_samples WHERE tier = ? AND at_ms < ?"),
  };
  const write = db.transaction(
    (
      events: readonly ApiEvent[],
      samples: readonly HistorySample[],
      workerSamples: readonly WorkerSampleBatch[],
    ) => {
      for (const e of events) {
        stmt.putEvent.run(
          e.seq,
          e.at,
          e.type,
          LEVEL_RANK[e.level],
          e.source,
          e.worker_id,
          e.task_id,
          e.dataset_id,
          e.barrier_id,
          e.job_id,
          e.message,
          JSON.stringify(e.data),
        );
      }
      for (const s of samples) {
        stmt.putSample.run(s.atMs, ...HISTORY_SERIES.map((name) => s.values[name] ?? null));
      }
      for (const b of workerSamples) {
        for (let i = 0; i < b.workerIds.length; i++) {
          stmt.putWorkerSample.run(
            b.workerIds[i],
            b.atMs,
            b.states[i],
            b.steps[i],
            b.epochs[i],
            b.stepRates[i] ?? null,
            b.cpuPercents[i] ?? null,
            b.memoryUsedBytes[i] ?? null,
            b.gpuUtilizationPercents[i] ?? null,
          );
        }
      }
    },
  );
  const compact = db.transaction((nowMs: number, retention: HistoryRetention) => {
    const cut = Math.floor((nowMs - retention.fullResolutionMs) / MINUTE_MS) * MINUTE_MS;
    stmt.rollUp.run(cut);
    stmt.deleteSeconds.run(cut);
    stmt.deleteSamples.run(nowMs - retention.retentionMs);
    stmt.deleteOldEvents.run(nowMs - retention.retentionMs);
    stmt.deleteExtraEvents.run(retention.maxEvents);
    const workerCut =
      Math.floor((nowMs - retention.fullResolutionMs) / WORKER_COARSE_MS) * WORKER_COARSE_MS;
    stmt.rollUpWorkers.run(workerCut);
    stmt.deleteWorkerTier.run(WORKER_FINE_TIER, workerCut);
    stmt.deleteWorkerTier.run(WORKER_FINE_TIER, nowMs - retention.retentionMs);
    stmt.deleteWorkerTier.run(WORKER_COARSE_MS, nowMs - retention.retentionMs);
  });
  return {
    write: (events, samples, workerSamples) => write.immediate(events, samples, workerSamples),
    compact: (nowMs, retention) => compact.immediate(nowMs, retention),
  };
}
