import type { SampleRange } from "@strata/runtime-core";
import {
  type AssignShardsInput,
  assignShards,
  type ShardPlan,
  type WorkerSpec,
} from "./assign-shards.js";
import { type DatasetGeometry, datasetGeometry } from "./dataset-geometry.js";
import { shuffledSampleOrder } from "./shuffle.js";
import { invalidArgument, requireId, requireInteger, requireSeed } from "./validate.js";

/** Version tag of the serialised {@link EpochPosition}. */
export const EPOCH_POSITION_VERSION = 1;

/**
 * How far one epoch of one dataset has got: which sample POSITIONS are consumed. Small (ranges
 * are merged) and JSON-serialisable with {@link serializeEpochPosition}, so a checkpoint can
 * carry it.
 *
 * Positions, not sample indices: position p lies in shard k = floor(p / shardSize) and stands for
 * the (p − k·shardSize)-th sample of shard k in this epoch's sample order (see
 * `shuffledSampleOrder`; with `shuffle` false, position = sample index). A worker reads a shard in
 * that order, so what it consumed is one range per shard whatever the shuffle.
 */
export interface EpochPosition {
  readonly datasetId: string;
  readonly epoch: number;
  /** The dataset seed (unsigned 64-bit). */
  readonly seed: bigint;
  readonly totalSamples: number;
  readonly shardSize: number;
  /** Whether sample order within a shard is shuffled per epoch. */
  readonly shuffle: boolean;
  /** Consumed positions: sorted, non-overlapping, non-adjacent half-open ranges. */
  readonly consumed: readonly SampleRange[];
}

/** Input of {@link createEpochProgress}. */
export interface EpochProgressInput {
  readonly datasetId: string;
  readonly epoch: number;
  readonly seed: bigint;
  readonly totalSamples: number;
  readonly shardSize: number;
  /** Shuffle sample order within each shard; default true. */
  readonly shuffle?: boolean;
}

/** One piece of remaining work: positions of one shard, for one worker. */
export interface WorkItem {
  readonly shardId: number;
  /** Unconsumed positions of the shard, sorted (see {@link EpochPosition}). */
  readonly ranges: readonly SampleRange[];
  /** Total positions in `ranges`. */
  readonly sampleCount: number;
}

/** Options of {@link planRemaining}. */
export interface PlanRemainingOptions {
  /** Load slack ε; default `DEFAULT_EPSILON` (0.05). */
  readonly epsilon?: number;
  /**
   * The plan in force before the membership change (any plan of this dataset, e.g. the epoch's
   * plan or an earlier `RemainingPlan.plan`): shards with work left keep their owner if it is still
   * live (sticky mode of `assignShards`), so only the unavoidable shards change hands.
   */
  readonly previous?: ShardPlan;
}

/** Result of {@link planRemaining}. */
export interface RemainingPlan {
  readonly datasetId: string;
  readonly epoch: number;
  /** Per worker (every worker given, possibly with no items): its items in this epoch's shard order. */
  readonly byWorker: ReadonlyMap<string, readonly WorkItem[]>;
  /** The underlying assignment of the shards that still have work. */
  readonly plan: ShardPlan;
  /** Positions left in the epoch (the sum over all items). */
  readonly remainingSamples: number;
}

/** Starts an epoch with nothing consumed. @throws RuntimeError(InvalidArgument) naming the bad field. */
export function createEpochProgress(input: EpochProgressInput): EpochPosition {
  if (input === null || typeof input !== "object")
    return invalidArgument("input", "must be an object");
  const geometry = datasetGeometry(input);
  const shuffle = input.shuffle ?? true;
  if (typeof shuffle !== "boolean") return invalidArgument("shuffle", "must be a boolean", shuffle);
  return {
    datasetId: requireId("datasetId", input.datasetId),
    epoch: requireInteger("epoch", input.epoch, 0, Number.MAX_SAFE_INTEGER),
    seed: requireSeed("seed", input.seed),
    totalSamples: geometry.totalSamples,
    shardSize: geometry.shardSize,
    shuffle,
    consumed: [],
  };
}

/**
 * Returns a new position with `what` also consumed: a whole shard (its id) or position ranges.
 * Marking something already consumed again is a no-op (the union is kept).
 *
 * @throws RuntimeError(InvalidArgument) for a shard id or range outside the dataset.
 */
