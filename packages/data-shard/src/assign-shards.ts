import { Code, RuntimeError } from "@strata/runtime-core";
import { boundedWalk } from "./bounded-walk.js";
import { MAX_TOTAL_SHARDS } from "./dataset-geometry.js";
import {
  buildPreferenceRing,
  datasetKey,
  type PreferenceRing,
  pairScore,
  shardPosition,
} from "./preference-ring.js";
import { shuffledShardOrder } from "./shuffle.js";
import {
  invalidArgument,
  requireId,
  requireInteger,
  requireNumber,
  requireSeed,
} from "./validate.js";

/**
 * Default load slack ε: no worker holds more than ceil((1+ε)·fair share) shards nor fewer than
 * floor((1−ε)·fair share). 0.05 gives 9…11 shards for 10,000 shards over 1,000 equal workers, and
 * keeps that cap unchanged when one worker joins or leaves there (0.1 would sit exactly on the
 * ceil boundary, 11.0, and flip to 12 on a leave).
 */
export const DEFAULT_EPSILON = 0.05;

/** Largest accepted ε. Beyond 1 the lower bound is 0 and the cap is loose anyway. */
export const MAX_EPSILON = 1;

/** Most workers one plan may hold. */
export const MAX_WORKERS = 100_000;

/** Largest accepted worker weight (weights are relative; the default is 1). */
export const MAX_WEIGHT = 1_000_000;

/** A live worker taking part in an assignment. */
export interface WorkerSpec {
  /** Unique, non-empty id (at most 1,024 characters). */
  readonly workerId: string;
  /**
   * Relative capacity, in (0, 1,000,000]; default 1. A worker of weight 2 gets about twice the
   * shards of a worker of weight 1.
   */
  readonly weight?: number;
}

/** Input of {@link assignShards}. */
export interface AssignShardsInput {
  readonly datasetId: string;
  /** Epoch number, ≥ 0. Only the ORDER of each worker's shards depends on it (see README). */
  readonly epoch: number;
  /** Shards in the dataset (see `datasetGeometry`), 0…10^8. */
  readonly totalShards: number;
  /** The dataset seed; any 64-bit value (signed or unsigned). */
  readonly seed: bigint;
  /** Live workers, in any order (the result does not depend on it). At least one. */
  readonly workers: readonly WorkerSpec[];
  /** Load slack ε in [0, 1]; default {@link DEFAULT_EPSILON}. */
  readonly epsilon?: number;
  /**
   * Assign only these shards (ids in [0, totalShards), no duplicates); default all. Used to
   * re-plan the rest of an epoch; the load bounds then apply to these shards.
   */
  readonly shardIds?: readonly number[];
  /**
   * Sticky mode: the current plan of the same dataset and shard count (any epoch). Shards keep
   * their owner while it stays live and within its cap; only the shards of departed workers, of
   * workers over their new cap, and what joiners need to reach their floor move. The result is
   * then a function of this plan too (not only of the membership); omit it for the canonical,
   * history-free plan. See README "Two modes".
   */
  readonly previous?: ShardPlan;
}

/** Which worker owns which shard for one epoch of one dataset. Treat it as immutable. */
export interface ShardPlan {
  readonly datasetId: string;
  readonly epoch: number;
  /** The dataset seed, as unsigned 64-bit. */
  readonly seed: bigint;
  readonly totalShards: number;
  readonly epsilon: number;
  /** Worker ids, sorted by UTF-16 code units; the index of a worker in `owners`. */
  readonly workerIds: readonly string[];
  /** `owners[shardId]` = index in `workerIds` of the shard's owner, or −1 if not assigned. */
  readonly owners: Int32Array;
  /** Per worker: its shards in this epoch's (shuffled) order. */
  readonly shardsByWorker: ReadonlyMap<string, readonly number[]>;
  /** Per worker: number of shards it owns. */
  readonly loads: ReadonlyMap<string, number>;
  /** Per worker: its cap, ceil((1+ε)·weighted fair share). */
  readonly maxLoads: ReadonlyMap<string, number>;
  /** Per worker: its floor, floor((1−ε)·weighted fair share), at least 1 when shards ≥ workers. */
  readonly minLoads: ReadonlyMap<string, number>;
}

