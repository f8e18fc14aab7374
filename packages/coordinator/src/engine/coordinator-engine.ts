import {
  type BarrierFailurePolicy,
  type CheckpointRecord,
  type Clock,
  Code,
  createSilentLogger,
  type DatasetSpec,
  isLiveWorkerState,
  type Logger,
  type ResourceUsage,
  RuntimeError,
  systemClock,
  type TimerHandle,
  transitionWorker,
  type WorkerState,
} from "@strata/runtime-core";
import type { CoordinatorStore, StoredWorker, StoreOp } from "../store/coordinator-store.js";
import { BarrierHub } from "./barrier-hub.js";
import { CheckpointLedger } from "./checkpoint-ledger.js";
import { DatasetHub, type ShardMapPage } from "./dataset-hub.js";
import { EventFeed } from "./event-feed.js";
import type { CoordinatorEvent } from "./events.js";
import type {
  BarrierResult,
  CoordinatorEngine,
  CoordinatorEngineOptions,
  DeregisterWorkerResult,
  EngineCounters,
  EngineShardAssignment,
  EngineSnapshot,
  EpochPositionResult,
  HeartbeatInput,
  HeartbeatResult,
  LatestCheckpointInput,
  LatestCheckpointResult,
  NotifyCheckpointInput,
  NotifyCheckpointResult,
  RegisterWorkerInput,
  RegisterWorkerResult,
  RestoreProgressInput,
  RestoreProgressResult,
  ShardAssignmentsResult,
  ShardProgressInput,
  ShardProgressResult,
  ShardRequestInput,
  WaitBarrierInput,
  WorkerView,
} from "./types.js";

/** The job a checkpoint belongs to when the worker names none. */
export const DEFAULT_JOB_ID = "default";

/** The command queued for every live worker when membership changes. */
export const MEMBERSHIP_CHANGED_COMMAND = "membership_changed";

interface WorkerEntry {
  workerId: string;
  hostname: string;
  port: number;
  gpuCount: number;
  memoryBytes: number;
  metadata: Readonly<Record<string, string>>;
  rank: number;
  incarnation: number;
  status: StoredWorker["status"];
  state: WorkerState;
  registeredAtMs: number;
  lastHeartbeatMs: number;
  /** When the failure detector declares the worker dead. */
  deadlineMs: number;
  currentStep: number;
  currentEpoch: number;
  currentTask: string;
  resources: ResourceUsage | undefined;
  commands: string[];
  /**
   * The membership version this worker was last told about. A heartbeat delivers
   * `membership_changed` when the current version is newer: O(1) per membership change instead
   * of one queued command per live worker.
   */
  notifiedVersion: number;
  samplesConsumed: number;
}

interface Settings {
  heartbeatTimeoutMs: number;
  heartbeatIntervalMs: number;
  restartGraceMs: number;
  sweepIntervalMs: number;
  livenessFlushIntervalMs: number;
  barrierTimeoutMs: number;
  barrierFailurePolicy: BarrierFailurePolicy;
  maxWorkers: number;
  maxRetiredWorkers: number;
  maxDatasets: number;
  maxShardsPerDataset: number;
  maxBarriers: number;
  maxCheckpointStepsPerJob: number;
  maxJobs: number;
  maxProgressEpochsPerDataset: number;
  maxRecentEvents: number;
  maxPendingCommands: number;
  minReplanIntervalMs: number;
}

/**
 * Creates the coordinator engine: membership with stable ranks, failure detection, barriers,
 * shard plans with exactly-once epoch coverage, and checkpoint records, over a
 * {@link CoordinatorStore}. Call `start()` before use and `close()` at the end.
 *
 * @throws RuntimeError(InvalidArgument) naming the option when a number is out of range.
 */
export function createCoordinatorEngine(options: CoordinatorEngineOptions): CoordinatorEngine {
  return new Engine(options);
}