export function markConsumed(
  progress: EpochPosition,
  what: number | SampleRange | readonly SampleRange[],
): EpochPosition {
  const geometry = geometryOf(progress);
  let added: SampleRange[];
  if (typeof what === "number") {
    const shardId = requireInteger("shardId", what, 0, geometry.totalShards - 1);
    const start = shardId * geometry.shardSize;
    added = [{ start, end: Math.min(start + geometry.shardSize, geometry.totalSamples) }];
  } else if (Array.isArray(what)) {
    added = what.map((r, i) => checkRange(`ranges[${i}]`, r, geometry.totalSamples));
  } else {
    added = [checkRange("range", what as SampleRange, geometry.totalSamples)];
  }
  return { ...progress, consumed: mergeSorted(progress.consumed, mergeRanges(added)) };
}

/** Unconsumed positions of the epoch, sorted and merged. */
export function remainingRanges(progress: EpochPosition): SampleRange[] {
  const out: SampleRange[] = [];
  let cursor = 0;
  for (const r of progress.consumed) {
    if (r.start > cursor) out.push({ start: cursor, end: r.start });
    cursor = r.end;
  }
  if (cursor < progress.totalSamples) out.push({ start: cursor, end: progress.totalSamples });
  return out;
}

/** Number of consumed positions. */
export function consumedSamples(progress: EpochPosition): number {
  let n = 0;
  for (const r of progress.consumed) n += r.end - r.start;
  return n;
}

/** Whether every sample of the epoch is consumed. */
export function isEpochComplete(progress: EpochPosition): boolean {
  return consumedSamples(progress) === progress.totalSamples;
}

/**
 * Plans the rest of the epoch over `workers`: every unconsumed position goes to exactly one
 * worker, consumed ones to none. Shards with work left are assigned with {@link assignShards}
 * (same ownership preferences as a fresh plan, load bounds over the shards left); a shard's
 * unconsumed ranges all go to its owner.
 *
 * @throws RuntimeError(InvalidArgument) for bad workers or ε (see `assignShards`).
 */
export function planRemaining(
  progress: EpochPosition,
  workers: readonly WorkerSpec[],
  options: PlanRemainingOptions = {},
): RemainingPlan {
  const geometry = geometryOf(progress);
  const byShard = new Map<number, SampleRange[]>();
  for (const r of remainingRanges(progress)) {
    // Split ranges at shard boundaries.
    let start = r.start;
    while (start < r.end) {
      const shardId = Math.floor(start / geometry.shardSize);
      const end = Math.min(r.end, (shardId + 1) * geometry.shardSize);
      let list = byShard.get(shardId);
      if (list === undefined) {
        list = [];
        byShard.set(shardId, list);
      }
      list.push({ start, end });
      start = end;
    }
  }
  const input: AssignShardsInput = {
    datasetId: progress.datasetId,
    epoch: progress.epoch,
    totalShards: geometry.totalShards,
    seed: progress.seed,
    workers,
    shardIds: [...byShard.keys()],
    ...(options.epsilon === undefined ? {} : { epsilon: options.epsilon }),
    ...(options.previous === undefined ? {} : { previous: options.previous }),
  };
  const plan = assignShards(input);
  const byWorker = new Map<string, readonly WorkItem[]>();
  let remainingSamples = 0;
  for (const [workerId, shards] of plan.shardsByWorker) {
    const items: WorkItem[] = [];
    for (const shardId of shards) {
      const ranges = byShard.get(shardId) ?? [];
      let sampleCount = 0;
      for (const r of ranges) sampleCount += r.end - r.start;
      remainingSamples += sampleCount;
      items.push({ shardId, ranges, sampleCount });
    }
    byWorker.set(workerId, items);
  }
  return { datasetId: progress.datasetId, epoch: progress.epoch, byWorker, plan, remainingSamples };
}

/**
 * Sample indices (in reading order) of a position range that lies inside one shard: applies the
 * epoch's sample shuffle of that shard (identity when `shuffle` is false).
 *
 * @throws RuntimeError(InvalidArgument) when the range is empty, outside the dataset, or crosses a
 *   shard boundary.
 */
