import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Code, RuntimeError, type WorkerState } from "@strata/runtime-core";
import Database from "libsql";
import type { ApiEvent, ApiEventType, EventLevel } from "../api/events.js";
import { HISTORY_SERIES, type HistoryQuery, type HistoryResponse } from "../api/history.js";
import { type HistoryDatabase, LEVEL_RANK, stepStarts } from "./history-database.js";
import { prepareHistoryWrites, WORKER_SAMPLES_SCHEMA } from "./history-sql.js";
import type { HistoryWriterReply, HistoryWriterRequest } from "./history-writer-worker.js";
import { toWorkerHistoryResponse } from "./worker-history-columns.js";

type Db = InstanceType<typeof Database>;
type Row = Record<string, unknown>;

const LEVELS: readonly EventLevel[] = ["debug", "info", "warn", "error"];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  type TEXT NOT NULL,
  level INTEGER NOT NULL,
  source TEXT NOT NULL,
  worker_id TEXT,
  task_id TEXT,
  dataset_id TEXT,
  barrier_id TEXT,
  job_id TEXT,
  message TEXT NOT NULL,
  data_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_at ON events (at_ms);
CREATE INDEX IF NOT EXISTS events_type ON events (type, seq);
CREATE INDEX IF NOT EXISTS events_worker ON events (worker_id, seq) WHERE worker_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_task ON events (task_id, seq) WHERE task_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_dataset ON events (dataset_id, seq) WHERE dataset_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_barrier ON events (barrier_id, seq) WHERE barrier_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS samples (
  tier INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (tier, at_ms)
) WITHOUT ROWID;
`;

/**
 * The writer thread of one history database: requests go out in order and each resolves when
 * it is committed (or rejects with the database's error).
 */
function startWriter(path: string): {
  send(request: DistributiveOmit<HistoryWriterRequest, "id">): Promise<void>;
  close(): void;
} {
  const js = new URL("./history-writer-worker.js", import.meta.url);
  let worker: Worker;
  if (existsSync(fileURLToPath(js))) {
    worker = new Worker(js, { workerData: { path } });
  } else {
    // Running from TypeScript sources (tests, benchmarks): through tsx.
    const ts = new URL("./history-writer-worker.ts", import.meta.url).href;
    worker = new Worker(
      `import("tsx/esm/api").then(({ tsImport }) => tsImport(${JSON.stringify(ts)}, ${JSON.stringify(ts)}));`,
      { eval: true, workerData: { path }, execArgv: ["--conditions=@strata/source"] },
    );
  }
  worker.unref();
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let stopped = false;
  const failAll = (error: Error) => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  worker.on("message", (reply: HistoryWriterReply) => {
    const p = pending.get(reply.id);
    if (p === undefined) return;
    pending.delete(reply.id);
    if (pending.size === 0) worker.unref();
    if (reply.ok) p.resolve();
    else p.reject(new Error(reply.error));
  });
  worker.on("error", (error) => failAll(error));
  worker.on("exit", () => {
    stopped = true;
    failAll(new Error("history writer thread stopped"));
  });
  return {
    send(request) {
      if (stopped) return Promise.reject(new Error("history writer thread stopped"));
      const id = nextId++;
      return new Promise<void>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ ...request, id });
      });
    },
    async close() {
      if (stopped) return;
      // A clean close after every queued write, then the thread stops.
      await this.send({ type: "close" }).catch(() => undefined);
      await worker.terminate();
    },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * Opens (creating if needed) the history database at `path` through libsql, in WAL mode, so an
 * event survives `kill -9` once its batch was written (and a machine crash once SQLite
 * checkpoints its WAL). The series
 * columns of `samples` follow {@link HISTORY_SERIES}: a series added later gets its column on the
 * next start; a database from before worker samples gets their table on the next start.
 *
 * @throws RuntimeError(Unavailable) when the file cannot be opened.
 */
export function openSqliteHistory(path: string): HistoryDatabase {
  let db: Db;
  try {
    db = new Database(path);
    db.pragma("journal_mode = WAL");
    // Batches are written without an fsync of their own (WAL, NORMAL): they survive a killed
    // process, and an fsync per batch would stall the event loop (libsql is synchronous) for
    // heartbeats and requests alike. Seq reservations are fsynced (see reserveSeq).
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    db.exec(SCHEMA);
    db.exec(WORKER_SAMPLES_SCHEMA);
    const columns = new Set(
      (db.prepare("PRAGMA table_info(samples)").all() as Row[]).map((r) => String(r.name)),
    );
    for (const series of HISTORY_SERIES) {
      if (!columns.has(series)) db.exec(`ALTER TABLE samples ADD COLUMN ${series} REAL`);
    }
  } catch (error) {
    throw new RuntimeError(`cannot open history database "${path}"`, {
      code: Code.Unavailable,
      cause: error,
    });
  }

  const writer = startWriter(path);
  const here = prepareHistoryWrites(db);
  const stmt = {
    getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
    setMeta: db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
    maxSeq: db.prepare("SELECT max(seq) AS seq FROM events"),
    // Per step: the latest sample's state, step and epoch (SQLite takes bare columns from the
    // row holding the single max()), mean rates and resources.
    workerSteps: db.prepare(
      `SELECT CAST((at_ms - ?) / ? AS INTEGER) AS idx, max(at_ms) AS last_at, state, step, epoch,
         avg(step_rate) AS rate, avg(cpu_percent) AS cpu, avg(memory_used_bytes) AS memory,
         avg(gpu_utilization_percent) AS gpu
       FROM worker_samples WHERE worker_id = ? AND at_ms >= ? AND at_ms < ?
       GROUP BY idx ORDER BY idx`,
    ),
    workerSpan: db.prepare(
      "SELECT min(at_ms) AS first, max(at_ms) AS last FROM worker_samples WHERE worker_id = ?",
    ),
    hasWorker: db.prepare("SELECT 1 AS one FROM worker_samples WHERE worker_id = ? LIMIT 1"),
  };

  let closed = false;
  return {
    kind: "sqlite",
    reservedSeq() {
      const row = stmt.getMeta.get("reserved_seq") as Row | undefined;
      const reserved = row === undefined ? 0 : Number(row.value);
      // Belt and braces: never below what is stored (a database from before reservations).
      const stored = Number((stmt.maxSeq.get() as Row | undefined)?.seq ?? 0);
      return Math.max(reserved, stored);
    },
    reserveSeq(seq) {
      // Rare (once per block of seqs) and must survive a machine crash too: fsynced.
      db.pragma("synchronous = FULL");
      try {
        stmt.setMeta.run("reserved_seq", String(seq));
      } finally {
        db.pragma("synchronous = NORMAL");
      }
    },
    write(events, samples, workerSamples) {
      if (events.length === 0 && samples.length === 0 && workerSamples.length === 0) {
        return Promise.resolve();
      }
      return writer.send({ type: "write", events, samples, workerSamples });
    },
    queryEvents(filter) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (clause: string, value: unknown) => {
        where.push(clause);
        params.push(value);
      };
      if (filter.beforeSeq !== undefined) add("seq < ?", filter.beforeSeq);
      if (filter.afterSeq !== undefined) add("seq > ?", filter.afterSeq);
      if (filter.fromMs !== undefined) add("at_ms >= ?", filter.fromMs);
      if (filter.toMs !== undefined) add("at_ms < ?", filter.toMs);
      if (filter.minLevel !== undefined) add("level >= ?", LEVEL_RANK[filter.minLevel]);
      if (filter.types !== undefined) {
        where.push(`type IN (${filter.types.map(() => "?").join(", ") || "NULL"})`);
        params.push(...filter.types);
      }
      if (filter.source !== undefined) add("source = ?", filter.source);
      if (filter.workerId !== undefined) add("worker_id = ?", filter.workerId);
      if (filter.taskId !== undefined) add("task_id = ?", filter.taskId);
      if (filter.datasetId !== undefined) add("dataset_id = ?", filter.datasetId);
      if (filter.barrierId !== undefined) add("barrier_id = ?", filter.barrierId);
      if (filter.jobId !== undefined) add("job_id = ?", filter.jobId);
      if (filter.text !== undefined) add("instr(lower(message), lower(?)) > 0", filter.text);
      const sql = `SELECT * FROM events ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY seq ${filter.order === "asc" ? "ASC" : "DESC"} LIMIT ?`;
      params.push(filter.limit);
      return (db.prepare(sql).all(...params) as Row[]).map(toEvent);
    },
    readSamples(query) {
      const columns = query.series.map((s) => `avg(${s}) AS ${s}`).join(", ");
      const rows = db
        .prepare(
          `SELECT CAST((at_ms - ?) / ? AS INTEGER) AS step, ${columns} FROM samples
           WHERE at_ms >= ? AND at_ms < ? GROUP BY step ORDER BY step`,
        )
        .all(query.from, query.step_ms, query.from, query.to) as Row[];
      return toResponse(query, rows);
    },
    readWorkerSamples(workerId, query) {
      const rows = stmt.workerSteps.all(
        query.from,
        query.step_ms,
        workerId,
        query.from,
        query.to,
      ) as Row[];
      const span = stmt.workerSpan.get(workerId) as Row | undefined;
      const nullable = (value: unknown) =>
        value === null || value === undefined ? null : Number(value);
      return toWorkerHistoryResponse(
        workerId,
        query,
        rows.map((r) => ({
          index: Number(r.idx),
          state: String(r.state) as WorkerState,
          step: Number(r.step),
          epoch: Number(r.epoch),
          stepRate: nullable(r.rate),
          cpuPercent: nullable(r.cpu),
          memoryUsedBytes: nullable(r.memory),
          gpuUtilizationPercent: nullable(r.gpu),
        })),
        span === undefined || span.first === null || span.first === undefined
          ? undefined
          : { first: Number(span.first), last: Number(span.last) },
      );
    },
    hasWorkerSamples(workerId) {
      return stmt.hasWorker.get(workerId) !== undefined;
    },
    compact(nowMs, retention, now) {
      if (now === true) here.compact(nowMs, retention);
      else writer.send({ type: "compact", nowMs, retention }).catch(() => undefined);
    },
    async close() {
      if (closed) return;
      closed = true;
      await writer.close();
      db.close();
    },
  };
}

function toEvent(row: Row): ApiEvent {
  const text = (value: unknown) => (value === null || value === undefined ? null : String(value));
  return {
    seq: Number(row.seq),
    type: String(row.type) as ApiEventType,
    at: Number(row.at_ms),
    level: LEVELS[Number(row.level)] ?? "info",
    message: String(row.message),
    source: String(row.source),
    worker_id: text(row.worker_id),
    task_id: text(row.task_id),
    dataset_id: text(row.dataset_id),
    barrier_id: text(row.barrier_id),
    job_id: text(row.job_id),
    data: JSON.parse(String(row.data_json)) as Record<string, unknown>,
  };
}

function toResponse(query: HistoryQuery, rows: readonly Row[]): HistoryResponse {
  const timestamps = stepStarts(query);
  const series: Record<string, (number | null)[]> = {};
  for (const name of query.series) series[name] = timestamps.map(() => null);
  for (const row of rows) {
    const step = Number(row.step);
    if (step < 0 || step >= timestamps.length) continue;
    for (const name of query.series) {
      const value = row[name];
      (series[name] as (number | null)[])[step] =
        value === null || value === undefined ? null : Number(value);
    }
  }
  return { from: query.from, to: query.to, step_ms: query.step_ms, timestamps, series };
}
