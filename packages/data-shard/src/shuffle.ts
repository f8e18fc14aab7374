import { MAX_TOTAL_SHARDS } from "./dataset-geometry.js";
import { deriveSeed, hash64 } from "./hash64.js";
import { createSeededRandom, type SeededRandom } from "./seeded-random.js";
import { requireId, requireInteger, requireSeed } from "./validate.js";

/** Purpose tags, so the shard order and each shard's sample order use unrelated streams. */
const PURPOSE_SHARD_ORDER = 0x5348_4152_44n; // "SHARD"
const PURPOSE_SAMPLE_ORDER = 0x5341_4d50_4cn; // "SAMPL"

/** Longest sample order produced in one call: 2^32 − 1 (the generator draws 32-bit values). */
export const MAX_SHUFFLE_LENGTH = 0xffff_ffff;

/**
 * The 64-bit seed of one epoch of one dataset: SplitMix64 folding of the dataset seed, XXH3-64 of
 * the dataset id (seeded with the dataset seed) and the epoch. Every process computes the same
 * value; nothing depends on global random state.
 *
 * @throws RuntimeError(InvalidArgument) for a bad seed, dataset id or epoch.
 */
export function epochSeed(seed: bigint, datasetId: string, epoch: number): bigint {
  const s = requireSeed("seed", seed);
  requireId("datasetId", datasetId);
  requireInteger("epoch", epoch, 0, Number.MAX_SAFE_INTEGER);
  return deriveSeed(s, hash64(datasetId, s), BigInt(epoch));
}

/**
 * Shard ids 0…totalShards−1 in this epoch's order: an unbiased Fisher–Yates shuffle driven by
 * xoshiro128** seeded with {@link epochSeed}. Different epochs give different orders (with
 * overwhelming probability for more than a handful of shards).
 *
 * @param totalShards 0…{@link MAX_TOTAL_SHARDS}.
 * @throws RuntimeError(InvalidArgument) for a bad seed, dataset id, epoch or shard count.
 */
export function shuffledShardOrder(
  seed: bigint,
  datasetId: string,
  epoch: number,
  totalShards: number,
): Uint32Array {
  requireInteger("totalShards", totalShards, 0, MAX_TOTAL_SHARDS);
  const random = createSeededRandom(
    deriveSeed(epochSeed(seed, datasetId, epoch), PURPOSE_SHARD_ORDER),
  );
  return fisherYates(identity(totalShards), random);
}

/**
 * Offsets 0…sampleCount−1 of one shard's samples in this epoch's order (add the shard's start
 * index to get sample indices). Each shard has its own stream, so shards can be shuffled
 * independently and lazily.
 *
 * @param sampleCount samples in the shard, 0…{@link MAX_SHUFFLE_LENGTH}.
 * @throws RuntimeError(InvalidArgument) for a bad seed, dataset id, epoch, shard id or count.
 */
export function shuffledSampleOrder(
  seed: bigint,
  datasetId: string,
  epoch: number,
  shardId: number,
  sampleCount: number,
): Uint32Array {
  requireInteger("shardId", shardId, 0, MAX_TOTAL_SHARDS - 1);
  requireInteger("sampleCount", sampleCount, 0, MAX_SHUFFLE_LENGTH);
  const random = createSeededRandom(
    deriveSeed(epochSeed(seed, datasetId, epoch), PURPOSE_SAMPLE_ORDER, BigInt(shardId)),
  );
  return fisherYates(identity(sampleCount), random);
}

/**
 * Shuffles `values` in place with Fisher–Yates (Durstenfeld's variant, i from the end down) and
 * returns it. Unbiased as long as `random.nextBelow` is.
 */
export function fisherYates<T extends { length: number; [index: number]: number }>(
  values: T,
  random: SeededRandom,
): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = random.nextBelow(i + 1);
    const tmp = values[i] as number;
    values[i] = values[j] as number;
    values[j] = tmp;
  }
  return values;
}

function identity(length: number): Uint32Array {
  const out = new Uint32Array(length);
  for (let i = 0; i < length; i++) out[i] = i;
  return out;
}
