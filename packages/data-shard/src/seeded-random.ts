import { mix64 } from "./hash64.js";

/**
 * A small deterministic random number generator: xoshiro128** 1.1 (Blackman & Vigna, 2018;
 * https://prng.di.unimi.it/xoshiro128starstar.c), 128 bits of state in four 32-bit words, seeded
 * from one 64-bit value through SplitMix64 as its authors recommend. It has no global state: two
 * generators with the same seed give the same sequence in any process.
 */
export interface SeededRandom {
  /** The next uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number;
  /**
   * A uniformly distributed integer in [0, bound), without modulo bias (rejection of the lowest
   * `2^32 mod bound` values, as OpenBSD's `arc4random_uniform`). `bound` must be in [1, 2^32].
   */
  nextBelow(bound: number): number;
}

/** Creates a {@link SeededRandom} from a 64-bit seed (any bigint; only its low 64 bits count). */
export function createSeededRandom(seed: bigint): SeededRandom {
  const a = mix64(BigInt.asUintN(64, seed));
  const b = mix64(a);
  return createXoshiro128StarStar(
    Number(a & 0xffff_ffffn),
    Number(a >> 32n),
    Number(b & 0xffff_ffffn),
    Number(b >> 32n),
  );
}

/**
 * xoshiro128** from a raw 128-bit state (four 32-bit words). Exposed for the reference-vector
 * test; use {@link createSeededRandom}.
 * @private
 */
export function createXoshiro128StarStar(
  state0: number,
  state1: number,
  state2: number,
  state3: number,
): SeededRandom {
  let s0 = state0 >>> 0;
  let s1 = state1 >>> 0;
  let s2 = state2 >>> 0;
  let s3 = state3 >>> 0;
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is the one forbidden state

  function nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  }

  function nextBelow(bound: number): number {
    if (bound === 0x1_0000_0000) return nextUint32();
    // Values below `threshold` would make some results more likely than others.
    const threshold = (0x1_0000_0000 - bound) % bound;
    for (;;) {
      const value = nextUint32();
      if (value >= threshold) return value % bound;
    }
  }

  return { nextUint32, nextBelow };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
