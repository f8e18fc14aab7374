import type {
  BarrierFailurePolicy,
  CallOptions,
  CheckpointKind,
  CheckpointRecord,
  Clock,
  DatasetSpec,
  Logger,
  ResourceUsage,
  RuntimeError,
  SampleRange,
  ShardAssignment,
  WorkerInfo,
  WorkerState,
} from "@strata/runtime-core";
import type { CoordinatorStore } from "../store/coordinator-store.js";
import type { EpochPositionData, ShardMapPage } from "./dataset-hub.js";
import type { CoordinatorEvent } from "./events.js";

/**
 * Options for {@link createCoordinatorEngine}. Every number is a safe integer; limits are checked
 * at construction and a bad value throws `RuntimeError(InvalidArgument)` naming the option.
 */
export interface CoordinatorEngineOptions {
  /** Where durable state lives (`createSqliteStore`, `createMemoryStore`). The engine does not close it. */
  store: CoordinatorStore;
  /** Time source for heartbeat expiry, barrier timeouts and flushes. Default: `systemClock`. */
  clock?: Clock;
  /** Structured logger; every state change is logged. Default: a silent logger. */
  logger?: Logger;
  /** A worker silent this long is declared dead. Default 15,000 ms. */
  heartbeatTimeoutMs?: number;
  /** The heartbeat interval told to workers at registration (advisory). Default 5,000 ms. */
  heartbeatIntervalMs?: number;
  /**
   * After a coordinator restart, workers that were alive get this long from `start()` to heartbeat
   * again before they are declared dead. Default: `heartbeatTimeoutMs`.
   */
  restartGraceMs?: number;
  /**
   * How often the failure detector looks for silent workers. A worker is declared dead at most
   * this long after its timeout passed. Default `min(1000, heartbeatTimeoutMs / 4)` ms.
   */
  sweepIntervalMs?: number;
  /** How often batched heartbeat liveness (state, step, last heartbeat) is written to the store. Default 2,000 ms. */
  livenessFlushIntervalMs?: number;
  /** How long a barrier generation may wait for every live member when the caller gives no timeout. Default 300,000 ms. */
  barrierTimeoutMs?: number;
  /**
   * What waiters of a barrier get when a member dies (or leaves) while the barrier is open.
   * Default `"abort"`: every waiter fails at once with ABORTED naming the dead worker. We pick it
   * because a barrier usually guards a collective step, and a dead peer means the collective
   * group must be rebuilt; releasing silently would let survivors walk into a collective that
   * hangs (the TorchElastic/NCCL pain). ABORTED is retryable: a worker that re-enters the barrier
   * joins a new generation that releases with the survivors. `"release_survivors"` releases the
   * waiters as soon as every remaining live member has arrived.
   */
  barrierFailurePolicy?: BarrierFailurePolicy;
  /** Most live workers at once; registering beyond it is RESOURCE_EXHAUSTED. Default 10,000. */
  maxWorkers?: number;
  /** Most worker records kept for dead or departed workers (for rank return); the oldest are forgotten first. Default 10,000. */
  maxRetiredWorkers?: number;
  /** Most registered datasets. Default 1,000. */
  maxDatasets?: number;
  /**
   * Most shards one dataset may have (ceil(totalSamples / shardSize)); more is INVALID_ARGUMENT
   * naming `shardSize`. A plan holds 4 bytes per shard per active epoch, so this bounds memory a
   * client can make the coordinator spend. Default 1,000,000.
   */
  maxShardsPerDataset?: number;
  /** Most open (waiting) barriers. Default 10,000. */
  maxBarriers?: number;
  /** Most checkpoint steps kept per job; older steps' metadata is pruned (never user storage). Default 100. */
  maxCheckpointStepsPerJob?: number;
  /** Most jobs with checkpoint records. Default 1,000. */
  maxJobs?: number;
  /** Epochs of shard progress kept per dataset (the newest ones). Default 4. */
  maxProgressEpochsPerDataset?: number;
  /** Size of the recent-event ring buffer returned by `recentEvents()`. Default 1,000. */
  maxRecentEvents?: number;
  /** Most queued commands per worker; older ones are dropped first. Default 16. */
  maxPendingCommands?: number;
  /**
   * Shortest time between two re-plans of one epoch caused by JOINS. A re-plan costs time that
   * grows with shards × workers (hundreds of ms for 10,000 shards over 1,000 workers), so when
   * many workers join at once, a plan is reused for this long and each asker is told
   * `membership_changed` again until it has seen the fresh one. Deaths and departures re-plan at
   * once. 0 re-plans on every change. Default 1,000 ms.
   */
  minReplanIntervalMs?: number;
  /** Load bound slack of the shard assignment: no worker above ceil((1+ε)·fair share). Default: data-shard's default. */
  shardEpsilon?: number;
  /**
   * The `seq` of the first event this engine emits. Default 1. The coordinator passes one past
   * the highest seq its event history ever handed out, so seq keeps growing across restarts.
   */
  firstEventSeq?: number;
  /**
   * Consecutive failed store commits after which the engine stops (fail-stop): it calls
   * `onFatal`, and every later call fails with UNAVAILABLE. A single failure only fails the calls
   * whose changes it held (nothing of them is applied). Default 3.
   */
  maxConsecutiveStoreFailures?: number;
  /**
   * Called once when the store keeps failing. The coordinator process logs it and exits non-zero
   * rather than serve state it cannot keep.
   */
  onFatal?: (error: RuntimeError) => void;
  /** Extra key/values sent to every worker in `RegisterWorkerResult.config`, after its own metadata. */
  workerConfig?: Readonly<Record<string, string>>;
}

