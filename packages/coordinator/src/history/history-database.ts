import type { WorkerState } from "@strata/runtime-core";
import type { ApiEvent, ApiEventType, EventLevel } from "../api/events.js";
import type { HistoryQuery, HistoryResponse, HistorySeries } from "../api/history.js";
import type { WorkerHistoryQuery, WorkerHistoryResponse } from "../api/worker-history.js";

/** One metric sample: every series' value at `atMs` (null when it had none, e.g. no barrier yet). */
export interface HistorySample {
  /** Ms since the epoch, at the sampling instant. */
  atMs: number;
  values: Readonly<Record<HistorySeries, number | null>>;
}

/**
 * One sample of every live worker at one instant, in columns: entry i of every array belongs to
 * `workerIds[i]`. Columns, not one object per worker, because a batch of 10,000 workers is copied
 * to the writer thread, and a few arrays copy far faster than thousands of small objects.
 */
export interface WorkerSampleBatch {
  /** Ms since the epoch, at the sampling instant. */
  atMs: number;
  workerIds: string[];
  states: WorkerState[];
  steps: number[];
  epochs: number[];
  /** Steps per second (the monitor's `WorkerRates`); null until two heartbeats were seen. */
  stepRates: (number | null)[];
  /** 0 to 100 per core summed; null without a resource report. */
  cpuPercents: (number | null)[];
  memoryUsedBytes: (number | null)[];
  /** Mean utilisation of the worker's GPUs, 0 to 100; null without GPUs. */
  gpuUtilizationPercents: (number | null)[];
}

/** Which stored events to read. Every given field must match. */
export interface EventFilter {
  /** Only events with a smaller seq. */
  beforeSeq?: number;
  /** Only events with a larger seq. */
  afterSeq?: number;
  /** Only events at or after this time (ms since the epoch). */
  fromMs?: number;
  /** Only events before this time (ms since the epoch). */
  toMs?: number;
  /** The lowest level returned (`info` drops `debug`). */
  minLevel?: EventLevel;
  types?: readonly ApiEventType[];
  source?: string;
  workerId?: string;
  taskId?: string;
  datasetId?: string;
  barrierId?: string;
  jobId?: string;
  /** A case-insensitive substring of the message. */
  text?: string;
  /** Most events returned. */
  limit: number;
  /** `desc` (default): newest first; `asc`: oldest first (the oldest matching ones). */
  order?: "asc" | "desc";
}

/** How long history keeps what. */
export interface HistoryRetention {
  /** Events and samples (cluster and per worker) older than this are deleted, in ms. */
  retentionMs: number;
  /**
   * 1-second cluster samples older than this become 1-minute averages, and 10-second worker
   * samples become 10-minute rows ({@link WORKER_COARSE_MS}), in ms.
   */
  fullResolutionMs: number;
  /** Most events kept; the oldest go first. */
  maxEvents: number;
}

/**
 * Where the coordinator's history lives: its events (with their seq) and its 1-second metric
 * samples. Reads and seq reservations are synchronous; writes and retention may run on another
 * thread (SQLite does, so its commits never stall the event loop).
 */
export interface HistoryDatabase {
  /** `sqlite` (`history.db` in the data directory) or `memory`. */
  readonly kind: "sqlite" | "memory";
  /** The highest event seq ever reserved (0 for a new database): no seq up to it may be reused. */
  reservedSeq(): number;
  /** Durably records that seqs up to `seq` may be handed out (fsynced before it returns). */
  reserveSeq(seq: number): void;
  /**
   * Appends events (seq ascending), cluster samples and worker samples in one transaction: at
   * once (memory), or on a writer thread (SQLite), resolving when committed.
   */
  write(
    events: readonly ApiEvent[],
    samples: readonly HistorySample[],
    workerSamples: readonly WorkerSampleBatch[],
  ): void | Promise<void>;
  /** Stored events matching `filter`. */
  queryEvents(filter: EventFilter): ApiEvent[];
  /** Samples averaged per `stepMs` step over [from, to). */
  readSamples(query: HistoryQuery): HistoryResponse;
  /** One worker's stored samples per `step_ms` step over [from, to) (see `WorkerHistoryResponse`). */
  readWorkerSamples(workerId: string, query: WorkerHistoryQuery): WorkerHistoryResponse;
  /** Whether any sample of `workerId` is stored. */
  hasWorkerSamples(workerId: string): boolean;
  /**
   * Applies retention: rolls old 1-second samples up into 1-minute averages and old 10-second
   * worker samples into 10-minute rows, deletes expired rows. With `now`, at once on the calling thread (at open, before anything is read); else
   * possibly on the writer thread.
   */
  compact(nowMs: number, retention: HistoryRetention, now?: boolean): void;
  /** Closes the database after every queued write. Idempotent. */
  close(): void | Promise<void>;
}

/** Numeric rank of a level, for "this level or above" filters. */
export const LEVEL_RANK: Readonly<Record<EventLevel, number>> = {
  debug: 0,
  info: 1,
  warn: 2,
  error: 3,
};

/** Whether `event` matches `filter` (everything but `limit` and `order`). */
export function matchesEventFilter(event: ApiEvent, filter: EventFilter): boolean {
  if (filter.beforeSeq !== undefined && event.seq >= filter.beforeSeq) return false;
  if (filter.afterSeq !== undefined && event.seq <= filter.afterSeq) return false;
  if (filter.fromMs !== undefined && event.at < filter.fromMs) return false;
  if (filter.toMs !== undefined && event.at >= filter.toMs) return false;
  if (filter.minLevel !== undefined && LEVEL_RANK[event.level] < LEVEL_RANK[filter.minLevel])
    return false;
  if (filter.types !== undefined && !filter.types.includes(event.type)) return false;
  if (filter.source !== undefined && event.source !== filter.source) return false;
  if (filter.workerId !== undefined && event.worker_id !== filter.workerId) return false;
  if (filter.taskId !== undefined && event.task_id !== filter.taskId) return false;
  if (filter.datasetId !== undefined && event.dataset_id !== filter.datasetId) return false;
  if (filter.barrierId !== undefined && event.barrier_id !== filter.barrierId) return false;
  if (filter.jobId !== undefined && event.job_id !== filter.jobId) return false;
  if (
    filter.text !== undefined &&
    !event.message.toLowerCase().includes(filter.text.toLowerCase())
  ) {
    return false;
  }
  return true;
}

/** The timestamps of a history answer: the start of every step in [from, to). */
export function stepStarts(query: Pick<HistoryQuery, "from" | "to" | "step_ms">): number[] {
  const out: number[] = [];
  for (let t = query.from; t < query.to; t += query.step_ms) out.push(t);
  return out;
}

/** One minute, the resolution samples are downsampled to. */
export const MINUTE_MS = 60_000;

/**
 * Ten minutes, the resolution worker samples are rolled up to once older than the full
 * resolution window: a week of a 10,000-worker cluster is then about 10 million rows (one per
 * worker per 10 minutes) rather than 600 million, and a week-long chart of one worker needs no
 * finer step anyway (2,000 points over a week are 5 minutes apart).
 */
export const WORKER_COARSE_MS = 600_000;
