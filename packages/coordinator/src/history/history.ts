import { join } from "node:path";
import {
  type Clock,
  createSilentLogger,
  type Logger,
  systemClock,
  type TimerHandle,
} from "@strata/runtime-core";
import type { ApiEvent } from "../api/events.js";
import type { HistoryQuery, HistoryResponse } from "../api/history.js";
import type { WorkerHistoryQuery, WorkerHistoryResponse } from "../api/worker-history.js";
import {
  type EventFilter,
  type HistoryDatabase,
  type HistoryRetention,
  type HistorySample,
  matchesEventFilter,
  type WorkerSampleBatch,
} from "./history-database.js";
import { createMemoryHistory } from "./memory-history.js";
import { openSqliteHistory } from "./sqlite-history.js";

/** The history database file inside the coordinator's data directory (beside `coordinator.db`). */
export const HISTORY_FILE = "history.db";

/**
 * Seqs are reserved durably this many at a time. After a crash the next process starts past the
 * whole reserved block, so a seq a client may have seen is never handed out again (at the cost
 * of a gap in the numbering, which `Last-Event-ID` resumption does not mind).
 */
const SEQ_BLOCK = 100_000;
/** How often retention runs, in ms. */
const COMPACT_INTERVAL_MS = 60_000;
/** Cluster samples kept for writing while writes fail (an hour of 1-second samples). */
const MAX_PENDING_SAMPLES = 3_600;
/** Worker sample batches kept for writing while writes fail (10 minutes of 10-second batches). */
const MAX_PENDING_WORKER_BATCHES = 60;

/** Options for {@link openHistory}. */
export interface HistoryOptions {
  /** The coordinator's data directory, where `history.db` lives. Undefined: history in memory. */
  dataDir?: string;
  retention: HistoryRetention;
  clock?: Clock;
  logger?: Logger;
  /** How often buffered events and samples are written, in ms. Default 250. */
  flushIntervalMs?: number;
  /** Newest events kept in memory for replay and recent reads. Default 10,000. */
  ringSize?: number;
}

/** What a resuming reader gets: the events after its seq, or why it must reload instead. */
export type ReplayResult =
  | { ok: true; events: ApiEvent[] }
  | { ok: false; reason: "replay_limit" | "unknown_seq" | "history_unavailable" };

/**
 * The coordinator's history: every event with its `seq` (which keeps growing across restarts),
 * the 1-second metric samples and the 10-second samples of every live worker, in a database of
 * its own (`history.db`). Appending is synchronous and cheap: events go to listeners and an
 * in-memory ring at once and are written in batches every `flushIntervalMs` (and on
 * {@link History.flush}), off every request path. A `kill -9` loses at most what was appended
 * since the last committed batch (the monitor flushes once a second).
 */
export interface History {
  readonly kind: "sqlite" | "memory";
  /** The seq the next event gets: pass it as the engine's `firstEventSeq`. */
  readonly nextSeq: number;
  /** The newest event's seq (`nextSeq − 1` before any). */
  readonly lastSeq: number;
  /** Gives `event` the next seq, hands it to listeners, and queues it for writing. */
  append(event: Omit<ApiEvent, "seq">): ApiEvent;
  /** Subscribes to every appended event (synchronously, in seq order). Returns the unsubscribe function. */
  subscribe(listener: (event: ApiEvent) => void): () => void;
  /** The events after `afterSeq`, oldest first, if there are at most `limit`. */
  replay(afterSeq: number, limit: number): ReplayResult;
  /** Stored and buffered events matching `filter` (newest first unless `order: "asc"`). */
  query(filter: EventFilter): ApiEvent[];
  /** Queues a metric sample for writing. */
  addSample(sample: HistorySample): void;
  /** Samples averaged per step (what `/api/history` answers). */
  readSamples(query: HistoryQuery): HistoryResponse;
  /** Queues one sample of every live worker for writing (taken by the monitor every 10 s). */
  addWorkerSamples(batch: WorkerSampleBatch): void;
  /** One worker's stored samples per step (what `/api/workers/:id/history` answers). */
  readWorkerSamples(workerId: string, query: WorkerHistoryQuery): WorkerHistoryResponse;
  /**
   * Whether history holds anything of `workerId`: a stored sample or an event naming it (so a
   * worker the engine no longer remembers still has its history).
   */
  knowsWorker(workerId: string): boolean;
  /**
   * Writes everything buffered now (a tick on the event stream follows a flush). Resolves once
   * it is stored (SQLite commits on a writer thread); never rejects (a failed write is retried).
   */
  flush(): Promise<void>;
  /** Flushes, waits for the writes, stops the timers and closes the database. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens the history: `history.db` in `dataDir` (created if needed), or memory without one. Loads
 * the newest events into the ring so a restarted coordinator replays them without a query.
 */
export function openHistory(options: HistoryOptions): History {
  const db =
    options.dataDir === undefined
      ? createMemoryHistory()
      : openSqliteHistory(join(options.dataDir, HISTORY_FILE));
  return new BufferedHistory(db, options);
}

class BufferedHistory implements History {
  readonly #db: HistoryDatabase;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #retention: HistoryRetention;
  readonly #flushIntervalMs: number;
  readonly #ring: ApiEvent[];
  #ringStart = 0;
  #ringCount = 0;
  readonly #listeners = new Set<(event: ApiEvent) => void>();
  #pendingEvents: ApiEvent[] = [];
  #pendingSamples: HistorySample[] = [];
  #pendingWorkerSamples: WorkerSampleBatch[] = [];
  #lastSeq: number;
  #reserved: number;
  #timer: TimerHandle | undefined;
  #lastCompactMs = 0;
  #failing = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Resolves when every write handed to the database so far is stored. */
  #inFlight: Promise<void> = Promise.resolve();