/**
 * Assigns every shard of a dataset (or the listed `shardIds`) to exactly one live worker.
 *
 * - Balanced: each worker holds between its `minLoads` and `maxLoads` (weighted fair share ∓ ε).
 * - Deterministic: a pure function of the input; worker order does not matter.
 * - Stable: ownership does not depend on the epoch. With `previous` (sticky mode) a join or leave
 *   moves only the unavoidable shards (the leaver's; the joiner's floor). Without it (canonical,
 *   history-free) the plan re-balances: about 2.4× the minimum for 10,000 shards over 1,000
 *   workers at ε = 0.05 (see README "Two modes"; `diffShardPlans` reports the cost).
 *
 * @throws RuntimeError(InvalidArgument) naming the bad field (empty or duplicate worker ids, bad
 *   weight, ε outside [0, 1], shard count out of range, …).
 */
export function assignShards(input: AssignShardsInput): ShardPlan {
  const parsed = parseInput(input);
  const { workerIds, weights, totalShards } = parsed;
  const items = parsed.shardIds ?? rangeArray(totalShards);
  const count = items.length;
  const bounds = loadBounds(count, weights, parsed.epsilon);
  const ring = buildPreferenceRing(workerIds, weights, parsed.seed);
  const [key0, key1] = datasetKey(parsed.datasetId, parsed.seed);
  const shardPos = new Uint32Array(totalShards);
  for (let i = 0; i < count; i++) {
    const s = items[i] as number;
    shardPos[s] = shardPosition(key0, key1, s);
  }
  const owners = new Int32Array(totalShards).fill(-1);
  const load = new Int32Array(workerIds.length);
  let pending = items;
  if (parsed.previous !== undefined) {
    pending = keepPrevious(parsed.previous, workerIds, items, owners, load);
    pending = releaseOverCap(ring, shardPos, bounds.max, owners, load, pending, totalShards);
  }
  // Phase 1 fills every worker up to its floor, phase 2 places the rest up to the caps.
  const rest = boundedWalk(ring, shardPos, pending, bounds.min, load, owners);
  const left = boundedWalk(ring, shardPos, rest, bounds.max, load, owners);
  if (left.length > 0) {
    throw new RuntimeError(`bounded placement left ${left.length} shards unplaced`, {
      code: Code.Internal,
    });
  }
  if (parsed.previous !== undefined) pullToFloors(ring, shardPos, bounds.min, owners, load, items);
  return buildPlan(parsed, owners, bounds);
}

/**
 * Sticky mode, step 1: keeps every listed shard with its previous owner when that worker is still
 * present. Returns the shards that need a new owner.
 */
function keepPrevious(
  previous: ShardPlan,
  workerIds: readonly string[],
  items: Int32Array,
  owners: Int32Array,
  load: Int32Array,
): Int32Array {
  const index = new Map<string, number>();
  workerIds.forEach((id, i) => {
    index.set(id, i);
  });
  const map = new Int32Array(previous.workerIds.length);
  previous.workerIds.forEach((id, i) => {
    map[i] = index.get(id) ?? -1;
  });
  const pending: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const s = items[i] as number;
    const before = previous.owners[s] as number;
    const w = before >= 0 ? (map[before] as number) : -1;
    if (w >= 0) {
      owners[s] = w;
      load[w] = (load[w] as number) + 1;
    } else {
      pending.push(s);
    }
  }
  return Int32Array.from(pending);
}

/**
 * Sticky mode, step 2: a worker above its (new) cap gives up the shards it scores lowest until it
 * is at the cap. Returns `pending` plus those shards.
 */
