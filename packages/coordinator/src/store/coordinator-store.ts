import type { CheckpointRecord, DatasetSpec, SampleRange, WorkerState } from "@strata/runtime-core";

/**
 * A worker as the store keeps it. Liveness (`lastHeartbeatMs`, `state`, progress) is flushed in
 * batches, so after a crash it may be up to one flush interval old; membership fields (`rank`,
 * `incarnation`, `status`) are written through before the RPC that changed them answers.
 */
export interface StoredWorker {
  workerId: string;
  hostname: string;
  port: number;
  gpuCount: number;
  memoryBytes: number;
  metadata: Readonly<Record<string, string>>;
  /** The rank the worker holds while alive, and asks back when it returns. */
  rank: number;
  /** 1 for the first registration, +1 for each registration after death or deregistration. */
  incarnation: number;
  /** `alive` counts toward membership; `dead` and `left` keep the record only for rank return. */
  status: "alive" | "dead" | "left";
  state: WorkerState;
  registeredAtMs: number;
  lastHeartbeatMs: number;
  currentStep: number;
  currentEpoch: number;
  currentTask: string;
}

/** A dataset and its shard count as registered. */
export interface StoredDataset {
  spec: DatasetSpec;
  totalShards: number;
  registeredAtMs: number;
}

/** What was consumed of one shard in one epoch, and which worker holds the rest of it. */
export interface StoredShardProgress {
  datasetId: string;
  epoch: number;
  shardId: number;
  /** Sorted, merged, non-overlapping ranges of consumed sample indices. */
  consumed: readonly SampleRange[];
  /** The worker the unconsumed rest is pinned to; empty when not pinned. */
  ownerWorkerId: string;
}

/**
 * The shard ownership plan in force for a dataset, as data-shard's `serializeShardPlan` JSON.
 * Kept so a restarted coordinator re-plans from the same owners (minimal movement).
 */
export interface StoredShardPlan {
  datasetId: string;
  plan: string;
}

/** One checkpoint step of one job: how many rank parts it needs, and whether all arrived. */
export interface StoredCheckpointStep {
  jobId: string;
  step: number;
  epoch: number;
  /** The ranks whose parts the step needs (the live ranks when its first part arrived, or 0…worldSize−1 when the writer said). */
  expectedRanks: readonly number[];
  complete: boolean;
  createdAtMs: number;
  completedAtMs: number;
}

/**
 * An auxiliary record kept for a part of the coordinator outside the engine (the HTTP side's
 * tasks): an opaque JSON document under (`kind`, `id`), stored and replicated like every other
 * piece of state so it survives restarts and, on etcd, a change of leader.
 */
export interface StoredRecord {
  /** What the record is, e.g. `task`. 1 to 64 characters. */
  kind: string;
  id: string;
  /** The record itself, as JSON text. */
  json: string;
}

/**
 * The last release of a barrier id: kept so a worker whose answer was lost (a dropped connection,
 * a coordinator restart or a change of leader) and that asks again for the same step is answered
 * from it instead of opening a generation nobody else will join.
 */
export interface StoredBarrierRelease {
  barrierId: string;
  generation: number;
  step: number;
  /** Released workers in arrival order. */
  participants: readonly string[];
  releasedAtMs: number;
  membershipVersion: number;
}

/**
 * One change to durable state. {@link CoordinatorStore.apply} applies a list of them atomically,
 * so one membership change (worker row + membership version) is one transaction.
 */
export type StoreOp =
  | { t: "put_worker"; worker: StoredWorker }
  /** Liveness only: the batched heartbeat flush. Ignored when the worker row does not exist. */
  | {
      t: "put_liveness";
      workerId: string;
      state: WorkerState;
      lastHeartbeatMs: number;
      currentStep: number;
      currentEpoch: number;
      currentTask: string;
    }
  | { t: "delete_worker"; workerId: string }
  | {
      t: "set_membership_version";
      version: number;
      /** Why it grew (the engine's bookkeeping; stores ignore it). */
      reason?: "joined" | "left" | "dead" | "restore";
    }
  | { t: "put_dataset"; dataset: StoredDataset }
  | { t: "put_shard_progress"; progress: StoredShardProgress }
  | { t: "put_shard_plan"; plan: StoredShardPlan }
  /** Drops every progress row of `datasetId` with an epoch below `beforeEpoch`. */
  | { t: "delete_shard_progress_before"; datasetId: string; beforeEpoch: number }
  /** Drops every progress row of `datasetId` with an epoch of `fromEpoch` or later (a restore). */
  | { t: "delete_shard_progress_from"; datasetId: string; fromEpoch: number }
  | { t: "put_checkpoint_step"; step: StoredCheckpointStep }
  | { t: "put_checkpoint"; record: CheckpointRecord }
  /** Drops a checkpoint step and its rank records (metadata only; user storage is never touched). */
  | { t: "delete_checkpoint_step"; jobId: string; step: number }
  | { t: "put_record"; record: StoredRecord }
  | { t: "put_barrier_release"; release: StoredBarrierRelease }
  | { t: "delete_barrier_release"; barrierId: string }
  | { t: "delete_record"; kind: string; id: string };

/** Everything the store holds, read once when the engine starts. */
export interface StoredState {
  membershipVersion: number;
  workers: StoredWorker[];
  datasets: StoredDataset[];
  shardProgress: StoredShardProgress[];
  /** Absent in states written before shard plans were kept. */
  shardPlans?: StoredShardPlan[];
  checkpointSteps: StoredCheckpointStep[];
  checkpoints: CheckpointRecord[];
  /** Absent in states written before auxiliary records were kept. */
  records?: StoredRecord[];
  /** Absent in states written before barrier releases were kept. */
  barrierReleases?: StoredBarrierRelease[];
}

/** Per-call options of {@link CoordinatorStore.apply}. */
export interface ApplyOptions {
  /**
   * Sizes of consecutive groups of `ops`, one group per state change (they sum to `ops.length`).
   * A backend that cannot commit everything in one transaction (etcd limits operations per
   * transaction) may commit the groups in several transactions but never splits a group, so no
   * state change is ever half-stored. Backends that commit everything at once ignore it.
   */
  groups?: readonly number[];
}

/**
 * Durable coordinator state behind one small interface (`load`, `apply`, `close`) with three
 * backends: memory, SQLite and etcd. The engine writes every change through `apply` first and
 * applies it to its working copy in memory only once `apply` resolved (write first, then apply).
 */
export interface CoordinatorStore {
  /** A short name for logs and metrics: `sqlite`, `memory`. */
  readonly kind: string;
  /** Reads the whole state. Called once, at engine start. */
  load(): Promise<StoredState>;
  /**
   * Applies `ops` in order and resolves once they are durable. All or nothing, except that a
   * backend may commit `options.groups` separately (never splitting one). Rejects with
   * `RuntimeError(Unavailable)` on I/O failure, leaving nothing of a failed group applied.
   */
  apply(ops: readonly StoreOp[], options?: ApplyOptions): Promise<void>;
  /**
   * Whether the batched heartbeat liveness (`put_liveness`) is worth writing. A backend where each
   * write is replicated (etcd) says false: liveness stays in the leader's memory and a new leader
   * grants every worker a grace period instead. Default true.
   */
  readonly persistsLiveness?: boolean;
  /** Releases the database. Idempotent: every call returns the same promise. */
  close(): Promise<void>;
}
