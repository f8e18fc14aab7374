import type { CheckpointRecord, Logger } from "@strata/runtime-core";
import { Code, createSilentLogger, RuntimeError } from "@strata/runtime-core";
import type { Etcd3, IOperation, Namespace } from "etcd3";
import { Range } from "etcd3";
import type {
  ApplyOptions,
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

/** Proof of leadership every write must carry: the campaign key and the lease it lives on. */
export interface EtcdFence {
  /** The election key of this coordinator's campaign (full key, namespace prefix included). */
  key: string;
  /** The lease id (decimal) the campaign key is attached to. */
  leaseId: string;
}

/** Options for {@link createEtcdStore}. */
export interface EtcdStoreOptions {
  /** A connected etcd3 client. The store does not close it. */
  client: Etcd3;
  /** Key prefix for everything Strata keeps. Default `/strata/`. */
  prefix?: string;
  /**
   * The current leadership proof. Every transaction compares it (the campaign key still held by
   * our lease), so a coordinator that lost its lease can never write again: its writes fail
   * instead of overwriting the new leader's state.
   */
  fence: () => EtcdFence;
  /**
   * Most operations per transaction: etcd refuses more than its `--max-txn-ops` (128 by
   * default). A state change that needs more is split into several transactions (logged).
   */
  maxTxnOps?: number;
  /**
   * Shard plans bigger than this are not stored (etcd refuses requests over 1.5 MiB by default);
   * a plan only keeps movement minimal across a change of leader. Default 1,000,000 bytes.
   */
  maxPlanBytes?: number;
  logger?: Logger;
}

/** Keys under the prefix. Ids are validated at the edge (`[A-Za-z0-9._:-]`), so they never hold `/`. */
const K = {
  version: "state/version",
  worker: (id: string) => `state/w/${id}`,
  dataset: (id: string) => `state/d/${id}`,
  progressPrefix: (ds: string) => `state/p/${ds}/`,
  progress: (ds: string, epoch: number, shard: number) => `state/p/${ds}/${epoch}/${shard}`,
  plan: (ds: string) => `state/plan/${ds}`,
  step: (job: string, step: number) => `state/s/${job}/${step}`,
  partsPrefix: (job: string, step: number) => `state/c/${job}/${step}/`,
  part: (job: string, step: number, rank: number) => `state/c/${job}/${step}/${rank}`,
  record: (kind: string, id: string) => `state/r/${kind}/${id}`,
  release: (id: string) => `state/b/${id}`,
};

/**
 * The coordinator's state in etcd, for a highly available coordinator: every record is one key
 * (JSON), every state change one transaction fenced by the leader's lease, so a record is never
 * half-updated and a deposed leader cannot write. Heartbeat liveness is not written
 * (`persistsLiveness: false`): it stays in the leader's memory, and a new leader gives every
 * worker a grace period instead, so a thousand heartbeats a second never become a thousand etcd
 * writes.
 */
export function createEtcdStore(options: EtcdStoreOptions): CoordinatorStore {
  const ns: Namespace = options.client.namespace(options.prefix ?? "/strata/");
  const maxTxnOps = options.maxTxnOps ?? 128;
  const maxPlanBytes = options.maxPlanBytes ?? 1_000_000;
  const log = (options.logger ?? createSilentLogger()).child({ component: "etcd-store" });
  let closed = false;
  let warnedPlan = false;

  const put = (key: string, value: string): Write => ({
    key,
    prefix: false,
    op: ns.put(key).value(value),
  });
  const del = (key: string): Write => ({ key, prefix: false, op: ns.delete().key(key) });
  const delPrefix = (key: string): Write => ({ key, prefix: true, op: ns.delete().prefix(key) });

  /** The etcd writes of one store op (range deletes read the keys first). */
  async function toEtcd(op: StoreOp): Promise<Write[]> {
    switch (op.t) {
      case "put_worker":
        return [put(K.worker(op.worker.workerId), JSON.stringify(op.worker))];
      case "put_liveness":
        return [];
      case "delete_worker":
        return [del(K.worker(op.workerId))];
      case "set_membership_version":
        return [put(K.version, String(op.version))];
      case "put_dataset":
        return [put(K.dataset(op.dataset.spec.datasetId), datasetJson(op.dataset))];
      case "put_shard_progress": {
        const p = op.progress;
        return [
          put(
            K.progress(p.datasetId, p.epoch, p.shardId),
            JSON.stringify({ c: p.consumed, o: p.ownerWorkerId }),
          ),
        ];
      }
      case "put_shard_plan":
        if (op.plan.plan.length > maxPlanBytes) {
          if (!warnedPlan) {
            warnedPlan = true;
            log.warn(
              { datasetId: op.plan.datasetId, bytes: op.plan.plan.length, maxPlanBytes },
              "shard plan too big for etcd; not stored (a new leader re-plans history-free)",
            );
          }
          return [];
        }
        return [put(K.plan(op.plan.datasetId), op.plan.plan)];
      case "delete_shard_progress_before":
      case "delete_shard_progress_from": {
        const keys = await ns.getAll().prefix(K.progressPrefix(op.datasetId)).keys();
        const out: Write[] = [];
        for (const key of keys) {
          const epoch = Number(key.slice(K.progressPrefix(op.datasetId).length).split("/")[0]);
          const drop =
            op.t === "delete_shard_progress_before"
              ? epoch < op.beforeEpoch
              : epoch >= op.fromEpoch;
          if (drop) out.push(del(key));
        }
        return out;
      }
      case "put_checkpoint_step":
        return [put(K.step(op.step.jobId, op.step.step), JSON.stringify(op.step))];
      case "put_checkpoint": {
        const r = op.record;
        return [put(K.part(r.jobId, r.step, r.rank), JSON.stringify(r))];
      }
      case "delete_checkpoint_step":
        return [del(K.step(op.jobId, op.step)), delPrefix(K.partsPrefix(op.jobId, op.step))];
      case "put_record":
        return [put(K.record(op.record.kind, op.record.id), op.record.json)];
      case "delete_record":
        return [del(K.record(op.kind, op.id))];
      case "put_barrier_release":
        return [put(K.release(op.release.barrierId), JSON.stringify(op.release))];
      case "delete_barrier_release":
        return [del(K.release(op.barrierId))];
    }
  }

  async function commit(ops: readonly IOperation[]): Promise<void> {
    const fence = options.fence();
    const result = await options.client
      .if(fence.key, "Lease", "==", fence.leaseId)
      .then(...ops)
      .commit();
    if (!result.succeeded) {
      throw new RuntimeError(
        "this coordinator no longer holds its leadership lease in etcd; the change was not stored",
        { code: Code.Unavailable, details: { reason: "not_leader" } },
      );
    }
  }

  return {
    kind: "etcd",
    persistsLiveness: false,

    async load() {
      if (closed) throw closedError();
      try {
        return await loadState(ns);
      } catch (error) {
        throw RuntimeError.from(error, Code.Unavailable);
      }
    },

    async apply(ops, applyOptions?: ApplyOptions) {
      if (closed) throw closedError();
      if (ops.length === 0) return;
      const groups = applyOptions?.groups ?? [ops.length];
      // Pack whole groups into transactions of at most maxTxnOps writes. etcd refuses a key
      // twice in one transaction, so a later write to a key replaces the earlier one (the same
      // outcome, in order); a write under a prefix deleted earlier starts a new transaction.
      const txn = new TxnWrites();
      let index = 0;
      try {
        for (const size of groups) {
          const group = new TxnWrites();
          for (const op of ops.slice(index, index + size)) {
            for (const write of await toEtcd(op)) group.add(write);
          }
          index += size;
          if (group.size > maxTxnOps) {
            if (txn.size > 0) await commit(txn.take());
            log.warn(
              { ops: group.size, maxTxnOps },
              "one state change needs more writes than etcd allows in a transaction; it is stored in several",
            );
            const all = group.take();
            for (let i = 0; i < all.length; i += maxTxnOps) {
              await commit(all.slice(i, i + maxTxnOps));
            }
            continue;
          }
          if (txn.size + group.size > maxTxnOps || !txn.canMerge(group)) {
            await commit(txn.take());
          }
          txn.merge(group);
        }
        if (txn.size > 0) await commit(txn.take());
      } catch (error) {
        if (error instanceof RuntimeError) throw error;
        throw new RuntimeError(`etcd write failed: ${(error as Error).message}`, {
          code: Code.Unavailable,
          cause: error,
        });
      }
    },

    async close() {
      closed = true;
    },
  };
}

/** One etcd write: a put or delete of one key, or a delete of every key under a prefix. */
interface Write {
  key: string;
  prefix: boolean;
  op: IOperation;
}

/**
 * Writes for one transaction, at most one per key: a later write to a key replaces the earlier
 * one, and a prefix delete replaces the writes under it. (etcd refuses a transaction that names
 * a key twice.)
 */
class TxnWrites {
  readonly #byKey = new Map<string, Write>();

  get size(): number {
    return this.#byKey.size;
  }

  add(write: Write): void {
    // (A group never writes under a prefix it deletes; between groups, `canMerge` says so.)
    if (write.prefix) {
      for (const key of [...this.#byKey.keys()]) {
        if (key.startsWith(write.key)) this.#byKey.delete(key);
      }
    }
    this.#byKey.delete(write.key);
    this.#byKey.set(write.key, write);
  }

  /** Whether `other` can join this transaction without a write under a prefix deleted here. */
  canMerge(other: TxnWrites): boolean {
    for (const write of other.#byKey.values()) {
      if (this.#underPrefix(write.key)) return false;
      if (write.prefix) {
        for (const key of this.#byKey.keys()) if (key.startsWith(write.key)) return false;
      }
    }
    return true;
  }

  merge(other: TxnWrites): void {
    for (const write of other.#byKey.values()) this.add(write);
  }

  /** The writes in order, and empties this. */
  take(): IOperation[] {
    const ops = [...this.#byKey.values()].map((w) => w.op);
    this.#byKey.clear();
    return ops;
  }

  #underPrefix(key: string): boolean {
    for (const w of this.#byKey.values()) {
      if (w.prefix && key.startsWith(w.key) && key !== w.key) return true;
    }
    return false;
  }
}

/** Reads the whole state, 1,000 keys per request. */
async function loadState(ns: Namespace): Promise<StoredState> {
  const state: Required<StoredState> = {
    membershipVersion: 0,
    workers: [],
    datasets: [],
    shardProgress: [],
    shardPlans: [],
    checkpointSteps: [],
    checkpoints: [],
    records: [],
    barrierReleases: [],
  };
  const end = Range.prefix("state/").end;
  let start: string | Buffer = "state/";
  for (;;) {
    const page: Record<string, Buffer> = await ns
      .getAll()
      .inRange(new Range(start, end))
      .limit(1_000)
      .buffers();
    const keys: string[] = Object.keys(page);
    for (const key of keys) addKey(state, key, (page[key] as Buffer).toString("utf8"));
    if (keys.length < 1_000) break;
    start = `${keys[keys.length - 1]}\u0000`;
  }
  return state;
}

function addKey(state: Required<StoredState>, key: string, value: string): void {
  const parts = key.split("/");
  switch (parts[1]) {
    case "version":
      state.membershipVersion = Number(value);
      return;
    case "w":
      state.workers.push(JSON.parse(value) as StoredWorker);
      return;
    case "d":
      state.datasets.push(parseDataset(value));
      return;
    case "p": {
      const v = JSON.parse(value) as { c: StoredShardProgress["consumed"]; o: string };
      state.shardProgress.push({
        datasetId: parts[2] as string,
        epoch: Number(parts[3]),
        shardId: Number(parts[4]),
        consumed: v.c,
        ownerWorkerId: v.o,
      });
      return;
    }
    case "plan":
      state.shardPlans.push({ datasetId: parts[2] as string, plan: value } as StoredShardPlan);
      return;
    case "s":
      state.checkpointSteps.push(JSON.parse(value) as StoredCheckpointStep);
      return;
    case "c":
      state.checkpoints.push(JSON.parse(value) as CheckpointRecord);
      return;
    case "r":
      state.records.push({
        kind: parts[2] as string,
        id: parts.slice(3).join("/"),
        json: value,
      } as StoredRecord);
      return;
    case "b":
      state.barrierReleases.push(JSON.parse(value) as StoredBarrierRelease);
      return;
    default:
      return;
  }
}

function datasetJson(d: StoredDataset): string {
  return JSON.stringify({ ...d, spec: { ...d.spec, seed: d.spec.seed.toString() } });
}

function parseDataset(value: string): StoredDataset {
  const d = JSON.parse(value) as StoredDataset & { spec: { seed: string } };
  return { ...d, spec: { ...d.spec, seed: BigInt(d.spec.seed) } };
}

function closedError(): RuntimeError {
  return new RuntimeError("coordinator store is closed", { code: Code.Unavailable });
}