/** What a worker sends to register. */
export interface RegisterWorkerInput {
  workerId: string;
  hostname: string;
  port: number;
  gpuCount: number;
  memoryBytes: number;
  metadata: Readonly<Record<string, string>>;
}

/** The coordinator's answer to a registration. */
export interface RegisterWorkerResult {
  workerId: string;
  rank: number;
  /** Number of live workers, this one included. */
  worldSize: number;
  membershipVersion: number;
  heartbeatIntervalMs: number;
  /** The worker's registration metadata echoed, plus `workerConfig`. */
  config: Readonly<Record<string, string>>;
  incarnation: number;
}

/** The answer to a deregistration: the rank the worker held and the new world size. */
export interface DeregisterWorkerResult {
  workerId: string;
  rank: number;
  worldSize: number;
  membershipVersion: number;
}

/** One heartbeat. Absent fields leave the recorded value unchanged. */
export interface HeartbeatInput {
  workerId: string;
  /** The worker's state; must be a legal transition (runtime-core `WORKER_TRANSITIONS`). */
  state?: WorkerState;
  step?: number;
  epoch?: number;
  task?: string;
  resources?: ResourceUsage;
}

/** The answer to a heartbeat. */
export interface HeartbeatResult {
  serverTimeMs: number;
  /** Commands queued for this worker since its last heartbeat, each delivered once (e.g. `membership_changed`, `checkpoint`, `stop`). */
  pendingCommands: string[];
  membershipVersion: number;
  rank: number;
  worldSize: number;
}

/** A worker arriving at a barrier. */
export interface WaitBarrierInput {
  workerId: string;
  barrierId: string;
  /** The training step (informational; recorded for the dashboard). */
  step: number;
  /**
   * How long this barrier generation may wait, in ms, counted from its first arrival; the whole
   * generation fails with DEADLINE_EXCEEDED when it passes. Only the first arrival's value counts.
   * Default: `barrierTimeoutMs`.
   */
  timeoutMs?: number;
  /** Cancels this waiter (the client went away): it is removed and its arrival no longer counts. */
  signal?: AbortSignal;
}

/** A released barrier, as one waiter sees it. */
export interface BarrierResult {
  released: true;
  barrierId: string;
  /** How many workers were released together. */
  participants: number;
  /** This worker's arrival position in the generation, starting at 1. */
  arrivalOrder: number;
  /** The released workers' ids in arrival order (shared array; do not mutate). */
  arrived: readonly string[];
  membershipVersion: number;
  /** 1 for the first use of the barrier id, +1 for each later release/abort. */
  generation: number;
}

