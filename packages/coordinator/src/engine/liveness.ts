import {
  type Clock,
  Code,
  isLiveWorkerState,
  type Logger,
  RuntimeError,
  type TimerHandle,
  transitionWorker,
} from "@strata/runtime-core";
import type { StoreOp } from "../store/coordinator-store.js";
import type { EventFeed } from "./event-feed.js";
import type { Membership, WorkerEntry } from "./membership.js";
import type { EngineCounters, HeartbeatInput, HeartbeatResult } from "./types.js";

/** The command a heartbeat delivers when the membership changed since the worker last heard. */
export const MEMBERSHIP_CHANGED_COMMAND = "membership_changed";

/** Options of {@link Liveness}. */
export interface LivenessOptions {
  clock: Clock;
  logger: Logger;
  events: EventFeed;
  counters: EngineCounters;
  membership: Membership;
  heartbeatTimeoutMs: number;
  sweepIntervalMs: number;
  livenessFlushIntervalMs: number;
  maxPendingCommands: number;
  /** Whether liveness is written to the store at all (etcd keeps it in the leader's memory). */
  persistLiveness: boolean;
  /** Declares a silent worker dead (a mutation through the commit pipeline). */
  declareDead: (worker: WorkerEntry, silentForMs: number) => Promise<void>;
  /** Writes a batch of liveness ops (a mutation through the commit pipeline). */
  writeLiveness: (ops: StoreOp[]) => Promise<void>;
  /** Runs after every sweep (re-plans stale shard plans). */
  afterSweep: () => void;
}

/**
 * Heartbeats and the failure detector. A heartbeat is the hot path: synchronous, no store write
 * (liveness is flushed in batches every `livenessFlushIntervalMs`), no allocation beyond its
 * answer. The sweep declares workers dead whose deadline passed; a late sweep (a process stall)
 * first extends every deadline by its lateness, so a coordinator never punishes workers for its
 * own pause.
 */
export class Liveness {
  readonly #o: LivenessOptions;
  readonly #dirty = new Set<WorkerEntry>();
  /** Workers whose death is being stored, so a slow commit is not planned twice. */
  readonly #dying = new Set<string>();
  #running = false;
  #sweepTimer: TimerHandle | undefined;
  #sweepDueMs = 0;
  #flushTimer: TimerHandle | undefined;

  constructor(options: LivenessOptions) {
    this.#o = options;
  }

  start(): void {
    this.#running = true;
    this.#scheduleSweep();
    this.#scheduleFlush();
  }

