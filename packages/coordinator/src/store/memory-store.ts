import type { CheckpointRecord } from "@strata/runtime-core";
import { Code, RuntimeError } from "@strata/runtime-core";
import type {
  CoordinatorStore,
  StoredBarrierRelease,
  StoredCheckpointStep,
  StoredDataset,
  StoredRecord,
  StoredShardPlan,
  StoredShardProgress,
  StoredState,
  StoredWorker,
  StoreOp,
} from "./coordinator-store.js";

/** Options for {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** State to start from (for tests that simulate a restart). Default: empty. */
  initial?: StoredState;
}

/** A store that keeps the durable state in process memory (tests, `--data-dir :memory:`). Lost on exit. */
export interface MemoryStore extends CoordinatorStore {
  /** A deep copy of the current state, as `load()` would return it. */
  dump(): StoredState;
  /**
   * Fault injection for tests: the next `count` calls to `apply` reject with
   * `RuntimeError(Unavailable)` ("disk full") and change nothing. `Infinity` fails every call
   * until `failApplies(0)`.
   */
  failApplies(count: number): void;
  /** How many `apply` calls have been made (fault-injection tests count commits). */
  readonly applyCount: number;
}

/**
 * Creates an in-memory {@link CoordinatorStore}. It applies ops exactly like the SQLite store,
 * so the engine behaves the same on both; `dump()` lets a test restart an engine on the state.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const workers = new Map<string, StoredWorker>();
  const datasets = new Map<string, StoredDataset>();
  const progress = new Map<string, StoredShardProgress>();
  const plans = new Map<string, StoredShardPlan>();
  const steps = new Map<string, StoredCheckpointStep>();
  const checkpoints = new Map<string, CheckpointRecord>();
  const records = new Map<string, StoredRecord>();
  const releases = new Map<string, StoredBarrierRelease>();
  let membershipVersion = 0;
  let closing: Promise<void> | undefined;
  let failuresLeft = 0;
  let applyCount = 0;

  const init = options.initial;
  if (init !== undefined) {
    membershipVersion = init.membershipVersion;
    for (const w of init.workers) workers.set(w.workerId, structuredClone(w));
    for (const d of init.datasets) datasets.set(d.spec.datasetId, structuredClone(d));
    for (const p of init.shardProgress) progress.set(progressKey(p), structuredClone(p));
    for (const p of init.shardPlans ?? []) plans.set(p.datasetId, { ...p });
    for (const s of init.checkpointSteps) steps.set(stepKey(s.jobId, s.step), structuredClone(s));
    for (const c of init.checkpoints) checkpoints.set(recordKey(c), structuredClone(c));
    for (const r of init.records ?? []) records.set(auxKey(r.kind, r.id), { ...r });
    for (const r of init.barrierReleases ?? []) releases.set(r.barrierId, structuredClone(r));
  }

  function dump(): StoredState {
    return structuredClone({
      membershipVersion,
      workers: [...workers.values()],
      datasets: [...datasets.values()],
      shardProgress: [...progress.values()],
      shardPlans: [...plans.values()],
      checkpointSteps: [...steps.values()],
      checkpoints: [...checkpoints.values()],
      records: [...records.values()],
      barrierReleases: [...releases.values()],
    });
  }

  function applyOne(op: StoreOp): void {
    switch (op.t) {
      case "put_worker":
        workers.set(op.worker.workerId, structuredClone(op.worker));
        return;
      case "put_liveness": {
        const w = workers.get(op.workerId);
        if (w === undefined) return;
        w.state = op.state;
        w.lastHeartbeatMs = op.lastHeartbeatMs;
        w.currentStep = op.currentStep;
        w.currentEpoch = op.currentEpoch;
        w.currentTask = op.currentTask;
        return;
      }
      case "delete_worker":
        workers.delete(op.workerId);
        return;
      case "set_membership_version":
        membershipVersion = op.version;
        return;
      case "put_dataset":
        datasets.set(op.dataset.spec.datasetId, structuredClone(op.dataset));
        return;
      case "put_shard_progress":
        progress.set(progressKey(op.progress), structuredClone(op.progress));
        return;
      case "put_shard_plan":
        plans.set(op.plan.datasetId, { ...op.plan });
        return;
      case "delete_shard_progress_before":
        for (const [key, p] of progress) {
          if (p.datasetId === op.datasetId && p.epoch < op.beforeEpoch) progress.delete(key);
        }
        return;
      case "delete_shard_progress_from":
        for (const [key, p] of progress) {
          if (p.datasetId === op.datasetId && p.epoch >= op.fromEpoch) progress.delete(key);
        }
        return;
      case "put_checkpoint_step":
        steps.set(stepKey(op.step.jobId, op.step.step), structuredClone(op.step));
        return;
      case "put_checkpoint":
        checkpoints.set(recordKey(op.record), structuredClone(op.record));
        return;
      case "delete_checkpoint_step":
        steps.delete(stepKey(op.jobId, op.step));
        for (const [key, c] of checkpoints) {
          if (c.jobId === op.jobId && c.step === op.step) checkpoints.delete(key);
        }
        return;
      case "put_record":
        records.set(auxKey(op.record.kind, op.record.id), { ...op.record });
        return;
      case "delete_record":
        records.delete(auxKey(op.kind, op.id));
        return;
      case "put_barrier_release":
        releases.set(op.release.barrierId, structuredClone(op.release));
        return;
      case "delete_barrier_release":
        releases.delete(op.barrierId);
        return;
    }
  }

  return {
    kind: "memory",
    async load() {
      if (closing !== undefined) throw closedError();
      return dump();
    },
    async apply(ops) {
      applyCount++;
      if (closing !== undefined) throw closedError();
      if (failuresLeft > 0) {
        failuresLeft--;
        throw new RuntimeError("injected store failure: no space left on device", {
          code: Code.Unavailable,
        });
      }
      for (const op of ops) applyOne(op);
    },
    failApplies(count) {
      failuresLeft = count;
    },
    get applyCount() {
      return applyCount;
    },
    close() {
      closing ??= Promise.resolve();
      return closing;
    },
    dump,
  };
}

function closedError(): RuntimeError {
  return new RuntimeError("coordinator store is closed", { code: Code.Unavailable });
}

function progressKey(p: { datasetId: string; epoch: number; shardId: number }): string {
  return `${p.datasetId}\u0000${p.epoch}\u0000${p.shardId}`;
}

function stepKey(jobId: string, step: number): string {
  return `${jobId}\u0000${step}`;
}

function auxKey(kind: string, id: string): string {
  return `${kind}\u0000${id}`;
}

function recordKey(c: { jobId: string; step: number; rank: number }): string {
  return `${c.jobId}\u0000${c.step}\u0000${c.rank}`;
}