function releaseOverCap(
  ring: PreferenceRing,
  shardPos: Uint32Array,
  caps: Int32Array,
  owners: Int32Array,
  load: Int32Array,
  pending: Int32Array,
  totalShards: number,
): Int32Array {
  const over = new Set<number>();
  for (let w = 0; w < caps.length; w++) if ((load[w] as number) > (caps[w] as number)) over.add(w);
  if (over.size === 0) return pending;
  const released = Array.from(pending);
  const lists = new Map<number, number[]>();
  for (let s = 0; s < totalShards; s++) {
    const w = owners[s] as number;
    if (w >= 0 && over.has(w)) {
      let list = lists.get(w);
      if (list === undefined) {
        list = [];
        lists.set(w, list);
      }
      list.push(s);
    }
  }
  for (const [w, list] of lists) {
    const sorted = sortByScore(list, shardPos, ring.workerKeys[w] as number);
    for (let i = 0; (load[w] as number) > (caps[w] as number); i++) {
      const s = sorted[i] as number;
      owners[s] = -1;
      load[w] = (load[w] as number) - 1;
      released.push(s);
    }
  }
  return Int32Array.from(released).sort();
}

/**
 * Sticky mode, step 3: a worker still below its floor (a joiner) takes, one at a time, the
 * lowest-scored shard of the worker with the most shards above its own floor (ties: lower
 * index). Only these shards move, so a join costs the joiner's floor and nothing more.
 */
function pullToFloors(
  ring: PreferenceRing,
  shardPos: Uint32Array,
  floors: Int32Array,
  owners: Int32Array,
  load: Int32Array,
  items: Int32Array,
): void {
  const n = floors.length;
  let deficit = 0;
  for (let w = 0; w < n; w++) deficit += Math.max(0, (floors[w] as number) - (load[w] as number));
  if (deficit === 0) return;
  // Per-worker shard lists, each sorted so that its last element is the one to give away first.
  const lists: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < items.length; i++) {
    const s = items[i] as number;
    (lists[owners[s] as number] as number[]).push(s);
  }
  const sorted: (Int32Array | undefined)[] = new Array(n);
  const taken = new Int32Array(n);
  // Max-heap of donors by surplus (load − floor), ties by lower index.
  const heap: number[] = [];
  const surplus = (w: number): number => (load[w] as number) - (floors[w] as number);
  const above = (a: number, b: number): boolean =>
    surplus(a) > surplus(b) || (surplus(a) === surplus(b) && a < b);
  const up = (start: number): void => {
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!above(heap[i] as number, heap[parent] as number)) break;
      [heap[i], heap[parent]] = [heap[parent] as number, heap[i] as number];
      i = parent;
    }
  };
  const down = (start: number): void => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && above(heap[r] as number, heap[l] as number) ? r : l;
      if (!above(heap[c] as number, heap[i] as number)) break;
      [heap[i], heap[c]] = [heap[c] as number, heap[i] as number];
      i = c;
    }
  };
  for (let w = 0; w < n; w++) {
    if (surplus(w) > 0) {
      heap.push(w);
      up(heap.length - 1);
    }
  }
  for (let u = 0; u < n; u++) {
    while ((load[u] as number) < (floors[u] as number) && heap.length > 0) {
      const d = heap[0] as number;
      let list = sorted[d];
      if (list === undefined) {
        list = sortByScore(lists[d] as number[], shardPos, ring.workerKeys[d] as number);
        sorted[d] = list;
      }
      const s = list[taken[d] as number] as number;
      taken[d] = (taken[d] as number) + 1;
      owners[s] = u;
      load[u] = (load[u] as number) + 1;
      load[d] = (load[d] as number) - 1;
      if (surplus(d) > 0) down(0);
      else {
        heap[0] = heap[heap.length - 1] as number;
        heap.pop();
        if (heap.length > 0) down(0);
      }
    }
  }
}