/** A shard of a worker's assignment, with what is left to read of it this epoch. */
export interface EngineShardAssignment extends ShardAssignment {
  /** Unconsumed sample ranges in order. Equal to `[{start: startIndex, end: endIndex}]` when nothing was consumed. */
  remainingRanges: readonly SampleRange[];
  consumedSamples: number;
}

/** One page of a worker's assignment for one dataset and epoch. */
export interface ShardAssignmentsResult {
  workerId: string;
  datasetId: string;
  epoch: number;
  membershipVersion: number;
  totalShards: number;
  /** Shards not yet fully consumed, in reading order (seeded per epoch when the dataset shuffles). */
  assignments: EngineShardAssignment[];
  /** Shards of the whole assignment (every page). */
  assignedShards: number;
  /** Where the next page starts; undefined on the last page. */
  nextOffset: number | undefined;
}

/** Which shards to ask for. */
export interface ShardRequestInput {
  workerId: string;
  datasetId: string;
  epoch: number;
  /** Position in the worker's list where the page starts. Default 0. */
  offset?: number;
  /** Most shards in the page. Default: all. */
  limit?: number;
  /**
   * The membership version of the first page: a later page of a different plan is
   * FAILED_PRECONDITION (the list changed; start again).
   */
  expectMembershipVersion?: number;
}

/** A report of consumed samples. Give `consumed` ranges, or `upTo` meaning [shard start, upTo). */
export interface ShardProgressInput {
  workerId: string;
  datasetId: string;
  epoch: number;
  shardId: number;
  consumed?: readonly SampleRange[];
  upTo?: number;
  /**
   * The membership version the worker's assignment came from; 0 or absent = not checked. When it
   * is stale AND the shard now belongs to another worker, the report is FAILED_PRECONDITION.
   */
  membershipVersion?: number;
}

/** The answer to a progress report. */
export interface ShardProgressResult {
  accepted: true;
  membershipVersion: number;
  consumedSamples: number;
  shardComplete: boolean;
  epochComplete: boolean;
}

/** The data position of one dataset epoch (what a checkpoint keeps), read by a live worker. */
export interface EpochPositionResult extends EpochPositionData {
  membershipVersion: number;
}

/** A live worker putting a dataset's progress back to a position read earlier. */
export interface RestoreProgressInput {
  workerId: string;
  position: EpochPositionData;
}

/** The answer to a progress restore. */
export interface RestoreProgressResult {
  /** Samples of the position's epoch consumed after the restore. */
  consumedSamples: number;
  /** Later epochs whose progress was forgotten. */
  forgottenEpochs: number[];
  /** The membership version after the restore (bumped, so workers ask for shards again). */
  membershipVersion: number;
}

/** A rank's part of a checkpoint, as a worker reports it. */
export interface NotifyCheckpointInput {
  workerId: string;
  /** Empty string = the default job `"default"`. */
  jobId: string;
  checkpointId: string;
  step: number;
  epoch: number;
  storagePath: string;
  sizeBytes: number;
  kind: CheckpointKind;
  metadata: Readonly<Record<string, string>>;
  /** The writer's rank; default the worker's current rank. */
  rank?: number;
  /** Rank parts this step needs; default (and 0) = the live world size when the step's first part arrives. */
  worldSize?: number;
  /**
   * A whole checkpoint, complete when it arrives: what a client means when it names neither a job
   * nor a world size (the original's clients, and DDP jobs where rank 0 saves the whole model).
   * The worker need not be registered then (its rank defaults to 0).
   */
  whole?: boolean;
}

/** The answer to a checkpoint report. */
export interface NotifyCheckpointResult {
  globalStep: number;
  /** True once every rank of the step's membership has reported. */
  complete: boolean;
  ranksReported: number;
  ranksExpected: number;
}

/** What a (re)starting worker asks to resume. */
export interface LatestCheckpointInput {
  workerId: string;
  /** Empty string = the default job. */
  jobId: string;
}

