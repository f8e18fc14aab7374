import type { SampleRange } from "@strata/runtime-core";
import { invalidArgument, requireInteger } from "./validate.js";

/**
 * Most shards a dataset may have: 10^8. A bigger count is refused, because plans, shuffles and
 * progress records hold a few bytes per shard (the original could be pinned or run out of memory
 * with 2^62 samples and a shard size of 1).
 */
export const MAX_TOTAL_SHARDS = 100_000_000;

/** How a dataset of `totalSamples` samples is cut into shards of `shardSize` consecutive samples. */
export interface DatasetGeometry {
  /** Samples in the dataset, numbered 0…totalSamples−1. At least 1. */
  readonly totalSamples: number;
  /** Samples per shard (every shard but possibly the last). At least 1. */
  readonly shardSize: number;
  /** `ceil(totalSamples / shardSize)`, at most {@link MAX_TOTAL_SHARDS}. */
  readonly totalShards: number;
  /** Samples in the last shard: `shardSize` when it divides `totalSamples`, fewer otherwise. */
  readonly lastShardSize: number;
}

/**
 * Computes the geometry of a dataset. Accepts a `DatasetSpec` (or anything with the two fields).
 *
 * @throws RuntimeError(InvalidArgument) naming the field when `totalSamples` or `shardSize` is
 *   not a positive safe integer, or when the shard count would exceed {@link MAX_TOTAL_SHARDS}.
 */
export function datasetGeometry(spec: {
  readonly totalSamples: number;
  readonly shardSize: number;
}): DatasetGeometry {
  if (spec === null || typeof spec !== "object") {
    return invalidArgument("dataset", "must be an object with totalSamples and shardSize");
  }
  const totalSamples = requireInteger(
    "totalSamples",
    spec.totalSamples,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const shardSize = requireInteger("shardSize", spec.shardSize, 1, Number.MAX_SAFE_INTEGER);
  // Integer division without floating-point rounding trouble near 2^53.
  const fullShards = Math.floor(totalSamples / shardSize);
  const rest = totalSamples - fullShards * shardSize;
  const totalShards = rest > 0 ? fullShards + 1 : fullShards;
  if (totalShards > MAX_TOTAL_SHARDS) {
    return invalidArgument(
      "shardSize",
      `gives ${totalShards} shards for ${totalSamples} samples, more than the limit of ${MAX_TOTAL_SHARDS}; use bigger shards`,
      shardSize,
    );
  }
  return { totalSamples, shardSize, totalShards, lastShardSize: rest > 0 ? rest : shardSize };
}

/**
 * The samples of one shard: `[shardId·shardSize, min((shardId+1)·shardSize, totalSamples))`.
 *
 * @throws RuntimeError(InvalidArgument) when `shardId` is not an integer in [0, totalShards).
 */
export function shardRange(geometry: DatasetGeometry, shardId: number): SampleRange {
  requireInteger("shardId", shardId, 0, geometry.totalShards - 1);
  const start = shardId * geometry.shardSize;
  return { start, end: Math.min(start + geometry.shardSize, geometry.totalSamples) };
}

/** Number of samples in shard `shardId` (`shardSize`, or `lastShardSize` for the last one). */
export function shardLength(geometry: DatasetGeometry, shardId: number): number {
  requireInteger("shardId", shardId, 0, geometry.totalShards - 1);
  return shardId === geometry.totalShards - 1 ? geometry.lastShardSize : geometry.shardSize;
}

/**
 * The shard that holds sample `sampleIndex`.
 *
 * @throws RuntimeError(InvalidArgument) when `sampleIndex` is not an integer in [0, totalSamples).
 */
export function shardOfSample(geometry: DatasetGeometry, sampleIndex: number): number {
  requireInteger("sampleIndex", sampleIndex, 0, geometry.totalSamples - 1);
  return Math.floor(sampleIndex / geometry.shardSize);
}
