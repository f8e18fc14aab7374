/**
 * The one place the engine turns (dataset, epoch, live workers) into shard owners and a reading
 * order. It delegates to `@strata/data-shard` where that package provides the function, so the
 * coordinator and workers compute the same answers.
 */

/** What an assignment depends on. `workers` must be sorted, so join order never matters. */
export interface AssignInput {
  datasetId: string;
  seed: bigint;
  epoch: number;
  totalShards: number;
  workers: readonly string[];
  epsilon: number | undefined;
}

/** Owner index (into `workers`) of every shard, or −1 when there is no worker. */
export function assignOwners(input: AssignInput): Int32Array {
  const owners = new Int32Array(input.totalShards).fill(-1);
  const n = input.workers.length;
  if (n === 0) return owners;
  // Balanced and deterministic round-robin over the epoch's order.
  const order = shardReadingOrder(
    input.datasetId,
    input.seed,
    input.epoch,
    input.totalShards,
    true,
  );
  for (let i = 0; i < order.length; i++) owners[order[i] as number] = i % n;
  return owners;
}

/** Shard ids in the order workers should read them this epoch. */
export function shardReadingOrder(
  datasetId: string,
  seed: bigint,
  epoch: number,
  totalShards: number,
  shuffle: boolean,
): Uint32Array {
  const order = new Uint32Array(totalShards);
  for (let i = 0; i < totalShards; i++) order[i] = i;
  if (!shuffle || totalShards < 2) return order;
  let state = mixSeed(seed, datasetId, epoch);
  for (let i = totalShards - 1; i > 0; i--) {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    const j = Math.floor(r * (i + 1));
    const tmp = order[i] as number;
    order[i] = order[j] as number;
    order[j] = tmp;
  }
  return order;
}

/** Number of shards of the dataset: ceil(totalSamples / shardSize). */
export function totalShardsOf(totalSamples: number, shardSize: number): number {
  const full = Math.floor(totalSamples / shardSize);
  return totalSamples - full * shardSize > 0 ? full + 1 : full;
}

function mixSeed(seed: bigint, datasetId: string, epoch: number): number {
  let h = 0x811c9dc5;
  const text = `${seed.toString()}\u0000${datasetId}\u0000${epoch}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
