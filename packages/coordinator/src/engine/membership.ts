import { Code, type ResourceUsage, RuntimeError, type WorkerState } from "@strata/runtime-core";
import type { StoredWorker, StoreOp } from "../store/coordinator-store.js";
import type { StateView } from "./draft.js";
import type { RegisterWorkerInput } from "./types.js";

/**
 * A worker as the engine keeps it: its stored fields (membership, written through the commit
 * pipeline; liveness, flushed in batches) plus volatile fields that only live in memory.
 */
export interface WorkerEntry extends StoredWorker {
  /** When the failure detector declares the worker dead (clock ms). */
  deadlineMs: number;
  resources: ResourceUsage | undefined;
  /** Commands for its next heartbeat, each delivered once. */
  commands: string[];
  /**
   * The membership version this worker was last told about. A heartbeat delivers
   * `membership_changed` when the current version is newer: O(1) per membership change instead
   * of one queued command per live worker.
   */
  notifiedVersion: number;
  /** Samples it reported consumed since it registered. */
  samplesConsumed: number;
}

/** Why a worker stops being a member. */
export type RetireReason = "dead" | "left";

/**
 * Membership and ranks: who is alive, which rank each live worker holds, the membership version.
 * Memory changes only through {@link Membership.apply} of committed store ops; the `plan*`
 * methods compute those ops against a {@link StateView} and change nothing.
 *
 * Rank policy: ranks are unique among live workers and never change while a worker lives. A new
 * worker takes the lowest free rank; a returning worker (same id after death or departure) gets
 * its previous rank back if no live worker holds it. Ranks are not compacted when a worker leaves
 * (renumbering survivors is the instability TorchElastic users complain about).
 */
export class Membership {
  /** Every known worker: live ones and retired (dead/left) ones kept for rank return. */
  readonly #workers = new Map<string, WorkerEntry>();
  /** Retired worker ids, oldest retirement first (for pruning). */
  readonly #retired = new Map<string, true>();
  /** Live worker by rank. */
  readonly #byRank: (WorkerEntry | undefined)[] = [];
  #liveCount = 0;
  #lowestFreeRankHint = 0;
  #version = 0;
  #lastDepartureVersion = 0;
  #sortedLiveCache: readonly string[] | undefined;

  constructor(
    private readonly heartbeatTimeoutMs: number,
    private readonly maxWorkers: number,
    private readonly maxRetiredWorkers: number,
  ) {}

  /**
   * Loads stored workers at start. Live ones get `graceUntilMs` to heartbeat again (a restart is
   * not their fault); returns fix-up ops for rank conflicts in the stored state (should not
   * happen), to be committed before serving.
   */
  restore(workers: readonly StoredWorker[], version: number, graceUntilMs: number): StoreOp[] {
    this.#version = version;
    const alive = workers.filter((w) => w.status === "alive").sort((a, b) => a.rank - b.rank);
    const retired = workers
      .filter((w) => w.status !== "alive")
      .sort((a, b) => a.lastHeartbeatMs - b.lastHeartbeatMs);
    const fixups: StoreOp[] = [];
    for (const stored of alive) {
      const entry = newEntry(stored, graceUntilMs);
      if (this.#byRank[entry.rank] !== undefined) {
        entry.rank = this.#freeRankFrom(0);
        fixups.push({ t: "put_worker", worker: toStored(entry) });
      }
      this.#workers.set(entry.workerId, entry);
      this.#occupy(entry);
    }
    for (const stored of retired) {
      this.#workers.set(stored.workerId, newEntry(stored, 0));
      this.#retired.set(stored.workerId, true);
    }
    return fixups;
  }

  // ------------------------------------------------------------------ committed state (reads)

  entry(workerId: string): WorkerEntry | undefined {
    return this.#workers.get(workerId);
  }

  /** The live entry, or undefined when unknown, dead or departed. */
  live(workerId: string): WorkerEntry | undefined {
    const w = this.#workers.get(workerId);
    return w?.status === "alive" ? w : undefined;
  }

  get liveCount(): number {
    return this.#liveCount;
  }

  get version(): number {
    return this.#version;
  }

  get lastDepartureVersion(): number {
    return this.#lastDepartureVersion;
  }

  get retiredCount(): number {
    return this.#retired.size;
  }

  isRankHeld(rank: number): boolean {
    return this.#byRank[rank] !== undefined;
  }