/** Shards sorted by ascending score for the worker (ties by id): the first is given away first. */
function sortByScore(
  shards: readonly number[],
  shardPos: Uint32Array,
  workerKey: number,
): Int32Array {
  // score (24 bits) · 2^27 + shard id (< 2^27) fits exactly in a double.
  const packed = new Float64Array(shards.length);
  for (let i = 0; i < shards.length; i++) {
    const s = shards[i] as number;
    packed[i] = (pairScore(shardPos[s] as number, workerKey) >>> 8) * 134_217_728 + s;
  }
  packed.sort();
  const out = new Int32Array(shards.length);
  for (let i = 0; i < packed.length; i++) out[i] = (packed[i] as number) % 134_217_728;
  return out;
}

/** Validated and normalised {@link AssignShardsInput}. @private */
export interface ParsedAssignInput {
  readonly datasetId: string;
  readonly epoch: number;
  readonly totalShards: number;
  readonly seed: bigint;
  readonly epsilon: number;
  /** Sorted worker ids. */
  readonly workerIds: readonly string[];
  /** Weights, parallel to `workerIds`. */
  readonly weights: readonly number[];
  readonly shardIds: Int32Array | undefined;
  readonly previous: ShardPlan | undefined;
}

/** @private */
export function parseInput(input: AssignShardsInput): ParsedAssignInput {
  if (input === null || typeof input !== "object") {
    return invalidArgument("input", "must be an object");
  }
  const datasetId = requireId("datasetId", input.datasetId);
  const epoch = requireInteger("epoch", input.epoch, 0, Number.MAX_SAFE_INTEGER);
  const totalShards = requireInteger("totalShards", input.totalShards, 0, MAX_TOTAL_SHARDS);
  const seed = requireSeed("seed", input.seed);
  const epsilon =
    input.epsilon === undefined
      ? DEFAULT_EPSILON
      : requireNumber("epsilon", input.epsilon, 0, MAX_EPSILON);
  if (!Array.isArray(input.workers)) return invalidArgument("workers", "must be an array");
  if (input.workers.length === 0) return invalidArgument("workers", "must not be empty");
  if (input.workers.length > MAX_WORKERS) {
    return invalidArgument(
      "workers",
      `must hold at most ${MAX_WORKERS} workers, got ${input.workers.length}`,
    );
  }
  const byId = new Map<string, number>();
  input.workers.forEach((worker, i) => {
    if (worker === null || typeof worker !== "object") {
      invalidArgument(`workers[${i}]`, "must be an object with a workerId");
    }
    const id = requireId(`workers[${i}].workerId`, worker.workerId);
    const weight =
      worker.weight === undefined
        ? 1
        : requireNumber(`workers[${i}].weight`, worker.weight, 0, MAX_WEIGHT);
    if (weight === 0) invalidArgument(`workers[${i}].weight`, "must be greater than 0");
    if (byId.has(id)) invalidArgument(`workers[${i}].workerId`, `duplicates worker "${id}"`, id);
    byId.set(id, weight);
  });
  const workerIds = [...byId.keys()].sort(compareIds);
  const weights = workerIds.map((id) => byId.get(id) ?? 1);
  let shardIds: Int32Array | undefined;
  if (input.shardIds !== undefined) {
    if (!Array.isArray(input.shardIds)) return invalidArgument("shardIds", "must be an array");
    const seen = new Uint8Array(totalShards);
    shardIds = new Int32Array(input.shardIds.length);
    input.shardIds.forEach((value, i) => {
      const id = requireInteger(`shardIds[${i}]`, value, 0, Math.max(0, totalShards - 1));
      if (totalShards === 0) invalidArgument(`shardIds[${i}]`, "is out of range: totalShards is 0");
      if (seen[id] === 1) invalidArgument(`shardIds[${i}]`, `duplicates shard ${id}`, id);
      seen[id] = 1;
      (shardIds as Int32Array)[i] = id;
    });
    shardIds.sort();
  }
  const previous = input.previous;
  if (previous !== undefined) {
    if (
      previous === null ||
      typeof previous !== "object" ||
      !(previous.owners instanceof Int32Array)
    ) {
      return invalidArgument("previous", "must be a ShardPlan returned by assignShards");
    }
    if (previous.datasetId !== datasetId) {
      return invalidArgument("previous.datasetId", `must be "${datasetId}"`, previous.datasetId);
    }
    if (previous.totalShards !== totalShards || previous.owners.length !== totalShards) {
      return invalidArgument(
        "previous.totalShards",
        `must be ${totalShards}`,
        previous.totalShards,
      );
    }
  }
  return { datasetId, epoch, totalShards, seed, epsilon, workerIds, weights, shardIds, previous };
}

