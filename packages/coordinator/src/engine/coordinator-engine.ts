import {
  type BarrierFailurePolicy,
  type CheckpointRecord,
  type Clock,
  Code,
  createSilentLogger,
  type DatasetSpec,
  type Logger,
  RuntimeError,
  systemClock,
  type WorkerState,
} from "@strata/runtime-core";
import type { CoordinatorStore, StoreOp } from "../store/coordinator-store.js";
import { BarrierHub } from "./barrier-hub.js";
import { CheckpointLedger } from "./checkpoint-ledger.js";
import { CommitPipeline, type Mutation } from "./commit-pipeline.js";
import {
  DatasetHub,
  DEFAULT_ASSIGNMENT_PAGE,
  MAX_ASSIGNMENT_PAGE,
  type ShardMapPage,
} from "./dataset-hub.js";
import { Draft, type StateView } from "./draft.js";
import { EventFeed } from "./event-feed.js";
import type { CoordinatorEvent } from "./events.js";
import { Liveness, MEMBERSHIP_CHANGED_COMMAND } from "./liveness.js";
import { Membership, type RetireReason, toStored, type WorkerEntry } from "./membership.js";
import { RecordBook } from "./record-book.js";
import type {
  BarrierResult,
  CoordinatorEngine,
  CoordinatorEngineOptions,
  DeregisterWorkerResult,
  EngineCallOptions,
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
  WorkerReading,
  WorkerView,
} from "./types.js";

export { MEMBERSHIP_CHANGED_COMMAND };

/** The job a checkpoint belongs to when the worker names none. */
export const DEFAULT_JOB_ID = "default";

/** Most shard assignments a recovery answer carries (over all datasets); the rest by paging. */
export const MAX_RECOVERY_ASSIGNMENTS = 10_000;

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
  maxConsecutiveStoreFailures: number;
}