  constructor(db: HistoryDatabase, options: HistoryOptions) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? createSilentLogger()).child({ component: "history" });
    this.#retention = options.retention;
    this.#flushIntervalMs = options.flushIntervalMs ?? 250;
    this.#ring = new Array<ApiEvent>(Math.max(16, options.ringSize ?? 10_000));
    this.#reserved = db.reservedSeq();
    this.#lastSeq = this.#reserved;
    // Retention before anything is read back, on this thread (once, at open).
    this.#compact(true);
    for (const event of db.queryEvents({ limit: this.#ring.length }).reverse()) this.#push(event);
    this.#schedule();
  }

  get kind(): "sqlite" | "memory" {
    return this.#db.kind;
  }

  get nextSeq(): number {
    return this.#lastSeq + 1;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  append(input: Omit<ApiEvent, "seq">): ApiEvent {
    const seq = this.#lastSeq + 1;
    if (seq > this.#reserved) {
      const reserved = seq + SEQ_BLOCK - 1;
      try {
        this.#db.reserveSeq(reserved);
      } catch (error) {
        // Keep serving events; only a crash before the next good reservation could reuse seqs.
        this.#log.error({ err: error }, "cannot reserve event seqs in history");
      }
      this.#reserved = reserved;
    }
    this.#lastSeq = seq;
    const event = { seq, ...input } as ApiEvent;
    this.#push(event);
    if (!this.#closed) this.#pendingEvents.push(event);
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log.error({ err: error, seq }, "history listener threw");
      }
    }
    return event;
  }

  subscribe(listener: (event: ApiEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  replay(afterSeq: number, limit: number): ReplayResult {
    if (afterSeq > this.#lastSeq) return { ok: false, reason: "unknown_seq" };
    if (afterSeq === this.#lastSeq) return { ok: true, events: [] };
    const ringOldest = this.#ringCount === 0 ? this.#lastSeq + 1 : this.#at(0).seq;
    const fromRing: ApiEvent[] = [];
    for (let i = 0; i < this.#ringCount; i++) {
      const event = this.#at(i);
      if (event.seq > afterSeq) fromRing.push(event);
    }
    if (afterSeq + 1 >= ringOldest) {
      return fromRing.length > limit
        ? { ok: false, reason: "replay_limit" }
        : { ok: true, events: fromRing };
    }
    // Older than the ring: the database holds them, unless writes are failing and the ring
    // no longer covers what is unwritten.
    const firstPending = this.#pendingEvents[0];
    if (firstPending !== undefined && firstPending.seq < ringOldest) {
      return { ok: false, reason: "history_unavailable" };
    }
    const stored = this.#db.queryEvents({
      afterSeq,
      beforeSeq: ringOldest,
      order: "asc",
      limit: limit + 1,
    });
    if (stored.length + fromRing.length > limit) return { ok: false, reason: "replay_limit" };
    return { ok: true, events: [...stored, ...fromRing] };
  }

  query(filter: EventFilter): ApiEvent[] {
    const ringOldest = this.#ringCount === 0 ? this.#lastSeq + 1 : this.#at(0).seq;
    const beforeRing = {
      ...filter,
      beforeSeq: Math.min(filter.beforeSeq ?? Number.MAX_SAFE_INTEGER, ringOldest),
    };
    if (filter.order === "asc") {
      const out = this.#db.queryEvents(beforeRing);
      for (let i = 0; i < this.#ringCount && out.length < filter.limit; i++) {
        const event = this.#at(i);
        if (matchesEventFilter(event, filter)) out.push(event);
      }
      return out;
    }
    const out: ApiEvent[] = [];
    for (let i = this.#ringCount - 1; i >= 0 && out.length < filter.limit; i--) {
      const event = this.#at(i);
      if (matchesEventFilter(event, filter)) out.push(event);
    }
    if (out.length < filter.limit) {
      out.push(...this.#db.queryEvents({ ...beforeRing, limit: filter.limit - out.length }));
    }
    return out;
  }

  addSample(sample: HistorySample): void {
    if (!this.#closed) this.#pendingSamples.push(sample);
  }

  readSamples(query: HistoryQuery): HistoryResponse {
    return this.#db.readSamples(query);
  }

  addWorkerSamples(batch: WorkerSampleBatch): void {
    if (!this.#closed && batch.workerIds.length > 0) this.#pendingWorkerSamples.push(batch);
  }

  readWorkerSamples(workerId: string, query: WorkerHistoryQuery): WorkerHistoryResponse {
    return this.#db.readWorkerSamples(workerId, query);
  }

  knowsWorker(workerId: string): boolean {
    return (
      this.#db.hasWorkerSamples(workerId) ||
      this.#pendingWorkerSamples.some((b) => b.workerIds.includes(workerId)) ||
      this.query({ workerId, limit: 1 }).length > 0
    );
  }

  flush(): Promise<void> {
    if (
      this.#pendingEvents.length === 0 &&
      this.#pendingSamples.length === 0 &&
      this.#pendingWorkerSamples.length === 0
    ) {
      return this.#inFlight;
    }
    const events = this.#pendingEvents;
    const samples = this.#pendingSamples;
    const workerSamples = this.#pendingWorkerSamples;
    this.#pendingEvents = [];
    this.#pendingSamples = [];
    this.#pendingWorkerSamples = [];
    const failed = (error: unknown) => {
      if (!this.#failing) this.#log.error({ err: error }, "history write failed; will retry");
      this.#failing = true;
      if (this.#closed) return;
      // Back to the front of the queue, bounded: beyond the ring, the oldest unwritten events
      // are dropped (they stay readable from the ring until it turns over).
      this.#pendingEvents = [...events, ...this.#pendingEvents];
      this.#pendingSamples = [...samples, ...this.#pendingSamples];
      this.#pendingWorkerSamples = [...workerSamples, ...this.#pendingWorkerSamples];
      const extra = this.#pendingEvents.length - this.#ring.length;
      if (extra > 0) this.#pendingEvents.splice(0, extra);
      if (this.#pendingSamples.length > MAX_PENDING_SAMPLES) {
        this.#pendingSamples.splice(0, this.#pendingSamples.length - MAX_PENDING_SAMPLES);
      }
      if (this.#pendingWorkerSamples.length > MAX_PENDING_WORKER_BATCHES) {
        this.#pendingWorkerSamples.splice(
          0,
          this.#pendingWorkerSamples.length - MAX_PENDING_WORKER_BATCHES,
        );
      }
    };
    const worked = () => {
      if (this.#failing) this.#log.info({}, "history writes work again");
      this.#failing = false;
    };
    try {
      const written = this.#db.write(events, samples, workerSamples);
      if (written instanceof Promise) {
        const done = written.then(worked, failed);
        this.#inFlight = Promise.all([this.#inFlight, done]).then(() => undefined);
      } else worked();
    } catch (error) {
      failed(error);
    }
    return this.#inFlight;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const flushed = this.flush();
      this.#closed = true;
      if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
      this.#listeners.clear();
      await flushed;
      await this.#db.close();
    })();
    return this.#closing;
  }

  #push(event: ApiEvent): void {
    const capacity = this.#ring.length;
    if (this.#ringCount < capacity) {
      this.#ring[(this.#ringStart + this.#ringCount) % capacity] = event;
      this.#ringCount++;
    } else {
      this.#ring[this.#ringStart] = event;
      this.#ringStart = (this.#ringStart + 1) % capacity;
    }
  }

  /** The i-th oldest event in the ring. */
  #at(i: number): ApiEvent {
    return this.#ring[(this.#ringStart + i) % this.#ring.length] as ApiEvent;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(
      () => {
        void this.flush();
        if (this.#clock.now() - this.#lastCompactMs >= COMPACT_INTERVAL_MS) this.#compact();
        this.#schedule();
      },
      this.#flushIntervalMs,
      { unref: true },
    );
  }

  #compact(now = false): void {
    this.#lastCompactMs = this.#clock.now();
    try {
      this.#db.compact(this.#lastCompactMs, this.#retention, now);
    } catch (error) {
      this.#log.error({ err: error }, "history retention failed");
    }
  }
}