  stop(): void {
    this.#running = false;
    if (this.#sweepTimer !== undefined) this.#o.clock.clearTimeout(this.#sweepTimer);
    if (this.#flushTimer !== undefined) this.#o.clock.clearTimeout(this.#flushTimer);
  }

  /** Gives every live worker until `untilMs` before it can be declared dead (a new leader's grace). */
  grantGrace(untilMs: number): void {
    for (const w of this.#o.membership.liveEntries()) {
      if (w.deadlineMs < untilMs) w.deadlineMs = untilMs;
    }
  }

  heartbeat(input: HeartbeatInput): HeartbeatResult {
    const { membership } = this.#o;
    const entry = membership.live(input.workerId);
    if (entry === undefined) {
      throw new RuntimeError(
        `worker "${input.workerId}" is not registered (unknown, or declared dead after missing heartbeats); register again`,
        { code: Code.NotFound, details: { workerId: input.workerId } },
      );
    }
    const to = input.state;
    if (to !== undefined && to !== entry.state) {
      if (!isLiveWorkerState(to)) {
        throw new RuntimeError(
          `a heartbeat cannot set state "${to}"; call DeregisterWorker to leave`,
          { code: Code.InvalidArgument, details: { workerId: input.workerId, state: to } },
        );
      }
      const from = entry.state;
      entry.state = transitionWorker(entry.workerId, from, to);
      this.#o.events.emit({ type: "worker_state_changed", workerId: entry.workerId, from, to });
      this.#o.logger.info({ workerId: entry.workerId, from, to }, "worker state changed");
    }
    const now = this.#o.clock.now();
    entry.lastHeartbeatMs = now;
    entry.deadlineMs = now + this.#o.heartbeatTimeoutMs;
    if (input.step !== undefined) entry.currentStep = input.step;
    if (input.epoch !== undefined) entry.currentEpoch = input.epoch;
    if (input.task !== undefined) entry.currentTask = input.task;
    if (input.resources !== undefined) entry.resources = input.resources;
    if (this.#o.persistLiveness) this.#dirty.add(entry);
    this.#o.counters.heartbeats++;
    let pendingCommands: string[] = [];
    if (entry.commands.length > 0) {
      pendingCommands = entry.commands;
      entry.commands = [];
    }
    if (entry.notifiedVersion < membership.version) {
      entry.notifiedVersion = membership.version;
      pendingCommands =
        pendingCommands.length === 0
          ? [MEMBERSHIP_CHANGED_COMMAND]
          : [MEMBERSHIP_CHANGED_COMMAND, ...pendingCommands];
    }
    return {
      serverTimeMs: now,
      pendingCommands,
      membershipVersion: membership.version,
      rank: entry.rank,
      worldSize: membership.liveCount,
    };
  }

  /** Queues a command for a live worker's next heartbeat (deduplicated, bounded). */
  queueCommand(workerId: string, command: string): void {
    const entry = this.#o.membership.live(workerId);
    if (entry === undefined) {
      throw new RuntimeError(`worker "${workerId}" is not registered`, {
        code: Code.NotFound,
        details: { workerId },
      });
    }
    if (entry.commands.includes(command)) return;
    entry.commands.push(command);
    if (entry.commands.length > this.#o.maxPendingCommands) entry.commands.shift();
    this.#o.logger.info({ workerId, command }, "command queued");
  }

  /** Forgets a retired worker's unflushed liveness (its retirement record carries it). */
  forget(entry: WorkerEntry): void {
    this.#dirty.delete(entry);
    this.#dying.delete(entry.workerId);
  }

  #scheduleSweep(): void {
    if (!this.#running) return;
    this.#sweepDueMs = this.#o.clock.now() + this.#o.sweepIntervalMs;
    this.#sweepTimer = this.#o.clock.setTimeout(() => this.#sweep(), this.#o.sweepIntervalMs, {
      unref: true,
    });
  }

  /** The failure detector: declares silent workers dead, then refreshes stale shard plans. */
  #sweep(): void {
    if (!this.#running) return;
    const now = this.#o.clock.now();
    // If this process stalled (a long GC, a blocked event loop, a suspended VM), the sweep fires
    // late and heartbeats that arrived meanwhile are still queued behind it: timers run before
    // I/O. Declaring workers dead now would punish them for our stall, so the time the sweep ran
    // late is added to every deadline first; a worker that is really gone is caught later.
    const lateMs = now - this.#sweepDueMs;
    if (this.#sweepDueMs > 0 && lateMs > this.#o.sweepIntervalMs) {
      for (const w of this.#o.membership.liveEntries()) w.deadlineMs += lateMs;
      this.#o.counters.sweepStallsForgiven++;
      this.#o.logger.warn(
        { lateMs },
        "failure detector ran late (process stall); extending worker deadlines",
      );
    }
    for (const w of this.#o.membership.liveEntries()) {
      if (w.deadlineMs > now || this.#dying.has(w.workerId)) continue;
      this.#dying.add(w.workerId);
      const silentForMs = now - w.lastHeartbeatMs;
      this.#o.declareDead(w, silentForMs).then(
        () => this.#dying.delete(w.workerId),
        () => this.#dying.delete(w.workerId),
      );
    }
    this.#o.afterSweep();
    this.#scheduleSweep();
  }

  #scheduleFlush(): void {
    if (!this.#running || !this.#o.persistLiveness) return;
    this.#flushTimer = this.#o.clock.setTimeout(
      () => {
        this.flush()
          .catch(() => undefined)
          .finally(() => this.#scheduleFlush());
      },
      this.#o.livenessFlushIntervalMs,
      { unref: true },
    );
  }

  /**
   * Writes the batched liveness of every worker that heartbeated since the last flush (one
   * commit). On failure the workers stay dirty for the next flush.
   */
  async flush(): Promise<void> {
    if (this.#dirty.size === 0) return;
    const entries = [...this.#dirty];
    this.#dirty.clear();
    const ops: StoreOp[] = [];
    for (const w of entries) {
      if (w.status !== "alive") continue;
      ops.push({
        t: "put_liveness",
        workerId: w.workerId,
        state: w.state,
        lastHeartbeatMs: w.lastHeartbeatMs,
        currentStep: w.currentStep,
        currentEpoch: w.currentEpoch,
        currentTask: w.currentTask,
      });
    }
    this.#o.counters.storeFlushes++;
    try {
      await this.#o.writeLiveness(ops);
    } catch (error) {
      for (const w of entries) if (w.status === "alive") this.#dirty.add(w);
      throw error;
    }
  }
}