/** The latest complete checkpoint of a job, from one worker's point of view. */
export type LatestCheckpointResult =
  | { hasCheckpoint: false; membershipVersion: number }
  | {
      hasCheckpoint: true;
      /** This worker's rank part of the step, else rank 0's, else the lowest rank's. */
      checkpoint: CheckpointRecord;
      /** Every rank part of the step, by rank. */
      parts: readonly CheckpointRecord[];
      resumeStep: number;
      resumeEpoch: number;
      /**
       * The worker's shards at `resumeEpoch` for every registered dataset (empty if it is not a
       * live member), at most `MAX_RECOVERY_ASSIGNMENTS` (10,000) in all.
       */
      shardAssignments: EngineShardAssignment[];
      /** True when more shards exist than `shardAssignments` carries (page them with GetShardAssignments). */
      shardAssignmentsTruncated: boolean;
      membershipVersion: number;
    };

/** A worker as the read model shows it. */
export interface WorkerView extends WorkerInfo {
  /** `alive` counts toward membership; `dead` (declared) and `left` (deregistered) are kept only for rank return. */
  membership: "alive" | "dead" | "left";
  /** Samples the worker reported consumed, over all datasets and epochs since it registered. */
  samplesConsumed: number;
  pendingCommands: readonly string[];
}

/**
 * A worker as {@link CoordinatorEngine.forEachWorker} hands it out: the engine's own record, read
 * only and valid only during the call (no copy is made, so a once-a-second scan of 10,000
 * workers allocates nothing).
 */
export interface WorkerReading extends Readonly<Omit<WorkerInfo, "metadata">> {
  readonly metadata: Readonly<Record<string, string>>;
  /** `alive` counts toward membership; `dead` and `left` are kept only for rank return. */
  readonly status: "alive" | "dead" | "left";
  readonly samplesConsumed: number;
}

/** An open barrier as the read model shows it. */
export interface BarrierView {
  barrierId: string;
  generation: number;
  step: number;
  arrived: readonly string[];
  /** Live workers that have not arrived yet. */
  missing: readonly string[];
  createdAtMs: number;
  deadlineMs: number;
}

/** A dataset as the read model shows it. */
export interface DatasetView {
  spec: DatasetSpec;
  totalShards: number;
  registeredAtMs: number;
  /** Per epoch with recorded progress: samples consumed and whether the epoch is complete. */
  epochs: readonly { epoch: number; consumedSamples: number; complete: boolean }[];
}

/** A checkpoint step as the read model shows it. */
export interface CheckpointStepView {
  jobId: string;
  step: number;
  epoch: number;
  expectedRanks: number;
  ranksReported: readonly number[];
  complete: boolean;
  totalSizeBytes: number;
  createdAtMs: number;
  /** When the last expected rank reported; 0 while incomplete. */
  completedAtMs: number;
  /** The expected ranks. */
  expected: readonly number[];
  /** The reported parts, by rank. */
  parts: readonly CheckpointRecord[];
}

/** Monotonic counters since the engine started (for Prometheus). */
export interface EngineCounters {
  registrations: number;
  deregistrations: number;
  heartbeats: number;
  workersDeclaredDead: number;
  /** Times the failure detector ran late (a process stall) and extended deadlines instead of declaring deaths. */
  sweepStallsForgiven: number;
  membershipChanges: number;
  barriersReleased: number;
  barriersAborted: number;
  barriersTimedOut: number;
  shardsMoved: number;
  checkpointsRecorded: number;
  checkpointStepsCompleted: number;
  storeFlushes: number;
  /** Failed store commits (each failed every change it held). */
  storeErrors: number;
  /** Successful store commits (each may hold many changes: group commit). */
  storeCommits: number;
}

/** Everything the dashboard and metrics read, at one instant. */
export interface EngineSnapshot {
  atMs: number;
  startedAtMs: number;
  membershipVersion: number;
  worldSize: number;
  /** Live workers by rank, then dead/departed ones kept for rank return. */
  workers: WorkerView[];
  datasets: DatasetView[];
  barriers: BarrierView[];
  checkpoints: CheckpointStepView[];
  counters: EngineCounters;
  barrierFailurePolicy: BarrierFailurePolicy;
  heartbeatTimeoutMs: number;
}

/** Per-call options of the engine's async methods. */
export type EngineCallOptions = CallOptions;

/**
 * The coordinator's state machine, transport-agnostic: the gRPC and HTTP layers translate
 * requests into these calls and `RuntimeError` codes into statuses. Numbers are safe integers;
 * inputs are assumed validated by the edge (shape, ranges, lengths).
 */
