import type { CheckpointRecord } from "@strata/runtime-core";
import type {
  StoredBarrierRelease,
  StoredCheckpointStep,
  StoredDataset,
  StoredShardProgress,
  StoredWorker,
  StoreOp,
} from "../store/coordinator-store.js";

/**
 * What planning reads about the state: the committed state, or a {@link Draft} (the committed
 * state plus the changes planned earlier in the same batch). Workers come back in their stored
 * shape (membership fields are what planning needs).
 */
export interface StateView {
  worker(workerId: string): StoredWorker | undefined;
  liveCount(): number;
  membershipVersion(): number;
  /** The membership version right after the most recent death or departure (0 if none). */
  lastDepartureVersion(): number;
  /** Whether a live worker holds `rank`. */
  isRankHeld(rank: number): boolean;
  /** The lowest rank no live worker holds. */
  lowestFreeRank(): number;
  dataset(datasetId: string): StoredDataset | undefined;
  datasetCount(): number;
  /** A shard's consumed ranges and pin in one epoch; undefined when nothing was recorded. */
  progress(datasetId: string, epoch: number, shardId: number): StoredShardProgress | undefined;
  checkpointStep(jobId: string, step: number): StoredCheckpointStep | undefined;
  /** The rank parts of a step, by rank. */
  checkpointParts(jobId: string, step: number): ReadonlyMap<number, CheckpointRecord>;
  /** Steps of a job, in no particular order. */
  checkpointStepsOf(jobId: string): number[];
  jobCount(): number;
  hasJob(jobId: string): boolean;
  record(kind: string, id: string): string | undefined;
  recordCount(kind: string): number;
  barrierRelease(barrierId: string): StoredBarrierRelease | undefined;
}

/**
 * The changes planned so far in one batch, layered over the committed state: planning reads
 * through it, so the tenth registration of a burst sees the first nine (their ranks, the world
 * size, the membership version) although none is committed yet. It only records; nothing in it
 * is ever applied to memory directly (the committed ops are, after the commit).
 */
export class Draft implements StateView {
  readonly #base: StateView;
  readonly #workers = new Map<string, StoredWorker | null>();
  readonly #claimedRanks = new Set<number>();
  #rankCursor: number | undefined;
  #liveDelta = 0;
  #membershipVersion: number | undefined;
  #lastDepartureVersion: number | undefined;
  readonly #datasets = new Map<string, StoredDataset>();
  readonly #progress = new Map<string, StoredShardProgress>();
  readonly #steps = new Map<string, StoredCheckpointStep | null>();
  readonly #parts = new Map<string, Map<number, CheckpointRecord>>();
  readonly #newJobs = new Set<string>();
  readonly #records = new Map<string, string | null>();
  readonly #recordDelta = new Map<string, number>();
  readonly #releases = new Map<string, StoredBarrierRelease | null>();

  constructor(base: StateView) {
    this.#base = base;
  }

