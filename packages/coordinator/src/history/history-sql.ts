import type Database from "libsql";
import type { ApiEvent } from "../api/events.js";
import { HISTORY_SERIES } from "../api/history.js";
import {
  type HistoryRetention,
  type HistorySample,
  LEVEL_RANK,
  MINUTE_MS,
} from "./history-database.js";

type Db = InstanceType<typeof Database>;

/** Sample tier of 1-second rows, in ms (older rows are rolled up into {@link MINUTE_MS} rows). */
export const SECOND_TIER = 1_000;

/** The history's writes on one connection: appending, and retention. */
export interface HistoryWrites {
  /** Appends events and samples in one transaction. */
  write(events: readonly ApiEvent[], samples: readonly HistorySample[]): void;
  /** Rolls old 1-second samples up into 1-minute averages and deletes expired rows, in one transaction. */
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
  };
  const write = db.transaction((events: readonly ApiEvent[], samples: readonly HistorySample[]) => {
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
  });
  const compact = db.transaction((nowMs: number, retention: HistoryRetention) => {
    const cut = Math.floor((nowMs - retention.fullResolutionMs) / MINUTE_MS) * MINUTE_MS;
    stmt.rollUp.run(cut);
    stmt.deleteSeconds.run(cut);
    stmt.deleteSamples.run(nowMs - retention.retentionMs);
    stmt.deleteOldEvents.run(nowMs - retention.retentionMs);
    stmt.deleteExtraEvents.run(retention.maxEvents);
  });
  return {
    write: (events, samples) => write.immediate(events, samples),
    compact: (nowMs, retention) => compact.immediate(nowMs, retention),
  };
}