/**
 * Creates the coordinator engine: membership with stable ranks, failure detection, barriers,
 * shard plans with exactly-once epoch coverage, and checkpoint records, over a
 * {@link CoordinatorStore}. Every state change is written to the store first and applied in
 * memory only once it is durable. Call `start()` before use and `close()` at the end.
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
    storeCommits: 0,
  };
  readonly #membership: Membership;
  readonly #liveness: Liveness;
  readonly #barriers: BarrierHub;
  readonly #datasets: DatasetHub;
  readonly #checkpoints: CheckpointLedger;
  readonly #records = new RecordBook();
  readonly #pipeline: CommitPipeline;
  readonly #committed: StateView;
  readonly #onFatal: ((error: RuntimeError) => void) | undefined;
  #plansDirty = false;
  #pendingMembershipEvent:
    | { reason: "joined" | "left" | "dead"; workerId: string; changes: number }
    | undefined;

  #startPromise: Promise<void> | undefined;
  #closePromise: Promise<void> | undefined;
  #running = false;
  #startedAtMs = 0;

  constructor(options: CoordinatorEngineOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? createSilentLogger()).child({ component: "coordinator-engine" });
    this.#onFatal = options.onFatal;
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
      maxConsecutiveStoreFailures: positive(
        "maxConsecutiveStoreFailures",
        options.maxConsecutiveStoreFailures,
        3,
      ),
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
    this.#membership = new Membership(
      this.#s.heartbeatTimeoutMs,
      this.#s.maxWorkers,
      this.#s.maxRetiredWorkers,
    );
    const membership = this.#membership;
    this.#pipeline = new CommitPipeline({
      store: this.#store,
      logger: this.#log,
      newDraft: () => new Draft(this.#committed),
      applyOp: (op) => this.#applyOp(op),
      maxConsecutiveFailures: this.#s.maxConsecutiveStoreFailures,
      onFatal: (error) => this.#fatal(error),
      afterBatch: () => this.#emitMembershipChanged(),
      onCommit: ({ ok }) => {
        if (ok) this.#counters.storeCommits++;
        else this.#counters.storeErrors++;
      },
    });
    this.#liveness = new Liveness({
      clock: this.#clock,
      logger: this.#log,
      events: this.#events,
      counters: this.#counters,
      membership,
      heartbeatTimeoutMs: this.#s.heartbeatTimeoutMs,
      sweepIntervalMs: this.#s.sweepIntervalMs,
      livenessFlushIntervalMs: this.#s.livenessFlushIntervalMs,
      maxPendingCommands: this.#s.maxPendingCommands,
      persistLiveness: this.#store.persistsLiveness !== false,
      declareDead: (worker, silentForMs) => this.#declareDead(worker, silentForMs),
      writeLiveness: (ops) =>
        this.#pipeline.submit({ name: "flush_liveness", plan: () => ({ ops, effects: noop }) }),
      afterSweep: () => {
        if (this.#plansDirty) this.#plansDirty = this.#datasets.refreshPlans();
      },
    });
    this.#barriers = new BarrierHub({
      clock: this.#clock,
      logger: this.#log,
      events: this.#events,
      counters: this.#counters,
      membership: {
        isLive: (id) => membership.live(id) !== undefined,
        liveCount: () => membership.liveCount,
        liveWorkerIds: () => membership.liveIds(),
        version: () => membership.version,
      },
      policy: this.#s.barrierFailurePolicy,
      defaultTimeoutMs: this.#s.barrierTimeoutMs,
      maxBarriers: this.#s.maxBarriers,
      commit: (mutation) => this.#pipeline.submit(mutation),
    });
    this.#datasets = new DatasetHub({
      logger: this.#log,
      events: this.#events,
      counters: this.#counters,
      membership: {
        version: () => membership.version,
        lastDepartureVersion: () => membership.lastDepartureVersion,
        sortedLiveWorkerIds: () => membership.sortedLiveIds(),
      },
      maxDatasets: this.#s.maxDatasets,
      maxShardsPerDataset: this.#s.maxShardsPerDataset,
      maxEpochsPerDataset: this.#s.maxProgressEpochsPerDataset,
      epsilon: options.shardEpsilon,
      now: () => this.#clock.now(),
      minReplanIntervalMs: this.#s.minReplanIntervalMs,
      persistOwnership: (op) => {
        if (!this.#running) return;
        this.#pipeline
          .submit({ name: "store_shard_plan", plan: () => ({ ops: [op], effects: noop }) })
          .catch((error: unknown) =>
            this.#log.warn({ err: error }, "shard ownership plan not stored (costs movement only)"),
          );
      },
    });
    this.#checkpoints = new CheckpointLedger(this.#s.maxCheckpointStepsPerJob, this.#s.maxJobs);
    const datasets = this.#datasets;
    const checkpoints = this.#checkpoints;
    const records = this.#records;
    const barriers = this.#barriers;
    this.#committed = {
      worker: (id) => {
        const e = membership.entry(id);
        return e === undefined ? undefined : toStored(e);
      },
      liveCount: () => membership.liveCount,
      membershipVersion: () => membership.version,
      lastDepartureVersion: () => membership.lastDepartureVersion,
      isRankHeld: (rank) => membership.isRankHeld(rank),
      lowestFreeRank: () => membership.lowestFreeRank(),
      dataset: (id) => datasets.stored(id),
      datasetCount: () => datasets.count,
      progress: (d, e, s) => datasets.storedProgress(d, e, s),
      checkpointStep: (j, s) => checkpoints.stored(j, s),
      checkpointParts: (j, s) => checkpoints.parts(j, s),
      checkpointStepsOf: (j) => checkpoints.stepsOf(j),
      jobCount: () => checkpoints.jobCount,
      hasJob: (j) => checkpoints.hasJob(j),
      record: (kind, id) => records.get(kind, id),
      recordCount: (kind) => records.count(kind),
      barrierRelease: (id) => barriers.release(id),
    };
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
    const fixups = this.#membership.restore(
      state.workers,
      state.membershipVersion,
      now + this.#s.restartGraceMs,
    );
    this.#datasets.restore(state.datasets, state.shardProgress, state.shardPlans);
    this.#checkpoints.restore(state.checkpointSteps, state.checkpoints);
    this.#records.restore(state.records ?? []);
    this.#barriers.restore(state.barrierReleases ?? []);
    if (fixups.length > 0) {
      this.#log.warn({ fixups: fixups.length }, "rank conflicts in stored state were repaired");
      await this.#store.apply(fixups);
    }
    this.#running = true;
    this.#liveness.start();
    this.#log.info(
      {
        store: this.#store.kind,
        membershipVersion: this.#membership.version,
        liveWorkers: this.#membership.liveCount,
        retiredWorkers: this.#membership.retiredCount,
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
    const wasRunning = this.#running;
    this.#running = false;
    this.#liveness.stop();
    this.#barriers.closeAll();
    if (wasRunning && this.#pipeline.fatal === undefined) {
      await this.#liveness
        .flush()
        .catch((error: unknown) => this.#log.warn({ err: error }, "final liveness flush failed"));
    }
    await this.#pipeline.idle();
    this.#log.info({}, "coordinator engine closed");
  }

  /** Resolves when every queued change is committed and applied (tests, shutdown). */
  idle(): Promise<void> {
    return this.#pipeline.idle();
  }

  grantGrace(graceMs: number): void {
    this.#liveness.grantGrace(this.#clock.now() + graceMs);
  }

  #fatal(error: RuntimeError): void {
    this.#running = false;
    this.#liveness.stop();
    this.#log.fatal({ err: error }, "coordinator store keeps failing; stopping (fail-stop)");
    this.#barriers.closeAll();
    this.#onFatal?.(error);
  }

  // ---------------------------------------------------------------- applying committed ops

  #applyOp(op: StoreOp): void {
    this.#membership.apply(op);
    this.#datasets.apply(op);
    this.#checkpoints.apply(op);
    this.#barriers.apply(op);
    this.#records.apply(op);
    if (op.t === "set_membership_version") {
      this.#plansDirty = true;
      this.#counters.membershipChanges++;
    }
  }

  #submit<R>(mutation: Mutation<R>): Promise<R> {
    if (!this.#running) return Promise.reject(notRunning());
    return this.#pipeline.submit(mutation);
  }

  // ---------------------------------------------------------------- membership

  registerWorker(
    input: RegisterWorkerInput,
    options: EngineCallOptions = {},
  ): Promise<RegisterWorkerResult> {
    return this.#submit({
      name: "register_worker",
      ...signalOf(options),
      plan: (draft) => {
        const now = this.#clock.now();
        const p = this.#membership.planRegister(draft, input, now);
        return {
          ops: p.ops,
          effects: () => {
            const entry = this.#membership.live(input.workerId) as WorkerEntry;
            this.#counters.registrations++;
            if (p.joined) {
              this.#events.emit({
                type: "worker_registered",
                workerId: entry.workerId,
                rank: entry.rank,
                incarnation: entry.incarnation,
                returning: p.returning,
              });
              this.#log.info(
                {
                  workerId: entry.workerId,
                  rank: entry.rank,
                  incarnation: entry.incarnation,
                  returning: p.returning,
                  hostname: entry.hostname,
                },
                "worker registered",
              );
              this.#membershipChangedEvent("joined", entry.workerId);
            } else {
              if (p.from !== undefined && p.from !== "initializing") {
                this.#events.emit({
                  type: "worker_state_changed",
                  workerId: entry.workerId,
                  from: p.from,
                  to: "initializing",
                });
              }
              this.#log.info(
                { workerId: entry.workerId, rank: entry.rank },
                "worker registered again while alive",
              );
            }
            return this.#registerResult(entry);
          },
        };
      },
    });
  }

  deregisterWorker(
    workerId: string,
    options: EngineCallOptions = {},
  ): Promise<DeregisterWorkerResult> {
    return this.#submit({
      name: "deregister_worker",
      ...signalOf(options),
      plan: (draft) => {
        const ops = this.#planRetire(draft, workerId, "left");
        const rank = draft.worker(workerId)?.rank ?? -1;
        const from = this.#membership.entry(workerId)?.state ?? "idle";
        return {
          ops,
          effects: () => {
            this.#retired(workerId, "left", from);
            this.#counters.deregistrations++;
            this.#events.emit({ type: "worker_deregistered", workerId, rank });
            this.#log.info({ workerId, rank }, "worker deregistered");
            return {
              workerId,
              rank,
              worldSize: this.#membership.liveCount,
              membershipVersion: this.#membership.version,
            };
          },
        };
      },
    });
  }

  #declareDead(worker: WorkerEntry, silentForMs: number): Promise<void> {
    const { workerId } = worker;
    return this.#submit({
      name: "declare_dead",
      plan: (draft) => {
        // It may have left, died or come back (a new incarnation) while this waited.
        const current = draft.worker(workerId);
        if (current?.status !== "alive" || current.incarnation !== worker.incarnation) {
          return { ops: [], effects: noop };
        }
        const ops = this.#planRetire(draft, workerId, "dead");
        const from = worker.state;
        return {
          ops,
          effects: () => {
            this.#retired(workerId, "dead", from);
            this.#counters.workersDeclaredDead++;
            this.#events.emit({ type: "worker_dead", workerId, rank: current.rank, silentForMs });
            this.#log.warn({ workerId, rank: current.rank, silentForMs }, "worker declared dead");
          },
        };
      },
    }).catch((error: unknown) => {
      this.#log.error({ err: error, workerId }, "could not store a worker's death; will retry");
    });
  }

  #planRetire(draft: Draft, workerId: string, reason: RetireReason): StoreOp[] {
    const ops = this.#membership.planRetire(draft, workerId, reason);
    ops.push(...this.#datasets.planMemberGone(draft, workerId, draft.pendingProgress()));
    return ops;
  }

  /** Effects of a committed retirement: events, barriers, volatile state. */
  #retired(workerId: string, reason: RetireReason, from: WorkerState): void {
    const entry = this.#membership.entry(workerId);
    if (entry === undefined) return;
    this.#liveness.forget(entry);
    if (from !== "dead") {
      this.#events.emit({ type: "worker_state_changed", workerId, from, to: "dead" });
    }
    this.#membershipChangedEvent(reason, workerId);
    this.#barriers.onMemberGone(workerId, entry.rank, reason);
  }

  /**
   * Notes a membership change of the batch being applied. One `membership_changed` event goes
   * out per committed batch (after its other events), with the final version and world size: a
   * burst of 10,000 registrations is 10,000 `worker_registered` events and a handful of
   * `membership_changed` ones, not 20,000 events.
   */
  #membershipChangedEvent(reason: "joined" | "left" | "dead", workerId: string): void {
    this.#pendingMembershipEvent = {
      reason,
      workerId,
      changes: (this.#pendingMembershipEvent?.changes ?? 0) + 1,
    };
  }

  #emitMembershipChanged(): void {
    const pending = this.#pendingMembershipEvent;
    if (pending === undefined) return;
    this.#pendingMembershipEvent = undefined;
    const { reason, workerId, changes } = pending;
    this.#events.emit({
      type: "membership_changed",
      membershipVersion: this.#membership.version,
      worldSize: this.#membership.liveCount,
      reason,
      workerId,
      changes,
    });
    this.#log.info(
      {
        membershipVersion: this.#membership.version,
        worldSize: this.#membership.liveCount,
        reason,
        workerId,
        changes,
      },
      "membership changed",
    );
  }

  heartbeat(input: HeartbeatInput): HeartbeatResult {
    this.#assertRunning();
    return this.#liveness.heartbeat(input);
  }

  queueCommand(workerId: string, command: string): void {
    this.#assertRunning();
    this.#liveness.queueCommand(workerId, command);
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

  registerDataset(
    spec: DatasetSpec,
    options: EngineCallOptions = {},
  ): Promise<{ totalShards: number; created: boolean }> {
    return this.#submit({
      name: "register_dataset",
      ...signalOf(options),
      plan: (draft) => {
        const p = this.#datasets.planRegister(draft, spec, this.#clock.now());
        return {
          ops: p.ops,
          effects: () => {
            if (p.created) {
              this.#events.emit({
                type: "dataset_registered",
                datasetId: spec.datasetId,
                totalShards: p.totalShards,
              });
              this.#log.info(
                { datasetId: spec.datasetId, totalShards: p.totalShards },
                "dataset registered",
              );
            }
            return { totalShards: p.totalShards, created: p.created };
          },
        };
      },
    });
  }

  getShardAssignments(input: ShardRequestInput): ShardAssignmentsResult {
    this.#assertRunning();
    this.#assertLive(input.workerId, `ask for shards of dataset "${input.datasetId}"`);
    const offset = input.offset ?? 0;
    const limit = Math.min(input.limit ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const result = this.#datasets.assignments(
      input.workerId,
      input.datasetId,
      input.epoch,
      offset,
      limit,
    );
    if (input.expectMembershipVersion !== undefined) {
      if (result.membershipVersion !== input.expectMembershipVersion) {
        throw new RuntimeError(
          `the assignment changed since the first page (membership version ${input.expectMembershipVersion}, now ${result.membershipVersion}); start again from the first page`,
          {
            code: Code.FailedPrecondition,
            details: { field: "page_token", membershipVersion: result.membershipVersion },
          },
        );
      }
    }
    this.#noteServedPlan(input.workerId, result.membershipVersion);
    return {
      workerId: input.workerId,
      datasetId: input.datasetId,
      epoch: input.epoch,
      membershipVersion: result.membershipVersion,
      totalShards: result.totalShards,
      assignments: result.assignments,
      assignedShards: result.assignedShards,
      nextOffset:
        offset + result.assignments.length < result.assignedShards
          ? offset + result.assignments.length
          : undefined,
    };
  }

  getDataShard(input: ShardRequestInput): EngineShardAssignment {
    const { assignments } = this.getShardAssignments({ ...input, offset: 0, limit: 1 });
    const first = assignments[0];
    if (first === undefined) {
      throw new RuntimeError("no shards for this worker", {
        code: Code.NotFound,
        details: { workerId: input.workerId, datasetId: input.datasetId, epoch: input.epoch },
      });
    }
    return first;
  }

  reportShardProgress(
    input: ShardProgressInput,
    options: EngineCallOptions = {},
  ): Promise<ShardProgressResult> {
    return this.#submit({
      name: "report_shard_progress",
      ...signalOf(options),
      plan: (draft) => {
        this.#assertLiveIn(
          draft,
          input.workerId,
          `report progress on dataset "${input.datasetId}"`,
        );
        const p = this.#datasets.planReport(
          draft,
          input.workerId,
          input.datasetId,
          input.epoch,
          input.shardId,
          input.consumed,
          input.upTo,
          input.membershipVersion,
        );
        return {
          ops: p.ops,
          effects: () => {
            const entry = this.#membership.live(input.workerId);
            if (entry !== undefined) entry.samplesConsumed += p.newlyConsumed;
            if (p.ops.length > 0) {
              this.#events.emit({
                type: "shard_progress",
                datasetId: input.datasetId,
                epoch: input.epoch,
                shardId: input.shardId,
                workerId: input.workerId,
                consumedSamples: p.consumedSamples,
                shardComplete: p.shardComplete,
              });
            }
            return {
              accepted: true as const,
              membershipVersion: this.#membership.version,
              consumedSamples: p.consumedSamples,
              shardComplete: p.shardComplete,
              epochComplete: this.#datasets.epochComplete(input.datasetId, input.epoch),
            };
          },
        };
      },
    });
  }

  getShardProgress(input: ShardRequestInput): EpochPositionResult {
    this.#assertRunning();
    this.#assertLive(input.workerId, `read the progress of dataset "${input.datasetId}"`);
    return {
      ...this.#datasets.position(input.datasetId, input.epoch),
      membershipVersion: this.#membership.version,
    };
  }

  restoreShardProgress(
    input: RestoreProgressInput,
    options: EngineCallOptions = {},
  ): Promise<RestoreProgressResult> {
    return this.#submit({
      name: "restore_shard_progress",
      exclusive: true,
      ...signalOf(options),
      plan: (draft) => {
        this.#assertLiveIn(
          draft,
          input.workerId,
          `restore the progress of dataset "${input.position.datasetId}"`,
        );
        const p = this.#datasets.planRestore(input.position);
        // Every live worker asks for its shards again: the bump delivers `membership_changed`.
        const version = draft.membershipVersion() + 1;
        return {
          ops: [...p.ops, { t: "set_membership_version", version, reason: "restore" }],
          effects: () => {
            this.#events.emit({
              type: "progress_restored",
              datasetId: input.position.datasetId,
              epoch: input.position.epoch,
              workerId: input.workerId,
              consumedSamples: p.consumedSamples,
              forgottenEpochs: p.forgottenEpochs,
            });
            this.#log.info(
              {
                datasetId: input.position.datasetId,
                epoch: input.position.epoch,
                consumedSamples: p.consumedSamples,
                forgottenEpochs: p.forgottenEpochs,
              },
              "shard progress restored to a checkpoint's position",
            );
            return {
              consumedSamples: p.consumedSamples,
              forgottenEpochs: p.forgottenEpochs,
              membershipVersion: this.#membership.version,
            };
          },
        };
      },
    });
  }

  // ---------------------------------------------------------------- checkpoints

  notifyCheckpoint(
    input: NotifyCheckpointInput,
    options: EngineCallOptions = {},
  ): Promise<NotifyCheckpointResult> {
    return this.#submit({
      name: "notify_checkpoint",
      ...signalOf(options),
      plan: (draft) => {
        const jobId = input.jobId === "" ? DEFAULT_JOB_ID : input.jobId;
        const known = draft.worker(input.workerId);
        let rank = input.rank;
        if (rank === undefined) {
          if (known === undefined && input.whole !== true) {
            throw new RuntimeError(
              `worker "${input.workerId}" is not registered, so its rank is unknown; register first or send the rank`,
              { code: Code.FailedPrecondition, details: { workerId: input.workerId } },
            );
          }
          rank = known?.rank ?? 0;
        }
        // A client that names neither a job nor a world size (the original's) knows nothing of
        // multi-rank steps: its checkpoint is whole, complete when it arrives.
        const expected =
          input.whole === true
            ? [rank]
            : input.worldSize !== undefined && input.worldSize > 0
              ? Array.from({ length: input.worldSize }, (_, i) => i)
              : this.#membership.liveRanks();
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
        const p = this.#checkpoints.planRecord(draft, record, expected, now);
        return {
          ops: p.ops,
          effects: () => {
            this.#counters.checkpointsRecorded++;
            this.#events.emit({
              type: "checkpoint_recorded",
              jobId,
              step: input.step,
              rank: record.rank,
              workerId: input.workerId,
              checkpointId: input.checkpointId,
              sizeBytes: input.sizeBytes,
            });
            this.#log.info(
              {
                jobId,
                step: input.step,
                rank: record.rank,
                workerId: input.workerId,
                checkpointId: input.checkpointId,
                ranksReported: p.ranksReported,
                ranksExpected: p.ranksExpected,
              },
              "checkpoint part recorded",
            );
            if (p.justCompleted) {
              this.#counters.checkpointStepsCompleted++;
              this.#events.emit({
                type: "checkpoint_completed",
                jobId,
                step: input.step,
                ranks: p.ranksExpected,
              });
              this.#log.info(
                { jobId, step: input.step, ranks: p.ranksExpected },
                "checkpoint step complete",
              );
            }
            if (p.prunedSteps.length > 0) {
              this.#log.info(
                { jobId, steps: p.prunedSteps },
                "old checkpoint metadata pruned (user storage untouched)",
              );
            }
            return {
              globalStep: input.step,
              complete: p.complete,
              ranksReported: p.ranksReported,
              ranksExpected: p.ranksExpected,
            };
          },
        };
      },
    });
  }

  getLatestCheckpoint(input: LatestCheckpointInput): LatestCheckpointResult {
    this.#assertRunning();
    const jobId = input.jobId === "" ? DEFAULT_JOB_ID : input.jobId;
    const latest = this.#checkpoints.latestComplete(jobId);
    const membershipVersion = this.#membership.version;
    if (latest === undefined) return { hasCheckpoint: false, membershipVersion };
    const entry = this.#membership.entry(input.workerId);
    const checkpoint =
      (entry === undefined ? undefined : latest.parts.find((p) => p.rank === entry.rank)) ??
      latest.parts.find((p) => p.rank === 0) ??
      (latest.parts[0] as CheckpointRecord);
    const shardAssignments: EngineShardAssignment[] = [];
    let truncated = false;
    if (entry?.status === "alive") {
      for (const datasetId of this.#datasets.datasetIds()) {
        const room = MAX_RECOVERY_ASSIGNMENTS - shardAssignments.length;
        const served = this.#datasets.assignments(input.workerId, datasetId, latest.epoch, 0, room);
        this.#noteServedPlan(input.workerId, served.membershipVersion);
        for (const a of served.assignments) shardAssignments.push(a);
        if (served.assignedShards > served.assignments.length) truncated = true;
      }
    }
    return {
      hasCheckpoint: true,
      checkpoint,
      parts: latest.parts,
      resumeStep: latest.step,
      resumeEpoch: latest.epoch,
      shardAssignments,
      shardAssignmentsTruncated: truncated,
      membershipVersion,
    };
  }

  // ---------------------------------------------------------------- auxiliary records

  putRecord(kind: string, id: string, json: string): Promise<void> {
    return this.#submit({
      name: "put_record",
      plan: () => ({ ops: [{ t: "put_record", record: { kind, id, json } }], effects: noop }),
    });
  }

  deleteRecord(kind: string, id: string): Promise<void> {
    return this.#submit({
      name: "delete_record",
      plan: (draft) => ({
        ops: draft.record(kind, id) === undefined ? [] : [{ t: "delete_record", kind, id }],
        effects: noop,
      }),
    });
  }

  records(kind: string): { id: string; json: string }[] {
    return this.#records.list(kind);
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
      options.limit ?? DEFAULT_ASSIGNMENT_PAGE,
    );
  }

  assignedShardCounts(): ReadonlyMap<string, number> {
    return this.#datasets.assignedShardCounts();
  }

  get lastEventSeq(): number {
    return this.#events.lastSeq;
  }

  snapshot(options: { workers?: boolean } = {}): EngineSnapshot {
    const version = this.#membership.version;
    const workers: WorkerView[] = [];
    if (options.workers !== false) {
      for (const w of this.#membership.liveEntries()) workers.push(view(w, version));
      for (const w of this.#membership.retiredEntries()) workers.push(view(w, version));
    }
    return {
      atMs: this.#clock.now(),
      startedAtMs: this.#startedAtMs,
      membershipVersion: version,
      worldSize: this.#membership.liveCount,
      workers,
      datasets: this.#datasets.views(),
      barriers: this.#barriers.views(),
      checkpoints: this.#checkpoints.views(),
      counters: { ...this.#counters },
      barrierFailurePolicy: this.#s.barrierFailurePolicy,
      heartbeatTimeoutMs: this.#s.heartbeatTimeoutMs,
    };
  }

  forEachWorker(visit: (worker: WorkerReading) => void): void {
    for (const w of this.#membership.liveEntries()) visit(w);
    for (const w of this.#membership.retiredEntries()) visit(w);
  }

  worker(workerId: string): WorkerView | undefined {
    const w = this.#membership.entry(workerId);
    return w === undefined ? undefined : view(w, this.#membership.version);
  }

  membership(): { version: number; workers: readonly { workerId: string; rank: number }[] } {
    const workers: { workerId: string; rank: number }[] = [];
    for (const w of this.#membership.liveEntries()) {
      workers.push({ workerId: w.workerId, rank: w.rank });
    }
    return { version: this.#membership.version, workers };
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
    entry.notifiedVersion = this.#membership.version;
    return {
      workerId: entry.workerId,
      rank: entry.rank,
      worldSize: this.#membership.liveCount,
      membershipVersion: this.#membership.version,
      heartbeatIntervalMs: this.#s.heartbeatIntervalMs,
      config: { ...entry.metadata, ...this.#workerConfig },
      incarnation: entry.incarnation,
    };
  }

  /**
   * A worker served a plan older than the membership (joins are re-planned at most every
   * `minReplanIntervalMs`) is told `membership_changed` again on its next heartbeat, so it asks
   * again and picks up the fresh plan.
   */
  #noteServedPlan(workerId: string, planVersion: number): void {
    if (planVersion >= this.#membership.version) return;
    const entry = this.#membership.live(workerId);
    if (entry !== undefined && entry.notifiedVersion > planVersion) {
      entry.notifiedVersion = planVersion;
    }
  }

  #assertRunning(): void {
    if (!this.#running) throw notRunning();
  }

  #assertLive(workerId: string, action: string): void {
    if (this.#membership.live(workerId) === undefined) throw notLive(workerId, action);
  }

  #assertLiveIn(draft: StateView, workerId: string, action: string): void {
    if (draft.worker(workerId)?.status !== "alive") throw notLive(workerId, action);
  }
}

function notLive(workerId: string, action: string): RuntimeError {
  return new RuntimeError(
    `worker "${workerId}" is not a live member; register before you ${action}`,
    { code: Code.FailedPrecondition, details: { workerId } },
  );
}

function signalOf(options: EngineCallOptions): { signal?: AbortSignal } {
  const signals: AbortSignal[] = [];
  if (options.signal !== undefined) signals.push(options.signal);
  if (options.timeoutMs !== undefined) signals.push(AbortSignal.timeout(options.timeoutMs));
  if (signals.length === 0) return {};
  return { signal: signals.length === 1 ? (signals[0] as AbortSignal) : AbortSignal.any(signals) };
}

function noop(): void {}

function view(w: WorkerEntry, membershipVersion: number): WorkerView {
  return {
    workerId: w.workerId,
    hostname: w.hostname,
    port: w.port,
    gpuCount: w.gpuCount,
    memoryBytes: w.memoryBytes,
    rank: w.rank,
    state: w.state,
    membership: w.status,
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

export { MAX_ASSIGNMENT_PAGE };