/** Orders ids by UTF-16 code units, the same in every process and locale. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Per-worker load bounds for `count` shards: cap ceil((1+ε)·fair), floor floor((1−ε)·fair),
 * raised to 1 when count ≥ workers (and lowered again for heavy workers if the floors would not
 * fit). @private
 */
export function loadBounds(
  count: number,
  weights: readonly number[],
  epsilon: number,
): { min: Int32Array; max: Int32Array } {
  const n = weights.length;
  let total = 0;
  for (const w of weights) total += w;
  const min = new Int32Array(n);
  const max = new Int32Array(n);
  let minSum = 0;
  for (let i = 0; i < n; i++) {
    const fair = (count * (weights[i] as number)) / total;
    // A tiny tolerance keeps exact products such as 1.05·10 from rounding up to 11.000000000000002.
    max[i] = Math.max(1, Math.ceil((1 + epsilon) * fair - 1e-9));
    min[i] = Math.max(count >= n ? 1 : 0, Math.floor((1 - epsilon) * fair + 1e-9));
    if ((min[i] as number) > (max[i] as number)) min[i] = max[i] as number;
    minSum += min[i] as number;
  }
  // Skewed weights can make the floors add up to more than there is; lower the biggest floors.
  while (minSum > count) {
    let best = -1;
    for (let i = 0; i < n; i++) {
      if ((min[i] as number) > 1 && (best < 0 || (min[i] as number) > (min[best] as number)))
        best = i;
    }
    if (best < 0) break;
    min[best] = (min[best] as number) - 1;
    minSum--;
  }
  return { min, max };
}

/** Assembles a {@link ShardPlan} from owner indexes. @private */
export function buildPlan(
  parsed: ParsedAssignInput,
  owners: Int32Array,
  bounds: { min: Int32Array; max: Int32Array },
): ShardPlan {
  const { workerIds, totalShards } = parsed;
  const lists: number[][] = workerIds.map(() => []);
  const order = shuffledShardOrder(parsed.seed, parsed.datasetId, parsed.epoch, totalShards);
  for (let i = 0; i < order.length; i++) {
    const shardId = order[i] as number;
    const owner = owners[shardId] as number;
    if (owner >= 0) (lists[owner] as number[]).push(shardId);
  }
  const shardsByWorker = new Map<string, readonly number[]>();
  const loads = new Map<string, number>();
  const maxLoads = new Map<string, number>();
  const minLoads = new Map<string, number>();
  workerIds.forEach((id, i) => {
    const list = lists[i] as number[];
    shardsByWorker.set(id, list);
    loads.set(id, list.length);
    maxLoads.set(id, bounds.max[i] as number);
    minLoads.set(id, bounds.min[i] as number);
  });
  return {
    datasetId: parsed.datasetId,
    epoch: parsed.epoch,
    seed: parsed.seed,
    totalShards,
    epsilon: parsed.epsilon,
    workerIds,
    owners,
    shardsByWorker,
    loads,
    maxLoads,
    minLoads,
  };
}

/** The owner of `shardId` in `plan`. @throws RuntimeError(InvalidArgument/NotFound). */
export function ownerOf(plan: ShardPlan, shardId: number): string {
  requireInteger("shardId", shardId, 0, Math.max(0, plan.totalShards - 1));
  const owner = plan.owners[shardId];
  if (owner === undefined || owner < 0) {
    throw new RuntimeError(`shard ${shardId} is not assigned in this plan`, {
      code: Code.NotFound,
      details: { shardId },
    });
  }
  return plan.workerIds[owner] as string;
}

function rangeArray(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}
