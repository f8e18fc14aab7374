import {
  assignShards,
  datasetGeometry,
  type ShardPlan,
  shuffledShardOrder,
} from "@strata/data-shard";

/**
 * The one place the engine turns (dataset, epoch, live workers) into shard owners and a reading
 * order, through `@strata/data-shard`, so the coordinator and any worker computing the same plan
 * get the same answer.
 */

/** What an assignment depends on. */
export interface AssignInput {
  datasetId: string;
  seed: bigint;
  epoch: number;
  totalShards: number;
  /** Live worker ids, sorted by UTF-16 code units (`Array.prototype.sort()`). */
  workers: readonly string[];
  epsilon: number | undefined;
  /**
   * The ownership plan in force before this membership change. Passed to data-shard's sticky
   * mode, a leave moves exactly the leaver's shards and a join exactly the joiner's share (the
   * unavoidable minimum); without it the history-free plan moves about 2.4× that.
   */
  previous: ShardPlan | undefined;
}

/** What {@link assignOwners} returns: owner indices plus the plan to pass as `previous` next time. */
export interface AssignedOwners {
  owners: Int32Array;
  plan: ShardPlan | undefined;
}

/**
 * Owner index (into `workers`) of every shard, or −1 when there is no worker: data-shard's
 * bounded-load assignment (deterministic, independent of join order), sticky to `previous` when
 * there is one so a membership change moves only the shards it must.
 */
export function assignOwners(input: AssignInput): AssignedOwners {
  if (input.workers.length === 0 || input.totalShards === 0) {
    return { owners: new Int32Array(input.totalShards).fill(-1), plan: undefined };
  }
  const previous =
    input.previous !== undefined && input.previous.totalShards === input.totalShards
      ? input.previous
      : undefined;
  const plan = assignShards({
    datasetId: input.datasetId,
    epoch: input.epoch,
    totalShards: input.totalShards,
    seed: input.seed,
    workers: input.workers.map((workerId) => ({ workerId })),
    ...(input.epsilon === undefined ? {} : { epsilon: input.epsilon }),
    ...(previous === undefined ? {} : { previous }),
  });
  if (sameOrder(plan.workerIds, input.workers)) return { owners: plan.owners as Int32Array, plan };
  // data-shard sorts worker ids the same way we do; remap defensively if that ever changes.
  const index = new Map<string, number>();
  for (let i = 0; i < input.workers.length; i++) index.set(input.workers[i] as string, i);
  const remap = plan.workerIds.map((id) => index.get(id) ?? -1);
  const owners = new Int32Array(input.totalShards);
  for (let s = 0; s < owners.length; s++) {
    const o = plan.owners[s] as number;
    owners[s] = o < 0 ? -1 : (remap[o] as number);
  }
  return { owners, plan };
}

/** Shard ids in the order workers should read them this epoch (seeded shuffle, or ascending). */
export function shardReadingOrder(
  datasetId: string,
  seed: bigint,
  epoch: number,
  totalShards: number,
  shuffle: boolean,
): Uint32Array {
  if (shuffle) return shuffledShardOrder(seed, datasetId, epoch, totalShards);
  const order = new Uint32Array(totalShards);
  for (let i = 0; i < totalShards; i++) order[i] = i;
  return order;
}

/**
 * Number of shards of a dataset: ceil(totalSamples / shardSize).
 *
 * @throws RuntimeError(InvalidArgument) for non-positive sizes or more shards than data-shard allows.
 */
export function totalShardsOf(totalSamples: number, shardSize: number): number {
  return datasetGeometry({ totalSamples, shardSize }).totalShards;
}

function sameOrder(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