export interface CoordinatorEngine {
  /** Loads durable state, gives previously live workers `restartGraceMs`, starts the failure detector. Idempotent. */
  start(): Promise<void>;
  /**
   * Stops timers, fails open barrier waiters with UNAVAILABLE ("coordinator shutting down"),
   * flushes liveness. Does not close the store. Idempotent: every call returns the same promise.
   */
  close(): Promise<void>;
  /** Whether `start()` completed and `close()` was not called (for `/api/ready`). */
  readonly ready: boolean;
  /** Resolves when every change already asked for is committed and applied (tests, shutdown). */
  idle(): Promise<void>;
  /**
   * Gives every live worker `graceMs` from now before the failure detector may declare it dead
   * (a coordinator that just became leader cannot know when each last heartbeated).
   */
  grantGrace(graceMs: number): void;

  /**
   * Registers a worker, or answers again for one already alive (same rank, no membership change).
   *
   * Rank policy: ranks are unique among live workers and never change while a worker lives. A
   * new worker takes the lowest free rank; a returning worker (same id after death or
   * deregistration) gets its previous rank back if no live worker holds it, else the lowest free
   * one. Ranks are not compacted when a worker leaves: the hole stays until the next joiner fills
   * it, so while holes exist a rank can be ≥ worldSize. Compacting would renumber survivors,
   * which is exactly the instability TorchElastic users complain about.
   *
   * Errors: RESOURCE_EXHAUSTED at `maxWorkers`; UNAVAILABLE before `start()` or after `close()`.
   */
  registerWorker(
    input: RegisterWorkerInput,
    options?: EngineCallOptions,
  ): Promise<RegisterWorkerResult>;
  /** Removes a live worker at once (membership bump, barriers, shard re-plan). NOT_FOUND if it is not a live worker. */
  deregisterWorker(workerId: string, options?: EngineCallOptions): Promise<DeregisterWorkerResult>;
  /**
   * Records liveness, state and progress. Synchronous and allocation-light (hot path); liveness
   * is persisted in batches. NOT_FOUND for an unknown or dead worker, so the worker registers
   * again (a new incarnation; its old rank is returned if still free). FAILED_PRECONDITION for an
   * illegal state transition (nothing is recorded then).
   */
  heartbeat(input: HeartbeatInput): HeartbeatResult;
  /** Queues a command for a live worker's next heartbeat (deduplicated). NOT_FOUND if it is not live. */
  queueCommand(workerId: string, command: string): void;

  /**
   * Waits until every live member has arrived at `barrierId`. Resolves for every waiter in one
   * synchronous pass. Rejects with FAILED_PRECONDITION when the caller is not a live worker,
   * ABORTED naming the dead worker (policy `abort`), DEADLINE_EXCEEDED when the generation's
   * timeout passes, CANCELED when `signal` aborts, RESOURCE_EXHAUSTED beyond `maxBarriers`.
   * A repeated arrival by one worker counts once and gets the same arrival order.
   */
  waitBarrier(input: WaitBarrierInput): Promise<BarrierResult>;

  /**
   * Registers a dataset. The same spec again is a no-op; a different spec under the same id is
   * ALREADY_EXISTS naming the fields that differ; RESOURCE_EXHAUSTED at `maxDatasets`.
   */
  registerDataset(
    spec: DatasetSpec,
    options?: EngineCallOptions,
  ): Promise<{ totalShards: number; created: boolean }>;
  /**
   * Every shard of a worker's assignment for an epoch over the live workers (data-shard's
   * bounded-load assignment: deterministic, independent of join order, seeded reading order),
   * except that shards a worker has started stay with it while it lives. `membershipVersion` is
   * the version the plan was made for; right after joins it can be older than the current one
   * (see `minReplanIntervalMs`), and the worker is then told `membership_changed` again.
   * NOT_FOUND for an unknown dataset, FAILED_PRECONDITION when the worker is not live.
   */
  getShardAssignments(input: ShardRequestInput): ShardAssignmentsResult;
  /** The original GetDataShard answer: the first shard of the list; NOT_FOUND "no shards for this worker" when empty. */
  getDataShard(input: ShardRequestInput): EngineShardAssignment;
  /**
   * Records consumed samples of a shard (durable before it resolves) and pins the rest of the
   * shard to the reporting worker for this epoch. Ranges are positions in [startIndex, endIndex)
   * in the shard's reading order (data-shard's convention; with shuffle off, sample indices).
   * Report a shard as soon as you start it (`upTo: startIndex` is a valid claim) so a join cannot
   * move it away mid-read. FAILED_PRECONDITION when the shard belongs to another worker (ask for
   * the assignment again); OUT_OF_RANGE for ranges outside the shard; reports on a fully consumed
   * shard are accepted as no-ops.
   */
  reportShardProgress(
    input: ShardProgressInput,
    options?: EngineCallOptions,
  ): Promise<ShardProgressResult>;

