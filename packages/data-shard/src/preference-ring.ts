/**
 * The internal, allocation-light ring that drives {@link assignShards}: 32-bit positions in typed
 * arrays, shard and point positions from integer mixing (no string building or hashing per shard
 * or per point). Only one XXH3-64 per worker id and one per dataset id.
 * @private
 */
import { hash64 } from "./hash64.js";

/** Ring points per worker of average weight (fewer when there are very many workers). */
export const POINTS_PER_WORKER = 100;
/** Upper bound on ring points, to bound memory and build time with 100,000 workers. */
export const MAX_RING_POINTS = 2_000_000;

export interface PreferenceRing {
  /** Point positions, ascending (ties ordered by owner index). */
  readonly positions: Uint32Array;
  /** Owner (worker index) of each point. */
  readonly owners: Int32Array;
  /** Points of each worker: `pointsOf[workerStart[w] … workerStart[w+1])`. */
  readonly workerStart: Int32Array;
  readonly pointsOf: Int32Array;
  /** Low 32 bits of each worker's id hash (used for per-pair scores). */
  readonly workerKeys: Uint32Array;
  /** `buckets[b]` = index of the first point with position ≥ b·2^16 (65,537 entries). */
  readonly buckets: Int32Array;
}

/** murmur3's 32-bit finaliser: a bijection with good avalanche. */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2_ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The two 32-bit halves of a dataset's key: XXH3-64(datasetId, seed). */
export function datasetKey(datasetId: string, seed: bigint): [number, number] {
  const h = hash64(`shard-ring:${datasetId}`, seed);
  return [Number(h & 0xffff_ffffn), Number(h >> 32n)];
}

/** Position of shard `shardId` on the ring: a bijection of the id, so shards never collide. */
export function shardPosition(key0: number, key1: number, shardId: number): number {
  return fmix32((fmix32((shardId ^ key0) >>> 0) + key1) >>> 0);
}

/** A per-(shard, worker) score in [0, 2^32), used to order a worker's shards deterministically. */
export function pairScore(shardPos: number, workerKey: number): number {
  return fmix32((shardPos ^ workerKey) >>> 0);
}

/** Builds the ring for workers (sorted ids) with relative weights. */
export function buildPreferenceRing(
  workerIds: readonly string[],
  weights: readonly number[],
  seed: bigint,
): PreferenceRing {
  const n = workerIds.length;
  let totalWeight = 0;
  for (const w of weights) totalWeight += w;
  const meanWeight = totalWeight / n;
  const perWorker = Math.max(1, Math.min(POINTS_PER_WORKER, Math.floor(MAX_RING_POINTS / n)));
  const counts = new Int32Array(n);
  let total = 0;
  for (let w = 0; w < n; w++) {
    const c = Math.max(
      1,
      Math.min(MAX_RING_POINTS, Math.round((perWorker * (weights[w] as number)) / meanWeight)),
    );
    counts[w] = c;
    total += c;
  }
  const workerKeys = new Uint32Array(n);
  const workerStart = new Int32Array(n + 1);
  // Unsorted points: position and owner, in (worker, point) order.
  const rawPos = new Uint32Array(total);
  const rawOwner = new Int32Array(total);
  let k = 0;
  for (let w = 0; w < n; w++) {
    const h = hash64(`shard-worker:${workerIds[w] as string}`, seed);
    const lo = Number(h & 0xffff_ffffn);
    const hi = Number(h >> 32n);
    workerKeys[w] = lo;
    workerStart[w] = k;
    const c = counts[w] as number;
    for (let v = 0; v < c; v++) {
      rawPos[k] = fmix32((fmix32((Math.imul(v + 1, 0x9e37_79b1) ^ lo) >>> 0) + hi) >>> 0);
      rawOwner[k++] = w;
    }
  }
  workerStart[n] = k;
  // Stable LSD radix sort by position (two 16-bit digits): equal positions stay in owner order.
  const order = radixOrder(rawPos);
  const positions = new Uint32Array(total);
  const owners = new Int32Array(total);
  const pointsOf = new Int32Array(total);
  const fill = workerStart.slice(0, n);
  for (let i = 0; i < total; i++) {
    const from = order[i] as number;
    const w = rawOwner[from] as number;
    positions[i] = rawPos[from] as number;
    owners[i] = w;
    pointsOf[fill[w] as number] = i;
    fill[w] = (fill[w] as number) + 1;
  }
  const buckets = new Int32Array(65_537);
  let point = 0;
  for (let b = 0; b < 65_536; b++) {
    const start = b * 65_536;
    while (point < total && (positions[point] as number) < start) point++;
    buckets[b] = point;
  }
  buckets[65_536] = total;
  return { positions, owners, workerStart, pointsOf, workerKeys, buckets };
}

/** Index of the first point at or after `pos`, wrapping to 0. */
export function firstPointAtOrAfter(ring: PreferenceRing, pos: number): number {
  const { positions, buckets } = ring;
  const b = pos >>> 16;
  let lo = buckets[b] as number;
  let hi = buckets[b + 1] as number;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((positions[mid] as number) < pos) lo = mid + 1;
    else hi = mid;
  }
  return lo === positions.length ? 0 : lo;
}

/** Indexes that sort `keys` ascending; stable (LSD radix sort, two 16-bit passes). */
function radixOrder(keys: Uint32Array): Int32Array {
  const n = keys.length;
  let src = new Int32Array(n);
  let dst = new Int32Array(n);
  for (let i = 0; i < n; i++) src[i] = i;
  const counts = new Int32Array(65_537);
  for (const shift of [0, 16]) {
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const digit = ((keys[i] as number) >>> shift) & 0xffff;
      counts[digit + 1] = (counts[digit + 1] as number) + 1;
    }
    for (let d = 0; d < 65_536; d++)
      counts[d + 1] = (counts[d + 1] as number) + (counts[d] as number);
    for (let i = 0; i < n; i++) {
      const from = src[i] as number;
      const digit = ((keys[from] as number) >>> shift) & 0xffff;
      dst[counts[digit] as number] = from;
      counts[digit] = (counts[digit] as number) + 1;
    }
    [src, dst] = [dst, src];
  }
  return src;
}