export function resolveSampleIndices(progress: EpochPosition, range: SampleRange): number[] {
  const geometry = geometryOf(progress);
  const r = checkRange("range", range, geometry.totalSamples);
  const shardId = Math.floor(r.start / geometry.shardSize);
  const shardStart = shardId * geometry.shardSize;
  const shardEnd = Math.min(shardStart + geometry.shardSize, geometry.totalSamples);
  if (r.end > shardEnd) {
    invalidArgument("range", `crosses the end of shard ${shardId} at ${shardEnd}`, r.end);
  }
  const out: number[] = [];
  if (!progress.shuffle) {
    for (let p = r.start; p < r.end; p++) out.push(p);
    return out;
  }
  const order = shuffledSampleOrder(
    progress.seed,
    progress.datasetId,
    progress.epoch,
    shardId,
    shardEnd - shardStart,
  );
  for (let p = r.start; p < r.end; p++) out.push(shardStart + (order[p - shardStart] as number));
  return out;
}

/** JSON text of a position (the seed as a decimal string). Round-trips with {@link parseEpochPosition}. */
export function serializeEpochPosition(progress: EpochPosition): string {
  return JSON.stringify({
    version: EPOCH_POSITION_VERSION,
    datasetId: progress.datasetId,
    epoch: progress.epoch,
    seed: progress.seed.toString(),
    totalSamples: progress.totalSamples,
    shardSize: progress.shardSize,
    shuffle: progress.shuffle,
    consumed: progress.consumed.map((r) => [r.start, r.end]),
  });
}

/**
 * Parses and validates JSON text (or the already-parsed object) from
 * {@link serializeEpochPosition}. Ranges are re-merged, so hand-edited input is normalised.
 *
 * @throws RuntimeError(InvalidArgument) naming the bad field.
 */
export function parseEpochPosition(input: string | unknown): EpochPosition {
  let value: unknown = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (error) {
      return invalidArgument("epochPosition", `is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return invalidArgument("epochPosition", "must be a JSON object");
  }
  const o = value as Record<string, unknown>;
  if (o.version !== EPOCH_POSITION_VERSION) {
    return invalidArgument("version", `must be ${EPOCH_POSITION_VERSION}`, o.version);
  }
  if (typeof o.seed !== "string" || !/^-?[0-9]{1,20}$/.test(o.seed)) {
    return invalidArgument("seed", "must be a decimal integer string", o.seed);
  }
  const base = createEpochProgress({
    datasetId: o.datasetId as string,
    epoch: o.epoch as number,
    seed: BigInt(o.seed),
    totalSamples: o.totalSamples as number,
    shardSize: o.shardSize as number,
    shuffle: o.shuffle as boolean,
  });
  if (!Array.isArray(o.consumed)) return invalidArgument("consumed", "must be an array");
  const ranges = o.consumed.map((pair: unknown, i: number) => {
    if (!Array.isArray(pair) || pair.length !== 2) {
      return invalidArgument(`consumed[${i}]`, "must be a [start, end] pair");
    }
    return checkRange(`consumed[${i}]`, { start: pair[0], end: pair[1] }, base.totalSamples);
  });
  return { ...base, consumed: mergeRanges(ranges) };
}

/** Sorts and merges overlapping or adjacent ranges. */
export function mergeRanges(ranges: readonly SampleRange[]): SampleRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: SampleRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.start <= last.end) {
      if (r.end > last.end) out[out.length - 1] = { start: last.start, end: r.end };
    } else {
      out.push({ start: r.start, end: r.end });
    }
  }
  return out;
}

/** Union of two sorted, merged range lists in O(a + b). */
function mergeSorted(a: readonly SampleRange[], b: readonly SampleRange[]): SampleRange[] {
  if (b.length === 0) return [...a];
  const out: SampleRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    let next: SampleRange;
    if (y === undefined || (x !== undefined && x.start <= y.start)) {
      next = x as SampleRange;
      i++;
    } else {
      next = y;
      j++;
    }
    const last = out[out.length - 1];
    if (last !== undefined && next.start <= last.end) {
      if (next.end > last.end) out[out.length - 1] = { start: last.start, end: next.end };
    } else {
      out.push(next);
    }
  }
  return out;
}

function geometryOf(progress: EpochPosition): DatasetGeometry {
  if (progress === null || typeof progress !== "object") {
    return invalidArgument("progress", "must be an EpochPosition");
  }
  return datasetGeometry(progress);
}

function checkRange(field: string, range: SampleRange, totalSamples: number): SampleRange {
  if (range === null || typeof range !== "object")
    return invalidArgument(field, "must be {start, end}");
  const start = requireInteger(`${field}.start`, range.start, 0, totalSamples - 1);
  const end = requireInteger(`${field}.end`, range.end, 1, totalSamples);
  if (end <= start) invalidArgument(`${field}.end`, `must be greater than start (${start})`, end);
  return { start, end };
}
