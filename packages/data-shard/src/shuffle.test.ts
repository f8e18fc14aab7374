import fc from "fast-check";
import { mix64 } from "./hash64.js";
import { createSeededRandom, createXoshiro128StarStar } from "./seeded-random.js";
import { epochSeed, shuffledSampleOrder, shuffledShardOrder } from "./shuffle.js";

function isPermutation(values: Uint32Array, n: number): boolean {
  if (values.length !== n) return false;
  const seen = new Uint8Array(n);
  for (const v of values) {
    if (v >= n || seen[v] === 1) return false;
    seen[v] = 1;
  }
  return true;
}

describe("seeded random", () => {
  it("matches the xoshiro128** reference output for state {1, 2, 3, 4}", () => {
    const r = createXoshiro128StarStar(1, 2, 3, 4);
    expect(Array.from({ length: 6 }, () => r.nextUint32())).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492,
    ]);
  });

  it("matches the SplitMix64 reference outputs", () => {
    expect(mix64(0n)).toBe(0xe220a8397b1dcdafn);
    expect(mix64(1234567n)).toBe(6457827717110365317n);
  });

  it("repeats for a seed and differs between seeds", () => {
    const a = createSeededRandom(99n);
    const b = createSeededRandom(99n);
    const c = createSeededRandom(100n);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it("draws each value below a bound about equally often", () => {
    const r = createSeededRandom(5n);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60_000; i++) {
      const v = r.nextBelow(6);
      counts[v] = (counts[v] ?? 0) + 1;
    }
    // Binomial(60000, 1/6): mean 10,000, sd ≈ 91; ±500 is more than 5 sd (and the seed is fixed).
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it("stays in range for any bound up to 2^32 (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.integer({ min: 1, max: 2 ** 32 }),
        (seed, bound) => {
          const r = createSeededRandom(seed);
          for (let i = 0; i < 20; i++) {
            const v = r.nextBelow(bound);
            if (!(Number.isInteger(v) && v >= 0 && v < bound)) return false;
          }
          return true;
        },
      ),
    );
  });
});

describe("shuffles", () => {
  it("gives a reproducible permutation of the shards per (seed, dataset, epoch)", () => {
    const a = shuffledShardOrder(42n, "imagenet", 0, 1000);
    expect(isPermutation(a, 1000)).toBe(true);
    expect(shuffledShardOrder(42n, "imagenet", 0, 1000)).toEqual(a);
    expect(shuffledShardOrder(42n, "imagenet", 1, 1000)).not.toEqual(a);
    expect(shuffledShardOrder(43n, "imagenet", 0, 1000)).not.toEqual(a);
    expect(shuffledShardOrder(42n, "imagenet-2", 0, 1000)).not.toEqual(a);
  });

  it("gives permutations for any size, different across epochs (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.nat({ max: 10_000 }),
        fc.integer({ min: 0, max: 3000 }),
        (seed, datasetId, epoch, n) => {
          const a = shuffledShardOrder(seed, datasetId, epoch, n);
          const b = shuffledSampleOrder(seed, datasetId, epoch, 7, n);
          expect(isPermutation(a, n)).toBe(true);
          expect(isPermutation(b, n)).toBe(true);
          if (n >= 20) expect(shuffledShardOrder(seed, datasetId, epoch + 1, n)).not.toEqual(a);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("shuffles each shard's samples independently", () => {
    const s0 = shuffledSampleOrder(1n, "d", 0, 0, 100);
    const s1 = shuffledSampleOrder(1n, "d", 0, 1, 100);
    expect(s1).not.toEqual(s0);
    expect(shuffledSampleOrder(1n, "d", 0, 0, 100)).toEqual(s0);
  });

  it("puts every element in every position about equally often (unbiased Fisher–Yates)", () => {
    const n = 5;
    const counts = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let epoch = 0; epoch < 20_000; epoch++) {
      const p = shuffledShardOrder(3n, "bias", epoch, n);
      p.forEach((value, position) => {
        (counts[value] as number[])[position] = ((counts[value] as number[])[position] ?? 0) + 1;
      });
    }
    // Each cell ~ Binomial(20000, 1/5): mean 4,000, sd ≈ 57; ±300 is over 5 sd.
    for (const row of counts) for (const c of row) expect(Math.abs(c - 4000)).toBeLessThan(300);
  });

  it("derives a different epoch seed per epoch and validates its inputs", () => {
    expect(epochSeed(1n, "d", 0)).not.toBe(epochSeed(1n, "d", 1));
    expect(epochSeed(1n, "d", 0)).toBe(epochSeed(1n, "d", 0));
    expect(() => epochSeed(1n, "", 0)).toThrow(/datasetId must not be empty/);
    expect(() => epochSeed(1n, "d", -1)).toThrow(/epoch must be at least 0/);
    expect(() => shuffledShardOrder(1n, "d", 0, 1.5)).toThrow(/totalShards must be an integer/);
    expect(() => shuffledSampleOrder(1n, "d", 0, 0, -1)).toThrow(/sampleCount must be at least 0/);
  });
});
