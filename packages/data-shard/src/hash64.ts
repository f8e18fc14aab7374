import { xxh3 } from "@node-rs/xxhash";

const MASK64 = 0xffff_ffff_ffff_ffffn;

/**
 * XXH3-64 of the UTF-8 bytes of `input`, with a 64-bit seed, from `@node-rs/xxhash` (prebuilt
 * native binding, no node-gyp). XXH3 mixes short keys well, unlike FNV-1a, whose clustering on
 * keys that differ only in their last digits starved workers in the original.
 */
export function hash64(input: string, seed = 0n): bigint {
  // Passing a bigint seed across the native boundary costs ~30%, so skip it when it is 0.
  return seed === 0n ? xxh3.xxh64(input) : xxh3.xxh64(input, seed);
}

/** The high 52 bits of {@link hash64} as an exact, non-negative double: a position on a ring. */
export function hashPosition(input: string, seed = 0n): number {
  return Number((seed === 0n ? xxh3.xxh64(input) : xxh3.xxh64(input, seed)) >> 12n);
}

/**
 * SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mixer. Used to derive
 * independent seeds (per epoch, per purpose, per shard) from one dataset seed.
 */
export function mix64(value: bigint): bigint {
  let z = (value + 0x9e37_79b9_7f4a_7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58_476d_1ce4_e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d0_49bb_1331_11ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** Folds the 64-bit values into one seed: `mix64(… mix64(mix64(a) ^ b) …)`. */
export function deriveSeed(...parts: readonly bigint[]): bigint {
  let h = 0n;
  for (const part of parts) h = mix64(h ^ BigInt.asUintN(64, part));
  return h;
}