  /**
   * The data position of one dataset epoch (complete shards as a bitmap, partial ones with their
   * ranges): what a checkpoint keeps so a resuming job can restore it. NOT_FOUND for an unknown
   * dataset, FAILED_PRECONDITION when the worker is not live.
   */
  getShardProgress(input: ShardRequestInput): EpochPositionResult;
  /**
   * Puts a dataset's progress back to a position (durable before it resolves): the epoch's
   * consumed ranges become the position's, pins and plans are dropped, later epochs are
   * forgotten, and the membership version is bumped so every live worker asks for its shards
   * again. INVALID_ARGUMENT when the position does not fit the dataset.
   */
  restoreShardProgress(
    input: RestoreProgressInput,
    options?: EngineCallOptions,
  ): Promise<RestoreProgressResult>;

  /** Records one rank's part of a checkpoint step (durable before it resolves). The coordinator never reads or deletes `storagePath`. */
  notifyCheckpoint(
    input: NotifyCheckpointInput,
    options?: EngineCallOptions,
  ): Promise<NotifyCheckpointResult>;
  /** The latest complete checkpoint of a job (highest complete step) for a resuming worker. */
  getLatestCheckpoint(input: LatestCheckpointInput): LatestCheckpointResult;

  /**
   * Stores an auxiliary record (durable before it resolves; replicated with the rest of the
   * state): how the HTTP side keeps its tasks. Replaces a record with the same kind and id.
   */
  putRecord(kind: string, id: string, json: string): Promise<void>;
  /** Deletes an auxiliary record (durable before it resolves); a missing one is a no-op. */
  deleteRecord(kind: string, id: string): Promise<void>;
  /** Every auxiliary record of a kind, in insertion order. */
  records(kind: string): { id: string; json: string }[];

  /**
   * One page of a dataset epoch's shard map for the dashboard (default epoch: the newest with
   * progress or a plan; default page: offset 0, 10,000 shards). NOT_FOUND for an unknown dataset.
   */
  datasetShardMap(
    datasetId: string,
    options?: { epoch?: number; offset?: number; limit?: number },
  ): ShardMapPage;
  /** Shards each live worker holds in the newest planned epoch of every dataset (summed). */
  assignedShardCounts(): ReadonlyMap<string, number>;
  /** The seq of the newest event (firstEventSeq − 1 before any). */
  readonly lastEventSeq: number;

  /**
   * A consistent read model of everything, for the dashboard and metrics. With
   * `{ workers: false }` the worker list is left empty (a copy per worker costs ~2 µs: skip it
   * when {@link forEachWorker} will do).
   */
  snapshot(options?: { workers?: boolean }): EngineSnapshot;
  /** Visits every worker, live ones by rank then retired ones, without copying (see {@link WorkerReading}). */
  forEachWorker(visit: (worker: WorkerReading) => void): void;
  /** One worker's view, or undefined when the coordinator does not know it. */
  worker(workerId: string): WorkerView | undefined;
  /** The current membership version and live worker ids by rank. */
  membership(): { version: number; workers: readonly { workerId: string; rank: number }[] };
  /** Subscribes to state-change events; returns the unsubscribe function. Listeners must not throw (errors are logged). */
  onEvent(listener: (event: CoordinatorEvent) => void): () => void;
  /** The most recent events, oldest first (bounded by `maxRecentEvents`). */
  recentEvents(): readonly CoordinatorEvent[];
}
