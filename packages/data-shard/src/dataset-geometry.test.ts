import { Code, RuntimeError } from "@strata/runtime-core";
import fc from "fast-check";
import {
  datasetGeometry,
  MAX_TOTAL_SHARDS,
  shardLength,
  shardOfSample,
  shardRange,
} from "./dataset-geometry.js";

function invalid(fn: () => unknown): RuntimeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).code).toBe(Code.InvalidArgument);
    return error as RuntimeError;
  }
  throw new Error("expected an InvalidArgument error");
}

describe("datasetGeometry", () => {
  it("cuts samples into ceil(total/size) shards, the last one shorter", () => {
    const g = datasetGeometry({ totalSamples: 1005, shardSize: 100 });
    expect(g).toEqual({ totalSamples: 1005, shardSize: 100, totalShards: 11, lastShardSize: 5 });
    expect(shardRange(g, 0)).toEqual({ start: 0, end: 100 });
    expect(shardRange(g, 10)).toEqual({ start: 1000, end: 1005 });
    expect(shardLength(g, 10)).toBe(5);
    expect(shardLength(g, 9)).toBe(100);
    expect(shardOfSample(g, 999)).toBe(9);
    expect(shardOfSample(g, 1000)).toBe(10);
  });

  it("handles exact multiples, a single shard, and shards bigger than the dataset", () => {
    expect(datasetGeometry({ totalSamples: 1000, shardSize: 100 })).toMatchObject({
      totalShards: 10,
      lastShardSize: 100,
    });
    expect(datasetGeometry({ totalSamples: 1, shardSize: 1 })).toMatchObject({
      totalShards: 1,
      lastShardSize: 1,
    });
    expect(datasetGeometry({ totalSamples: 7, shardSize: 1000 })).toMatchObject({
      totalShards: 1,
      lastShardSize: 7,
    });
  });

  it("works near Number.MAX_SAFE_INTEGER without rounding errors", () => {
    const total = Number.MAX_SAFE_INTEGER; // 2^53 − 1
    const g = datasetGeometry({ totalSamples: total, shardSize: 2 ** 30 });
    expect(g.totalShards).toBe(2 ** 23);
    expect(g.lastShardSize).toBe(2 ** 30 - 1);
    expect(shardRange(g, g.totalShards - 1).end).toBe(total);
  });

  it("tiles the dataset exactly (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 5_000 }),
        (total, size) => {
          const g = datasetGeometry({ totalSamples: total, shardSize: size });
          expect(g.totalShards).toBe(Math.ceil(total / size));
          let cursor = 0;
          for (let s = 0; s < g.totalShards; s++) {
            const r = shardRange(g, s);
            if (r.start !== cursor || r.end <= r.start || r.end - r.start !== shardLength(g, s))
              return false;
            cursor = r.end;
          }
          return cursor === total;
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each([
    ["zero samples", { totalSamples: 0, shardSize: 10 }, /totalSamples must be at least 1/],
    ["negative samples", { totalSamples: -5, shardSize: 10 }, /totalSamples must be at least 1/],
    [
      "fractional samples",
      { totalSamples: 10.5, shardSize: 10 },
      /totalSamples must be an integer/,
    ],
    [
      "NaN samples",
      { totalSamples: Number.NaN, shardSize: 10 },
      /totalSamples must be a finite number/,
    ],
    [
      "infinite samples",
      { totalSamples: Number.POSITIVE_INFINITY, shardSize: 10 },
      /totalSamples must be a finite/,
    ],
    [
      "samples beyond 2^53",
      { totalSamples: 2 ** 62, shardSize: 10 },
      /totalSamples must be at most 9007199254740991/,
    ],
    [
      "a string",
      { totalSamples: "100", shardSize: 10 },
      /totalSamples must be a finite number, got "100"/,
    ],
    ["zero shard size", { totalSamples: 100, shardSize: 0 }, /shardSize must be at least 1/],
    ["negative shard size", { totalSamples: 100, shardSize: -1 }, /shardSize must be at least 1/],
    [
      "fractional shard size",
      { totalSamples: 100, shardSize: 0.5 },
      /shardSize must be an integer/,
    ],
    [
      "too many shards (the original's DoS)",
      { totalSamples: 2 ** 52, shardSize: 1 },
      /more than the limit of 100000000/,
    ],
  ])("rejects %s naming the field", (_name, spec, message) => {
    const error = invalid(() =>
      datasetGeometry(spec as { totalSamples: number; shardSize: number }),
    );
    expect(error.message).toMatch(message);
  });

  it("accepts exactly MAX_TOTAL_SHARDS shards and not one more", () => {
    expect(datasetGeometry({ totalSamples: MAX_TOTAL_SHARDS, shardSize: 1 }).totalShards).toBe(
      MAX_TOTAL_SHARDS,
    );
    invalid(() => datasetGeometry({ totalSamples: MAX_TOTAL_SHARDS + 1, shardSize: 1 }));
  });

  it("rejects shard ids and sample indices outside the dataset", () => {
    const g = datasetGeometry({ totalSamples: 100, shardSize: 10 });
    expect(invalid(() => shardRange(g, 10)).message).toMatch(/shardId must be at most 9/);
    expect(invalid(() => shardRange(g, -1)).message).toMatch(/shardId must be at least 0/);
    expect(invalid(() => shardOfSample(g, 100)).message).toMatch(/sampleIndex must be at most 99/);
  });
});