  /** Layers one planned op over the committed state. */
  add(op: StoreOp): void {
    switch (op.t) {
      case "put_worker": {
        const before = this.worker(op.worker.workerId);
        const wasLive = before?.status === "alive";
        const isLive = op.worker.status === "alive";
        if (wasLive !== isLive) this.#liveDelta += isLive ? 1 : -1;
        if (isLive) this.#claimedRanks.add(op.worker.rank);
        this.#workers.set(op.worker.workerId, op.worker);
        return;
      }
      case "delete_worker": {
        if (this.worker(op.workerId)?.status === "alive") this.#liveDelta--;
        this.#workers.set(op.workerId, null);
        return;
      }
      case "set_membership_version":
        this.#membershipVersion = op.version;
        if (op.reason === "left" || op.reason === "dead") this.#lastDepartureVersion = op.version;
        return;
      case "put_dataset":
        this.#datasets.set(op.dataset.spec.datasetId, op.dataset);
        return;
      case "put_shard_progress":
        this.#progress.set(
          progressKey(op.progress.datasetId, op.progress.epoch, op.progress.shardId),
          op.progress,
        );
        return;
      case "put_checkpoint_step": {
        const key = stepKey(op.step.jobId, op.step.step);
        if (!this.#base.hasJob(op.step.jobId)) this.#newJobs.add(op.step.jobId);
        this.#steps.set(key, op.step);
        return;
      }
      case "put_checkpoint": {
        const key = stepKey(op.record.jobId, op.record.step);
        let parts = this.#parts.get(key);
        if (parts === undefined) {
          parts = new Map(this.#base.checkpointParts(op.record.jobId, op.record.step));
          this.#parts.set(key, parts);
        }
        parts.set(op.record.rank, op.record);
        return;
      }
      case "delete_checkpoint_step": {
        const key = stepKey(op.jobId, op.step);
        this.#steps.set(key, null);
        this.#parts.set(key, new Map());
        return;
      }
      case "put_record": {
        const key = recordKey(op.record.kind, op.record.id);
        if (this.record(op.record.kind, op.record.id) === undefined) {
          this.#recordDelta.set(op.record.kind, (this.#recordDelta.get(op.record.kind) ?? 0) + 1);
        }
        this.#records.set(key, op.record.json);
        return;
      }
      case "delete_record": {
        if (this.record(op.kind, op.id) !== undefined) {
          this.#recordDelta.set(op.kind, (this.#recordDelta.get(op.kind) ?? 0) - 1);
        }
        this.#records.set(recordKey(op.kind, op.id), null);
        return;
      }
      case "put_barrier_release":
        this.#releases.set(op.release.barrierId, op.release);
        return;
      case "delete_barrier_release":
        this.#releases.set(op.barrierId, null);
        return;
      // Liveness, plans and whole-epoch deletions are never read back by planning in the same
      // batch (restores, which delete epochs, run in a batch of their own).
      case "put_liveness":
      case "put_shard_plan":
      case "delete_shard_progress_before":
      case "delete_shard_progress_from":
        return;
    }
  }

  worker(workerId: string): StoredWorker | undefined {
    const w = this.#workers.get(workerId);
    if (w === null) return undefined;
    return w ?? this.#base.worker(workerId);
  }

  liveCount(): number {
    return this.#base.liveCount() + this.#liveDelta;
  }

  membershipVersion(): number {
    return this.#membershipVersion ?? this.#base.membershipVersion();
  }

  lastDepartureVersion(): number {
    return this.#lastDepartureVersion ?? this.#base.lastDepartureVersion();
  }

  isRankHeld(rank: number): boolean {
    return this.#claimedRanks.has(rank) || this.#base.isRankHeld(rank);
  }

  lowestFreeRank(): number {
    // Ranks freed earlier in this batch are not reused before the batch commits.
    let r = this.#rankCursor ?? this.#base.lowestFreeRank();
    while (this.isRankHeld(r)) r++;
    this.#rankCursor = r;
    return r;
  }

  /** Shard progress planned earlier in this batch. */
  pendingProgress(): Iterable<StoredShardProgress> {
    return this.#progress.values();
  }

  dataset(datasetId: string): StoredDataset | undefined {
    return this.#datasets.get(datasetId) ?? this.#base.dataset(datasetId);
  }

  datasetCount(): number {
    let added = 0;
    for (const id of this.#datasets.keys()) if (this.#base.dataset(id) === undefined) added++;
    return this.#base.datasetCount() + added;
  }

  progress(datasetId: string, epoch: number, shardId: number): StoredShardProgress | undefined {
    return (
      this.#progress.get(progressKey(datasetId, epoch, shardId)) ??
      this.#base.progress(datasetId, epoch, shardId)
    );
  }

  checkpointStep(jobId: string, step: number): StoredCheckpointStep | undefined {
    const s = this.#steps.get(stepKey(jobId, step));
    if (s === null) return undefined;
    return s ?? this.#base.checkpointStep(jobId, step);
  }

  checkpointParts(jobId: string, step: number): ReadonlyMap<number, CheckpointRecord> {
    return this.#parts.get(stepKey(jobId, step)) ?? this.#base.checkpointParts(jobId, step);
  }

  checkpointStepsOf(jobId: string): number[] {
    const steps = new Set(this.#base.checkpointStepsOf(jobId));
    for (const [key, s] of this.#steps) {
      const [job, step] = splitStepKey(key);
      if (job !== jobId) continue;
      if (s === null) steps.delete(step);
      else steps.add(step);
    }
    return [...steps];
  }

  jobCount(): number {
    return this.#base.jobCount() + this.#newJobs.size;
  }

  hasJob(jobId: string): boolean {
    return this.#newJobs.has(jobId) || this.#base.hasJob(jobId);
  }

  record(kind: string, id: string): string | undefined {
    const r = this.#records.get(recordKey(kind, id));
    if (r === null) return undefined;
    return r ?? this.#base.record(kind, id);
  }

  recordCount(kind: string): number {
    return this.#base.recordCount(kind) + (this.#recordDelta.get(kind) ?? 0);
  }

  barrierRelease(barrierId: string): StoredBarrierRelease | undefined {
    const r = this.#releases.get(barrierId);
    if (r === null) return undefined;
    return r ?? this.#base.barrierRelease(barrierId);
  }
}

/** Key of one shard's progress in one epoch. */
export function progressKey(datasetId: string, epoch: number, shardId: number): string {
  return `${datasetId}\u0000${epoch}\u0000${shardId}`;
}

function stepKey(jobId: string, step: number): string {
  return `${jobId}\u0000${step}`;
}

function splitStepKey(key: string): [string, number] {
  const i = key.lastIndexOf("\u0000");
  return [key.slice(0, i), Number(key.slice(i + 1))];
}

function recordKey(kind: string, id: string): string {
  return `${kind}\u0000${id}`;
}