  lowestFreeRank(): number {
    return this.#freeRankFrom(this.#lowestFreeRankHint);
  }

  /** Live workers by rank. */
  *liveEntries(): Iterable<WorkerEntry> {
    for (const w of this.#byRank) if (w !== undefined) yield w;
  }

  /** Retired workers, oldest retirement first. */
  *retiredEntries(): Iterable<WorkerEntry> {
    for (const id of this.#retired.keys()) {
      const w = this.#workers.get(id);
      if (w !== undefined) yield w;
    }
  }

  *liveIds(): Iterable<string> {
    for (const w of this.#byRank) if (w !== undefined) yield w.workerId;
  }

  /** Live worker ids sorted (UTF-16 order), cached until membership changes. */
  sortedLiveIds(): readonly string[] {
    this.#sortedLiveCache ??= Object.freeze([...this.liveIds()].sort());
    return this.#sortedLiveCache;
  }

  liveRanks(): number[] {
    const ranks: number[] = [];
    for (const w of this.#byRank) if (w !== undefined) ranks.push(w.rank);
    return ranks;
  }

  // ------------------------------------------------------------------ planning

  /**
   * Plans a registration. A worker already alive registers again idempotently (same rank and
   * incarnation, no membership change; it starts over in `initializing`). Otherwise it joins:
   * RESOURCE_EXHAUSTED at `maxWorkers`.
   */
  planRegister(
    view: StateView,
    input: RegisterWorkerInput,
    nowMs: number,
  ): { ops: StoreOp[]; joined: boolean; returning: boolean; from: WorkerState | undefined } {
    const existing = view.worker(input.workerId);
    const fields = {
      hostname: input.hostname,
      port: input.port,
      gpuCount: input.gpuCount,
      memoryBytes: input.memoryBytes,
      metadata: { ...input.metadata },
      state: "initializing" as WorkerState,
      lastHeartbeatMs: nowMs,
    };
    if (existing?.status === "alive") {
      return {
        ops: [{ t: "put_worker", worker: { ...existing, ...fields } }],
        joined: false,
        returning: false,
        from: this.#workers.get(input.workerId)?.state ?? existing.state,
      };
    }
    if (view.liveCount() >= this.maxWorkers) {
      throw new RuntimeError(
        `too many live workers (${this.maxWorkers}); worker "${input.workerId}" was not registered`,
        { code: Code.ResourceExhausted, details: { maxWorkers: this.maxWorkers } },
      );
    }
    const rank =
      existing !== undefined && !view.isRankHeld(existing.rank)
        ? existing.rank
        : view.lowestFreeRank();
    const worker: StoredWorker = {
      workerId: input.workerId,
      ...fields,
      rank,
      incarnation: (existing?.incarnation ?? 0) + 1,
      status: "alive",
      registeredAtMs: nowMs,
      currentStep: 0,
      currentEpoch: 0,
      currentTask: "",
    };
    const version = view.membershipVersion() + 1;
    return {
      ops: [
        { t: "put_worker", worker },
        { t: "set_membership_version", version, reason: "joined" },
      ],
      joined: true,
      returning: existing !== undefined,
      from: undefined,
    };
  }

  /**
   * Plans taking a live worker out of the membership (death or departure): its record turns
   * `dead`/`left`, the membership version grows, and the oldest retired records beyond
   * `maxRetiredWorkers` are forgotten. Throws NOT_FOUND when it is not live in `view`.
   */
  planRetire(view: StateView, workerId: string, reason: RetireReason): StoreOp[] {
    const w = view.worker(workerId);
    if (w?.status !== "alive") {
      throw new RuntimeError(`worker "${workerId}" is not registered`, {
        code: Code.NotFound,
        details: { workerId },
      });
    }
    const live = this.#workers.get(workerId);
    const ops: StoreOp[] = [
      {
        t: "put_worker",
        worker: {
          ...w,
          // The newest liveness we have, so the record shows when it was last heard from.
          ...(live === undefined ? {} : liveness(live)),
          status: reason,
          state: "dead",
        },
      },
      { t: "set_membership_version", version: view.membershipVersion() + 1, reason },
    ];
    // Forget the oldest retired records beyond the limit (this one becomes the newest).
    let overflow = this.#retired.size + 1 - this.maxRetiredWorkers;
    for (const id of this.#retired.keys()) {
      if (overflow <= 0) break;
      const stored = view.worker(id);
      if (stored === undefined || stored.status === "alive") continue;
      ops.push({ t: "delete_worker", workerId: id });
      overflow--;
    }
    return ops;
  }

  // ------------------------------------------------------------------ applying committed ops

  /** Applies a committed membership op to memory. Other ops are ignored. */
  apply(op: StoreOp): void {
    switch (op.t) {
      case "put_worker":
        this.#put(op.worker);
        return;
      case "delete_worker": {
        const w = this.#workers.get(op.workerId);
        if (w === undefined) return;
        if (w.status === "alive") this.#vacate(w);
        this.#workers.delete(op.workerId);
        this.#retired.delete(op.workerId);
        return;
      }
      case "set_membership_version":
        this.#version = op.version;
        if (op.reason === "left" || op.reason === "dead") this.#lastDepartureVersion = op.version;
        return;
      default:
        return;
    }
  }

  #put(stored: StoredWorker): void {
    const w = this.#workers.get(stored.workerId);
    if (w === undefined) {
      const entry = newEntry(stored, stored.lastHeartbeatMs + this.heartbeatTimeoutMs);
      this.#workers.set(entry.workerId, entry);
      if (entry.status === "alive") this.#occupy(entry);
      else this.#retired.set(entry.workerId, true);
      return;
    }
    const wasLive = w.status === "alive";
    const isLive = stored.status === "alive";
    const newIncarnation = stored.incarnation !== w.incarnation;
    if (wasLive && (!isLive || stored.rank !== w.rank)) this.#vacate(w);
    Object.assign(w, stored, { metadata: { ...stored.metadata } });
    if (isLive) {
      w.deadlineMs = stored.lastHeartbeatMs + this.heartbeatTimeoutMs;
      if (newIncarnation) {
        w.resources = undefined;
        w.commands = [];
        w.notifiedVersion = 0;
        w.samplesConsumed = 0;
      }
      if (!wasLive || this.#byRank[w.rank] !== w) this.#occupy(w);
      this.#retired.delete(w.workerId);
    } else {
      w.commands = [];
      // Re-inserted so the retired map stays in retirement order.
      this.#retired.delete(w.workerId);
      this.#retired.set(w.workerId, true);
    }
  }

  #occupy(entry: WorkerEntry): void {
    while (this.#byRank.length <= entry.rank) this.#byRank.push(undefined);
    this.#byRank[entry.rank] = entry;
    this.#liveCount++;
    this.#sortedLiveCache = undefined;
  }

  #vacate(entry: WorkerEntry): void {
    if (this.#byRank[entry.rank] !== entry) return;
    this.#byRank[entry.rank] = undefined;
    this.#liveCount--;
    this.#sortedLiveCache = undefined;
    if (entry.rank < this.#lowestFreeRankHint) this.#lowestFreeRankHint = entry.rank;
    while (this.#byRank.length > 0 && this.#byRank[this.#byRank.length - 1] === undefined) {
      this.#byRank.pop();
    }
  }

  #freeRankFrom(start: number): number {
    let r = start;
    while (r < this.#byRank.length && this.#byRank[r] !== undefined) r++;
    this.#lowestFreeRankHint = r;
    return r;
  }
}

/** The liveness fields of a worker (what the batched flush writes). */
function liveness(w: WorkerEntry) {
  return {
    state: w.state,
    lastHeartbeatMs: w.lastHeartbeatMs,
    currentStep: w.currentStep,
    currentEpoch: w.currentEpoch,
    currentTask: w.currentTask,
  };
}

function newEntry(s: StoredWorker, deadlineMs: number): WorkerEntry {
  return {
    ...s,
    metadata: { ...s.metadata },
    deadlineMs,
    resources: undefined,
    commands: [],
    notifiedVersion: 0,
    samplesConsumed: 0,
  };
}

/** The stored shape of an entry. */
export function toStored(w: WorkerEntry): StoredWorker {
  return {
    workerId: w.workerId,
    hostname: w.hostname,
    port: w.port,
    gpuCount: w.gpuCount,
    memoryBytes: w.memoryBytes,
    metadata: w.metadata,
    rank: w.rank,
    incarnation: w.incarnation,
    status: w.status,
    state: w.state,
    registeredAtMs: w.registeredAtMs,
    lastHeartbeatMs: w.lastHeartbeatMs,
    currentStep: w.currentStep,
    currentEpoch: w.currentEpoch,
    currentTask: w.currentTask,
  };
}
