import type { ApiEvent, ApiEventType, EventLevel } from "../api/events.js";
import type { HistoryQuery, HistoryResponse, HistorySeries } from "../api/history.js";

/** One metric sample: every series' value at `atMs` (null when it had none, e.g. no barrier yet). */
export interface HistorySample {
  /** Ms since the epoch, at the sampling instant. */
  atMs: number;
  values: Readonly<Record<HistorySeries, number | null>>;
}

/** Which stored events to read. Every given field must match. */
export interface EventFilter {
  /** Only events with a smaller seq. */
  beforeSeq?: number;
  /** Only events with a larger seq. */
  afterSeq?: number;
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
  /** Events and samples older than this are deleted, in ms. */
  retentionMs: number;
  /** 1-second samples older than this become 1-minute averages, in ms. */
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
   * Appends events (seq ascending) and samples in one transaction: at once (memory), or on a
   * writer thread (SQLite), resolving when committed.
   */
  write(events: readonly ApiEvent[], samples: readonly HistorySample[]): void | Promise<void>;
  /** Stored events matching `filter`. */
  queryEvents(filter: EventFilter): ApiEvent[];
  /** Samples averaged per `stepMs` step over [from, to). */
  readSamples(query: HistoryQuery): HistoryResponse;
  /**
   * Applies retention: rolls old 1-second samples up into 1-minute averages, deletes expired
   * rows. With `now`, at once on the calling thread (at open, before anything is read); else
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
export function stepStarts(query: HistoryQuery): number[] {
  const out: number[] = [];
  for (let t = query.from; t < query.to; t += query.step_ms) out.push(t);
  return out;
}

/** One minute, the resolution samples are downsampled to. */
export const MINUTE_MS = 60_000;