class Engine implements CoordinatorEngine {
  readonly #store: CoordinatorStore;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #s: Settings;
  readonly #workerConfig: Readonly<Record<string, string>>;
  readonly #events: EventFeed;
  readonly #counters: EngineCounters = {
    registrations: 0,
    deregistrations: 0,
    heartbeats: 0,
    workersDeclaredDead: 0,
    sweepStallsForgiven: 0,
    membershipChanges: 0,
    barriersReleased: 0,
    barriersAborted: 0,
    barriersTimedOut: 0,
    shardsMoved: 0,
    checkpointsRecorded: 0,
    checkpointStepsCompleted: 0,
    storeFlushes: 0,
    storeErrors: 0,
  };
  readonly #barriers: BarrierHub;
  readonly #datasets: DatasetHub;
  readonly #checkpoints: CheckpointLedger;

  /** Every known worker: live ones and retired (dead/left) ones kept for rank return. */
  readonly #workers = new Map<string, WorkerEntry>();
  /** Retired worker ids, oldest retirement first (for pruning). */
  readonly #retired = new Map<string, true>();
  /** Live worker by rank. */
  readonly #byRank: (WorkerEntry | undefined)[] = [];
  #liveCount = 0;
  #lowestFreeRankHint = 0;
  #membershipVersion = 0;
  #sortedLiveCache: readonly string[] | undefined;
  readonly #dirtyLiveness = new Set<WorkerEntry>();
  #plansDirty = false;
  /** Auxiliary records by kind, then id (JSON text). */
  readonly #records = new Map<string, Map<string, string>>();
  #lastDepartureVersion = 0;

  #startPromise: Promise<void> | undefined;
  #closePromise: Promise<void> | undefined;
  #running = false;
  #startedAtMs = 0;
  #sweepTimer: TimerHandle | undefined;
  /** When the pending sweep should fire (clock ms); 0 before the first one is scheduled. */
  #sweepDueMs = 0;
  #flushTimer: TimerHandle | undefined;

  constructor(options: CoordinatorEngineOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? createSilentLogger()).child({ component: "coordinator-engine" });
    const heartbeatTimeoutMs = positive("heartbeatTimeoutMs", options.heartbeatTimeoutMs, 15_000);
    this.#s = {
      heartbeatTimeoutMs,
      heartbeatIntervalMs: positive("heartbeatIntervalMs", options.heartbeatIntervalMs, 5_000),
      restartGraceMs: positive("restartGraceMs", options.restartGraceMs, heartbeatTimeoutMs),
      sweepIntervalMs: positive(
        "sweepIntervalMs",
        options.sweepIntervalMs,
        Math.max(1, Math.min(1_000, Math.floor(heartbeatTimeoutMs / 4))),
      ),
      livenessFlushIntervalMs: positive(
        "livenessFlushIntervalMs",
        options.livenessFlushIntervalMs,
        2_000,
      ),
      barrierTimeoutMs: positive("barrierTimeoutMs", options.barrierTimeoutMs, 300_000),
      barrierFailurePolicy: policy(options.barrierFailurePolicy),
      maxWorkers: positive("maxWorkers", options.maxWorkers, 10_000),
      maxRetiredWorkers: positive("maxRetiredWorkers", options.maxRetiredWorkers, 10_000),
      maxDatasets: positive("maxDatasets", options.maxDatasets, 1_000),
      maxShardsPerDataset: positive("maxShardsPerDataset", options.maxShardsPerDataset, 1_000_000),
      maxBarriers: positive("maxBarriers", options.maxBarriers, 10_000),
      maxCheckpointStepsPerJob: positive(
        "maxCheckpointStepsPerJob",
        options.maxCheckpointStepsPerJob,
        100,
      ),
      maxJobs: positive("maxJobs", options.maxJobs, 1_000),
      maxProgressEpochsPerDataset: positive(
        "maxProgressEpochsPerDataset",
        options.maxProgressEpochsPerDataset,
        4,
      ),
      maxRecentEvents: positive("maxRecentEvents", options.maxRecentEvents, 1_000),
      maxPendingCommands: positive("maxPendingCommands", options.maxPendingCommands, 16),
      minReplanIntervalMs: nonNegative("minReplanIntervalMs", options.minReplanIntervalMs, 1_000),
    };
    if (
      options.shardEpsilon !== undefined &&
      !(Number.isFinite(options.shardEpsilon) && options.shardEpsilon >= 0)
    ) {
      throw invalidOption("shardEpsilon", "must be a finite number ≥ 0", options.shardEpsilon);
    }
    this.#workerConfig = { ...(options.workerConfig ?? {}) };
    this.#events = new EventFeed(
      this.#s.maxRecentEvents,
      () => this.#clock.now(),
      this.#log,
      positive("firstEventSeq", options.firstEventSeq, 1),
    );
    const membership = {
      isLive: (id: string) => this.#workers.get(id)?.status === "alive",
      liveCount: () => this.#liveCount,
      liveWorkerIds: () => this.#liveIds(),
      sortedLiveWorkerIds: () => this.#sortedLive(),
      version: () => this.#membershipVersion,
      lastDepartureVersion: () => this.#lastDepartureVersion,
    };
    this.#barriers = new BarrierHub({
      clock: this.#clock,
      logger: this.#log,
      events: this.#events,
      counters: this.#counters,
      membership,
      policy: this.#s.barrierFailurePolicy,
      defaultTimeoutMs: this.#s.barrierTimeoutMs,
      maxBarriers: this.#s.maxBarriers,
    });
    this.#datasets = new DatasetHub({
      logger: this.#log,
      events: this.#events,
      counters: this.#counters,
      membership,
      maxDatasets: this.#s.maxDatasets,
      maxShardsPerDataset: this.#s.maxShardsPerDataset,
      maxEpochsPerDataset: this.#s.maxProgressEpochsPerDataset,
      epsilon: options.shardEpsilon,
      now: () => this.#clock.now(),
      minReplanIntervalMs: this.#s.minReplanIntervalMs,
      persistInBackground: (ops) => {
        this.#persist(ops).catch(() => undefined);
      },
    });
    this.#checkpoints = new CheckpointLedger(this.#s.maxCheckpointStepsPerJob, this.#s.maxJobs);
  }

  get ready(): boolean {
    return this.#running;
  }

  // ---------------------------------------------------------------- life cycle

  start(): Promise<void> {
    if (this.#closePromise !== undefined) {
      return Promise.reject(unavailable("the coordinator engine is closed"));
    }
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  async #start(): Promise<void> {
    const state = await this.#store.load();
    const now = this.#clock.now();
    this.#startedAtMs = now;
    this.#membershipVersion = state.membershipVersion;
    const alive = state.workers.filter((w) => w.status === "alive").sort((a, b) => a.rank - b.rank);
    const retired = state.workers
      .filter((w) => w.status !== "alive")
      .sort((a, b) => a.lastHeartbeatMs - b.lastHeartbeatMs);
    const fixups: StoreOp[] = [];
    for (const stored of alive) {
      const entry = fromStored(stored, now + this.#s.restartGraceMs);
      if (this.#byRank[entry.rank] !== undefined) {
        // Should not happen; keep both workers by moving the second one.
        const rank = this.#lowestFreeRank();
        this.#log.warn(
          { workerId: entry.workerId, from: entry.rank, to: rank },
          "rank conflict in stored state",
        );
        entry.rank = rank;
        fixups.push({ t: "put_worker", worker: toStored(entry) });
      }
      this.#workers.set(entry.workerId, entry);
      this.#occupyRank(entry);
    }
    for (const stored of retired) {
      this.#workers.set(stored.workerId, fromStored(stored, 0));
      this.#retired.set(stored.workerId, true);
    }
    this.#datasets.restore(state.datasets, state.shardProgress, state.shardPlans);
    this.#checkpoints.restore(state.checkpointSteps, state.checkpoints);
    for (const r of state.records ?? []) this.#recordsOf(r.kind).set(r.id, r.json);
    if (fixups.length > 0) await this.#store.apply(fixups);
    this.#running = true;
    this.#scheduleSweep();
    this.#scheduleFlush();
    this.#log.info(
      {
        store: this.#store.kind,
        membershipVersion: this.#membershipVersion,
        liveWorkers: this.#liveCount,
        retiredWorkers: this.#retired.size,
        datasets: this.#datasets.count,
        restartGraceMs: this.#s.restartGraceMs,
        barrierFailurePolicy: this.#s.barrierFailurePolicy,
      },
      "coordinator engine started",
    );
  }

  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    if (this.#startPromise !== undefined) await this.#startPromise.catch(() => undefined);
    this.#running = false;
    if (this.#sweepTimer !== undefined) this.#clock.clearTimeout(this.#sweepTimer);
    if (this.#flushTimer !== undefined) this.#clock.clearTimeout(this.#flushTimer);
    this.#barriers.closeAll();
    await this.#flushLiveness();
    this.#log.info({}, "coordinator engine closed");
  }

  // ---------------------------------------------------------------- membership

  async registerWorker(input: RegisterWorkerInput): Promise<RegisterWorkerResult> {
    this.#assertRunning();
    const now = this.#clock.now();
    const existing = this.#workers.get(input.workerId);
    if (existing !== undefined && existing.status === "alive") {
      // Idempotent: same rank, same incarnation, no membership change. The process may have
      // restarted, so it starts over in `initializing`.
      const from = existing.state;
      Object.assign(existing, {
        hostname: input.hostname,
        port: input.port,
        gpuCount: input.gpuCount,
        memoryBytes: input.memoryBytes,
        metadata: { ...input.metadata },
        state: "initializing" as WorkerState,
        lastHeartbeatMs: now,
        deadlineMs: now + this.#s.heartbeatTimeoutMs,
      });
      this.#counters.registrations++;
      if (from !== "initializing") {
        this.#events.emit({
          type: "worker_state_changed",
          workerId: existing.workerId,
          from,
          to: "initializing",
        });
      }
      this.#log.info(
        { workerId: existing.workerId, rank: existing.rank },
        "worker registered again while alive",
      );
      await this.#persist([{ t: "put_worker", worker: toStored(existing) }]);
      return this.#registerResult(existing);
    }
    if (this.#liveCount >= this.#s.maxWorkers) {
      throw new RuntimeError(
        `too many live workers (${this.#s.maxWorkers}); worker "${input.workerId}" was not registered`,
        { code: Code.ResourceExhausted, details: { maxWorkers: this.#s.maxWorkers } },
      );
    }
    const returning = existing !== undefined;
    const rank =
      existing !== undefined && this.#byRank[existing.rank] === undefined
        ? existing.rank
        : this.#lowestFreeRank();
    const entry: WorkerEntry = {
      workerId: input.workerId,
      hostname: input.hostname,
      port: input.port,
      gpuCount: input.gpuCount,
      memoryBytes: input.memoryBytes,
      metadata: { ...input.metadata },
      rank,
      incarnation: (existing?.incarnation ?? 0) + 1,
      status: "alive",
      state: "initializing",
      registeredAtMs: now,
      lastHeartbeatMs: now,
      deadlineMs: now + this.#s.heartbeatTimeoutMs,
      currentStep: 0,
      currentEpoch: 0,
      currentTask: "",
      resources: undefined,
      commands: [],
      notifiedVersion: 0,
      samplesConsumed: 0,
    };
    if (returning) this.#retired.delete(entry.workerId);
    this.#workers.set(entry.workerId, entry);
    this.#occupyRank(entry);
    this.#counters.registrations++;
    this.#events.emit({
      type: "worker_registered",
      workerId: entry.workerId,
      rank,
      incarnation: entry.incarnation,
      returning,
    });
    this.#log.info(
      {
        workerId: entry.workerId,
        rank,
        incarnation: entry.incarnation,
        returning,
        hostname: entry.hostname,
      },
      "worker registered",
    );
    const ops = this.#membershipChanged("joined", entry);
    ops.unshift({ t: "put_worker", worker: toStored(entry) });
    await this.#persist(ops);
    return this.#registerResult(entry);
  }

  async deregisterWorker(workerId: string): Promise<DeregisterWorkerResult> {
    this.#assertRunning();
    const entry = this.#workers.get(workerId);
    if (entry === undefined || entry.status !== "alive") {
      throw new RuntimeError(`worker "${workerId}" is not registered`, {
        code: Code.NotFound,
        details: { workerId },
      });
    }
    const ops = this.#retire(entry, "left");
    this.#counters.deregistrations++;
    this.#events.emit({ type: "worker_deregistered", workerId, rank: entry.rank });
    this.#log.info({ workerId, rank: entry.rank }, "worker deregistered");
    await this.#persist(ops);
    return {
      workerId,
      rank: entry.rank,
      worldSize: this.#liveCount,
      membershipVersion: this.#membershipVersion,
    };
  }

  heartbeat(input: HeartbeatInput): HeartbeatResult {
    this.#assertRunning();
    const entry = this.#workers.get(input.workerId);
    if (entry === undefined || entry.status !== "alive") {
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
      this.#events.emit({ type: "worker_state_changed", workerId: entry.workerId, from, to });
      this.#log.info({ workerId: entry.workerId, from, to }, "worker state changed");
    }
    const now = this.#clock.now();
    entry.lastHeartbeatMs = now;
    entry.deadlineMs = now + this.#s.heartbeatTimeoutMs;
    if (input.step !== undefined) entry.currentStep = input.step;
    if (input.epoch !== undefined) entry.currentEpoch = input.epoch;
    if (input.task !== undefined) entry.currentTask = input.task;
    if (input.resources !== undefined) entry.resources = input.resources;
    this.#dirtyLiveness.add(entry);
    this.#counters.heartbeats++;
    let pendingCommands: string[] = [];
    if (entry.commands.length > 0) {
      pendingCommands = entry.commands;
      entry.commands = [];
    }
    if (entry.notifiedVersion < this.#membershipVersion) {
      entry.notifiedVersion = this.#membershipVersion;
      pendingCommands =
        pendingCommands.length === 0
          ? [MEMBERSHIP_CHANGED_COMMAND]
          : [MEMBERSHIP_CHANGED_COMMAND, ...pendingCommands];
    }
    return {
      serverTimeMs: now,
      pendingCommands,
      membershipVersion: this.#membershipVersion,
      rank: entry.rank,
      worldSize: this.#liveCount,
    };
  }

  queueCommand(workerId: string, command: string): void {
    const entry = this.#workers.get(workerId);
    if (entry === undefined || entry.status !== "alive") {
      throw new RuntimeError(`worker "${workerId}" is not registered`, {
        code: Code.NotFound,
        details: { workerId },
      });
    }
    this.#enqueue(entry, command);
    this.#log.info({ workerId, command }, "command queued");
  }

  // ---------------------------------------------------------------- barriers

  waitBarrier(input: WaitBarrierInput): Promise<BarrierResult> {
    if (!this.#running) return Promise.reject(notRunning());
    return this.#barriers.wait(
      input.workerId,
      input.barrierId,
      input.step,
      input.timeoutMs,
      input.signal,
    );
  }

  // ---------------------------------------------------------------- datasets

  async registerDataset(spec: DatasetSpec): Promise<{ totalShards: number; created: boolean }> {
    this.#assertRunning();
    const { totalShards, created, ops } = this.#datasets.register(spec, this.#clock.now());
    await this.#persist(ops);
    return { totalShards, created };
  }

  getShardAssignments(input: ShardRequestInput): ShardAssignmentsResult {
    this.#assertRunning();
    this.#assertLive(input.workerId, `ask for shards of dataset "${input.datasetId}"`);
    const result = this.#datasets.assignments(input.workerId, input.datasetId, input.epoch);
    this.#noteServedPlan(input.workerId, result.membershipVersion);
    return {
      workerId: input.workerId,
      datasetId: input.datasetId,
      epoch: input.epoch,
      membershipVersion: result.membershipVersion,
      totalShards: result.totalShards,
      assignments: result.assignments,
    };
  }

  getDataShard(input: ShardRequestInput): EngineShardAssignment {
    const { assignments } = this.getShardAssignments(input);
    const first = assignments[0];
    if (first === undefined) {
      throw new RuntimeError("no shards for this worker", {
        code: Code.NotFound,
        details: { workerId: input.workerId, datasetId: input.datasetId, epoch: input.epoch },
      });
    }
    return first;
  }

  async reportShardProgress(input: ShardProgressInput): Promise<ShardProgressResult> {
    this.#assertRunning();
    const entry = this.#assertLive(
      input.workerId,
      `report progress on dataset "${input.datasetId}"`,
    );
    const outcome = this.#datasets.report(
      input.workerId,
      input.datasetId,
      input.epoch,
      input.shardId,
      input.consumed,
      input.upTo,
      input.membershipVersion,
    );
    entry.samplesConsumed += outcome.newlyConsumed;
    await this.#persist([...outcome.ops, ...this.#datasets.pruneOps(input.datasetId)]);
    return {
      accepted: true,
      membershipVersion: this.#membershipVersion,
      consumedSamples: outcome.consumedSamples,
      shardComplete: outcome.shardComplete,
      epochComplete: outcome.epochComplete,
    };
  }

  getShardProgress(input: ShardRequestInput): EpochPositionResult {
    this.#assertRunning();
    this.#assertLive(input.workerId, `read the progress of dataset "${input.datasetId}"`);
    return {
      ...this.#datasets.position(input.datasetId, input.epoch),
      membershipVersion: this.#membershipVersion,
    };
  }

  async restoreShardProgress(input: RestoreProgressInput): Promise<RestoreProgressResult> {
    this.#assertRunning();
    this.#assertLive(
      input.workerId,
      `restore the progress of dataset "${input.position.datasetId}"`,
    );
    const outcome = this.#datasets.restorePosition(input.position);
    // Every live worker asks for its shards again: the bump delivers `membership_changed`.
    this.#membershipVersion++;
    this.#plansDirty = true;
    this.#events.emit({
      type: "progress_restored",
      datasetId: input.position.datasetId,
      epoch: input.position.epoch,
      workerId: input.workerId,
      consumedSamples: outcome.consumedSamples,
      forgottenEpochs: outcome.forgottenEpochs,
    });
    await this.#persist([
      ...outcome.ops,
      { t: "set_membership_version", version: this.#membershipVersion },
    ]);
    return {
      consumedSamples: outcome.consumedSamples,
      forgottenEpochs: outcome.forgottenEpochs,
      membershipVersion: this.#membershipVersion,
    };
  }

  // ---------------------------------------------------------------- checkpoints

  async notifyCheckpoint(input: NotifyCheckpointInput): Promise<NotifyCheckpointResult> {
    this.#assertRunning();
    const jobId = input.jobId === "" ? DEFAULT_JOB_ID : input.jobId;
    const known = this.#workers.get(input.workerId);
    let rank = input.rank;
    if (rank === undefined) {
      if (known === undefined) {
        throw new RuntimeError(
          `worker "${input.workerId}" is not registered, so its rank is unknown; register first or send the rank`,
          { code: Code.FailedPrecondition, details: { workerId: input.workerId } },
        );
      }
      rank = known.rank;
    }
    const expected =
      input.worldSize !== undefined && input.worldSize > 0
        ? Array.from({ length: input.worldSize }, (_, i) => i)
        : this.#liveRanks();
    if (expected.length === 0) expected.push(rank);
    const now = this.#clock.now();
    const record: CheckpointRecord = {
      jobId,
      step: input.step,
      rank,
      workerId: input.workerId,
      checkpointId: input.checkpointId,
      epoch: input.epoch,
      storagePath: input.storagePath,
      sizeBytes: input.sizeBytes,
      kind: input.kind,
      recordedAtMs: now,
      metadata: { ...input.metadata },
    };
    const outcome = this.#checkpoints.record(record, expected, now);
    this.#counters.checkpointsRecorded++;
    this.#events.emit({
      type: "checkpoint_recorded",
      jobId,
      step: input.step,
      rank,
      workerId: input.workerId,
      checkpointId: input.checkpointId,
      sizeBytes: input.sizeBytes,
    });
    this.#log.info(
      {
        jobId,
        step: input.step,
        rank,
        workerId: input.workerId,
        checkpointId: input.checkpointId,
        ranksReported: outcome.ranksReported,
        ranksExpected: outcome.ranksExpected,
      },
      "checkpoint part recorded",
    );
    if (outcome.justCompleted) {
      this.#counters.checkpointStepsCompleted++;
      this.#events.emit({
        type: "checkpoint_completed",
        jobId,
        step: input.step,
        ranks: outcome.ranksExpected,
      });
      this.#log.info(
        { jobId, step: input.step, ranks: outcome.ranksExpected },
        "checkpoint step complete",
      );
    }
    if (outcome.prunedSteps.length > 0) {
      this.#log.info(
        { jobId, steps: outcome.prunedSteps },
        "old checkpoint metadata pruned (user storage untouched)",
      );
    }
    await this.#persist(outcome.ops);
    return {
      globalStep: input.step,
      complete: outcome.complete,
      ranksReported: outcome.ranksReported,
      ranksExpected: outcome.ranksExpected,
    };
  }

  getLatestCheckpoint(input: LatestCheckpointInput): LatestCheckpointResult {
    this.#assertRunning();
    const jobId = input.jobId === "" ? DEFAULT_JOB_ID : input.jobId;
    const latest = this.#checkpoints.latestComplete(jobId);
    if (latest === undefined)
      return { hasCheckpoint: false, membershipVersion: this.#membershipVersion };
    const entry = this.#workers.get(input.workerId);
    const live = entry !== undefined && entry.status === "alive";
    const checkpoint =
      (entry === undefined ? undefined : latest.parts.find((p) => p.rank === entry.rank)) ??
      latest.parts.find((p) => p.rank === 0) ??
      (latest.parts[0] as CheckpointRecord);
    const shardAssignments: EngineShardAssignment[] = [];
    if (live) {
      for (const datasetId of this.#datasets.datasetIds()) {
        const served = this.#datasets.assignments(input.workerId, datasetId, latest.epoch);
        this.#noteServedPlan(input.workerId, served.membershipVersion);
        shardAssignments.push(...served.assignments);
      }
    }
    return {
      hasCheckpoint: true,
      checkpoint,
      parts: latest.parts,
      resumeStep: latest.step,
      resumeEpoch: latest.epoch,
      shardAssignments,
      membershipVersion: this.#membershipVersion,
    };
  }

  // ---------------------------------------------------------------- auxiliary records

  async putRecord(kind: string, id: string, json: string): Promise<void> {
    this.#assertRunning();
    await this.#persist([{ t: "put_record", record: { kind, id, json } }]);
    this.#recordsOf(kind).set(id, json);
  }

  async deleteRecord(kind: string, id: string): Promise<void> {
    this.#assertRunning();
    if (!this.#records.get(kind)?.has(id)) return;
    await this.#persist([{ t: "delete_record", kind, id }]);
    this.#records.get(kind)?.delete(id);
  }

  records(kind: string): { id: string; json: string }[] {
    return [...(this.#records.get(kind) ?? new Map<string, string>())].map(([id, json]) => ({
      id,
      json,
    }));
  }

  #recordsOf(kind: string): Map<string, string> {
    let byId = this.#records.get(kind);
    if (byId === undefined) {
      byId = new Map();
      this.#records.set(kind, byId);
    }
    return byId;
  }

  // ---------------------------------------------------------------- read models

  datasetShardMap(
    datasetId: string,
    options: { epoch?: number; offset?: number; limit?: number } = {},
  ): ShardMapPage {
    this.#assertRunning();
    return this.#datasets.shardMap(
      datasetId,
      options.epoch,
      options.offset ?? 0,
      options.limit ?? 10_000,
    );
  }

  assignedShardCounts(): ReadonlyMap<string, number> {
    return this.#datasets.assignedShardCounts();
  }

  get lastEventSeq(): number {
    return this.#events.lastSeq;
  }

  snapshot(): EngineSnapshot {
    const workers: WorkerView[] = [];
    for (const w of this.#byRank)
      if (w !== undefined) workers.push(view(w, this.#membershipVersion));
    for (const id of this.#retired.keys()) {
      const w = this.#workers.get(id);
      if (w !== undefined) workers.push(view(w, this.#membershipVersion));
    }
    return {
      atMs: this.#clock.now(),
      startedAtMs: this.#startedAtMs,
      membershipVersion: this.#membershipVersion,
      worldSize: this.#liveCount,
      workers,
      datasets: this.#datasets.views(),
      barriers: this.#barriers.views(),
      checkpoints: this.#checkpoints.views(),
      counters: { ...this.#counters },
      barrierFailurePolicy: this.#s.barrierFailurePolicy,
      heartbeatTimeoutMs: this.#s.heartbeatTimeoutMs,
    };
  }

  membership(): { version: number; workers: readonly { workerId: string; rank: number }[] } {
    const workers: { workerId: string; rank: number }[] = [];
    for (const w of this.#byRank)
      if (w !== undefined) workers.push({ workerId: w.workerId, rank: w.rank });
    return { version: this.#membershipVersion, workers };
  }

  onEvent(listener: (event: CoordinatorEvent) => void): () => void {
    return this.#events.subscribe(listener);
  }

  recentEvents(): readonly CoordinatorEvent[] {
    return this.#events.recent();
  }

  // ---------------------------------------------------------------- internals

  #registerResult(entry: WorkerEntry): RegisterWorkerResult {
    // The answer carries the current membership, so the worker need not be told again.
    entry.notifiedVersion = this.#membershipVersion;
    return {
      workerId: entry.workerId,
      rank: entry.rank,
      worldSize: this.#liveCount,
      membershipVersion: this.#membershipVersion,
      heartbeatIntervalMs: this.#s.heartbeatIntervalMs,
      config: { ...entry.metadata, ...this.#workerConfig },
      incarnation: entry.incarnation,
    };
  }

  /** Takes a live worker out of the membership (death or departure) and returns the store ops. */
  #retire(entry: WorkerEntry, reason: "dead" | "left"): StoreOp[] {
    const from = entry.state;
    entry.status = reason;
    entry.state = transitionWorker(entry.workerId, from, "dead");
    entry.commands = [];
    this.#dirtyLiveness.delete(entry);
    this.#byRank[entry.rank] = undefined;
    this.#liveCount--;
    this.#sortedLiveCache = undefined;
    if (entry.rank < this.#lowestFreeRankHint) this.#lowestFreeRankHint = entry.rank;
    while (this.#byRank.length > 0 && this.#byRank[this.#byRank.length - 1] === undefined)
      this.#byRank.pop();
    this.#retired.set(entry.workerId, true);
    const ops: StoreOp[] = [{ t: "put_worker", worker: toStored(entry) }];
    if (from !== "dead") {
      this.#events.emit({
        type: "worker_state_changed",
        workerId: entry.workerId,
        from,
        to: "dead",
      });
    }
    ops.push(...this.#membershipChanged(reason, entry));
    ops.push(...this.#datasets.onMemberGone(entry.workerId));
    this.#barriers.onMemberGone(entry.workerId, entry.rank, reason);
    ops.push(...this.#pruneRetired());
    return ops;
  }

  /** Bumps the membership version, queues `membership_changed` for live workers, marks plans stale. */
  #membershipChanged(reason: "joined" | "left" | "dead", entry: WorkerEntry): StoreOp[] {
    this.#membershipVersion++;
    this.#counters.membershipChanges++;
    this.#plansDirty = true;
    if (reason !== "joined") this.#lastDepartureVersion = this.#membershipVersion;
    this.#events.emit({
      type: "membership_changed",
      membershipVersion: this.#membershipVersion,
      worldSize: this.#liveCount,
      reason,
      workerId: entry.workerId,
    });
    this.#log.info(
      {
        membershipVersion: this.#membershipVersion,
        worldSize: this.#liveCount,
        reason,
        workerId: entry.workerId,
      },
      "membership changed",
    );
    return [{ t: "set_membership_version", version: this.#membershipVersion }];
  }

  #enqueue(entry: WorkerEntry, command: string): void {
    if (entry.commands.includes(command)) return;
    entry.commands.push(command);
    if (entry.commands.length > this.#s.maxPendingCommands) entry.commands.shift();
  }

  #pruneRetired(): StoreOp[] {
    const ops: StoreOp[] = [];
    while (this.#retired.size > this.#s.maxRetiredWorkers) {
      const oldest = this.#retired.keys().next();
      if (oldest.done === true) break;
      this.#retired.delete(oldest.value);
      this.#workers.delete(oldest.value);
      ops.push({ t: "delete_worker", workerId: oldest.value });
    }
    return ops;
  }

  #occupyRank(entry: WorkerEntry): void {
    while (this.#byRank.length <= entry.rank) this.#byRank.push(undefined);
    this.#byRank[entry.rank] = entry;
    this.#liveCount++;
    this.#sortedLiveCache = undefined;
  }

  #lowestFreeRank(): number {
    let r = this.#lowestFreeRankHint;
    while (r < this.#byRank.length && this.#byRank[r] !== undefined) r++;
    this.#lowestFreeRankHint = r + 1;
    return r;
  }

  *#liveIds(): Iterable<string> {
    for (const w of this.#byRank) if (w !== undefined) yield w.workerId;
  }

  #sortedLive(): readonly string[] {
    this.#sortedLiveCache ??= Object.freeze([...this.#liveIds()].sort());
    return this.#sortedLiveCache;
  }

  #liveRanks(): number[] {
    const ranks: number[] = [];
    for (const w of this.#byRank) if (w !== undefined) ranks.push(w.rank);
    return ranks;
  }

  /**
   * A worker served a plan older than the membership (joins are re-planned at most every
   * `minReplanIntervalMs`) is told `membership_changed` again on its next heartbeat, so it asks
   * again and picks up the fresh plan.
   */
  #noteServedPlan(workerId: string, planVersion: number): void {
    if (planVersion >= this.#membershipVersion) return;
    const entry = this.#workers.get(workerId);
    if (entry !== undefined && entry.notifiedVersion > planVersion)
      entry.notifiedVersion = planVersion;
  }

  #assertRunning(): void {
    if (!this.#running) throw notRunning();
  }

  #assertLive(workerId: string, action: string): WorkerEntry {
    const entry = this.#workers.get(workerId);
    if (entry === undefined || entry.status !== "alive") {
      throw new RuntimeError(
        `worker "${workerId}" is not a live member; register before you ${action}`,
        {
          code: Code.FailedPrecondition,
          details: { workerId },
        },
      );
    }
    return entry;
  }

  async #persist(ops: StoreOp[]): Promise<void> {
    if (ops.length === 0) return;
    try {
      await this.#store.apply(ops);
    } catch (error) {
      this.#counters.storeErrors++;
      this.#log.error({ err: error, ops: ops.length }, "store write failed");
      throw RuntimeError.from(error, Code.Unavailable);
    }
  }

  #scheduleSweep(): void {
    if (!this.#running) return;
    this.#sweepDueMs = this.#clock.now() + this.#s.sweepIntervalMs;
    this.#sweepTimer = this.#clock.setTimeout(() => this.#sweep(), this.#s.sweepIntervalMs, {
      unref: true,
    });
  }

  /** The failure detector: declares silent workers dead, then refreshes stale shard plans. */
  #sweep(): void {
    if (!this.#running) return;
    const now = this.#clock.now();
    // If this process stalled (a long GC, a blocked event loop, a suspended VM), the sweep fires
    // late and heartbeats that arrived meanwhile are still queued behind it: timers run before
    // I/O. Declaring workers dead now would punish them for our stall, so the time the sweep ran
    // late is added to every deadline first; a worker that is really gone is caught on a later sweep.
    const lateMs = now - this.#sweepDueMs;
    if (this.#sweepDueMs > 0 && lateMs > this.#s.sweepIntervalMs) {
      for (const w of this.#byRank) if (w !== undefined) w.deadlineMs += lateMs;
      this.#counters.sweepStallsForgiven++;
      this.#log.warn(
        { lateMs },
        "failure detector ran late (process stall); extending worker deadlines",
      );
    }
    const expired: WorkerEntry[] = [];
    for (const w of this.#byRank) if (w !== undefined && w.deadlineMs <= now) expired.push(w);
    for (const w of expired) {
      const silentForMs = now - w.lastHeartbeatMs;
      const ops = this.#retire(w, "dead");
      this.#counters.workersDeclaredDead++;
      this.#events.emit({ type: "worker_dead", workerId: w.workerId, rank: w.rank, silentForMs });
      this.#log.warn({ workerId: w.workerId, rank: w.rank, silentForMs }, "worker declared dead");
      this.#persist(ops).catch(() => undefined);
    }
    // Re-plan active epochs (and report moved shards) even when nobody asks; plans made before
    // joins wait out minReplanIntervalMs (see DatasetHub), so storms cost one re-plan per interval.
    if (this.#plansDirty) this.#plansDirty = this.#datasets.refreshPlans();
    this.#scheduleSweep();
  }

  #scheduleFlush(): void {
    if (!this.#running) return;
    this.#flushTimer = this.#clock.setTimeout(
      () => {
        this.#flushLiveness()
          .catch(() => undefined)
          .finally(() => this.#scheduleFlush());
      },
      this.#s.livenessFlushIntervalMs,
      { unref: true },
    );
  }

  /**
   * Writes the batched liveness of every worker that heartbeated since the last flush, in
   * transactions of at most {@link LIVENESS_CHUNK} workers, each on its own event-loop turn, so a
   * flush of thousands of workers never stalls heartbeats for more than a few milliseconds.
   */
  async #flushLiveness(): Promise<void> {
    if (this.#dirtyLiveness.size === 0) return;
    const ops: StoreOp[] = [];
    for (const w of this.#dirtyLiveness) {
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
    this.#dirtyLiveness.clear();
    this.#counters.storeFlushes++;
    for (let i = 0; i < ops.length; i += LIVENESS_CHUNK) {
      await this.#persist(ops.slice(i, i + LIVENESS_CHUNK));
    }
  }
}

/** Most workers per liveness transaction. */
const LIVENESS_CHUNK = 500;

function view(w: WorkerEntry, membershipVersion: number): WorkerView {
  return {
    workerId: w.workerId,
    hostname: w.hostname,
    port: w.port,
    gpuCount: w.gpuCount,
    memoryBytes: w.memoryBytes,
    rank: w.rank,
    state: w.state,
    incarnation: w.incarnation,
    registeredAtMs: w.registeredAtMs,
    lastHeartbeatMs: w.lastHeartbeatMs,
    currentStep: w.currentStep,
    currentEpoch: w.currentEpoch,
    currentTask: w.currentTask,
    resources: w.resources,
    metadata: w.metadata,
    samplesConsumed: w.samplesConsumed,
    pendingCommands:
      w.status === "alive" && w.notifiedVersion < membershipVersion
        ? [MEMBERSHIP_CHANGED_COMMAND, ...w.commands]
        : [...w.commands],
  };
}

function toStored(w: WorkerEntry): StoredWorker {
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

function fromStored(s: StoredWorker, deadlineMs: number): WorkerEntry {
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

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v <= 0)
    throw invalidOption(name, "must be a positive integer", v);
  return v;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 0) throw invalidOption(name, "must be an integer ≥ 0", v);
  return v;
}

function policy(value: BarrierFailurePolicy | undefined): BarrierFailurePolicy {
  const v = value ?? "abort";
  if (v !== "abort" && v !== "release_survivors") {
    throw invalidOption("barrierFailurePolicy", 'must be "abort" or "release_survivors"', v);
  }
  return v;
}

function invalidOption(name: string, rule: string, value: unknown): RuntimeError {
  return new RuntimeError(`coordinator engine option ${name} ${rule} (got ${String(value)})`, {
    code: Code.InvalidArgument,
    details: { option: name },
  });
}

function unavailable(message: string): RuntimeError {
  return new RuntimeError(message, { code: Code.Unavailable });
}

function notRunning(): RuntimeError {
  return unavailable("the coordinator engine is not running (not started yet, or shutting down)");
}
