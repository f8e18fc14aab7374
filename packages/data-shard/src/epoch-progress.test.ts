import { Code, RuntimeError, type SampleRange } from "@strata/runtime-core";
import fc from "fast-check";
import type { WorkerSpec } from "./assign-shards.js";
import {
  consumedSamples,
  createEpochProgress,
  type EpochPosition,
  isEpochComplete,
  markConsumed,
  mergeRanges,
  parseEpochPosition,
  planRemaining,
  remainingRanges,
  resolveSampleIndices,
  serializeEpochPosition,
} from "./epoch-progress.js";

const spec = { datasetId: "c4", epoch: 2, seed: 7n, totalSamples: 1000, shardSize: 64 };

function workers(ids: readonly string[]): WorkerSpec[] {
  return ids.map((workerId) => ({ workerId }));
}

describe("epoch progress", () => {
  it("starts empty and tracks consumed shards and ranges, merged", () => {
    let p = createEpochProgress(spec);
    expect(p.consumed).toEqual([]);
    expect(remainingRanges(p)).toEqual([{ start: 0, end: 1000 }]);
    p = markConsumed(p, 1); // shard 1 = [64, 128)
    p = markConsumed(p, { start: 0, end: 64 });
    p = markConsumed(p, [
      { start: 960, end: 1000 },
      { start: 130, end: 140 },
    ]);
    p = markConsumed(p, { start: 135, end: 150 }); // overlaps: union kept
    expect(p.consumed).toEqual([
      { start: 0, end: 128 },
      { start: 130, end: 150 },
      { start: 960, end: 1000 },
    ]);
    expect(consumedSamples(p)).toBe(128 + 20 + 40);
    expect(remainingRanges(p)).toEqual([
      { start: 128, end: 130 },
      { start: 150, end: 960 },
    ]);
    expect(isEpochComplete(p)).toBe(false);
    expect(isEpochComplete(markConsumed(p, { start: 0, end: 1000 }))).toBe(true);
  });

  it("round-trips through JSON and stays small", () => {
    let p = createEpochProgress({ ...spec, seed: 2n ** 64n - 1n });
    for (let s = 0; s < 16; s++) p = markConsumed(p, { start: s * 64, end: s * 64 + 10 });
    const text = serializeEpochPosition(p);
    expect(parseEpochPosition(text)).toEqual(p);
    expect(parseEpochPosition(JSON.parse(text))).toEqual(p);
    expect(text.length).toBeLessThan(400);
  });

  it.each([
    ["not JSON", "{", /epochPosition is not valid JSON/],
    ["an array", "[]", /epochPosition must be a JSON object/],
    ["a wrong version", { version: 2 }, /version must be 1/],
    ["a number seed", { version: 1, seed: 5 }, /seed must be a decimal integer string/],
    [
      "a zero shard size",
      {
        version: 1,
        seed: "5",
        datasetId: "d",
        epoch: 0,
        totalSamples: 10,
        shardSize: 0,
        shuffle: true,
        consumed: [],
      },
      /shardSize must be at least 1/,
    ],
    [
      "a range past the end",
      {
        version: 1,
        seed: "5",
        datasetId: "d",
        epoch: 0,
        totalSamples: 10,
        shardSize: 2,
        shuffle: true,
        consumed: [[0, 11]],
      },
      /consumed\[0\]\.end must be at most 10/,
    ],
    [
      "an empty range",
      {
        version: 1,
        seed: "5",
        datasetId: "d",
        epoch: 0,
        totalSamples: 10,
        shardSize: 2,
        shuffle: true,
        consumed: [[3, 3]],
      },
      /consumed\[0\]\.end must be greater than start/,
    ],
    [
      "a malformed range",
      {
        version: 1,
        seed: "5",
        datasetId: "d",
        epoch: 0,
        totalSamples: 10,
        shardSize: 2,
        shuffle: true,
        consumed: [[3]],
      },
      /consumed\[0\] must be a \[start, end\] pair/,
    ],
  ])("parseEpochPosition rejects %s", (_name, input, message) => {
    let error: unknown;
    try {
      parseEpochPosition(typeof input === "string" ? input : JSON.stringify(input));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).code).toBe(Code.InvalidArgument);
    expect((error as RuntimeError).message).toMatch(message);
  });

  it("rejects bad marks naming the field", () => {
    const p = createEpochProgress(spec);
    expect(() => markConsumed(p, 16)).toThrow(/shardId must be at most 15/);
    expect(() => markConsumed(p, { start: 5, end: 5 })).toThrow(
      /range\.end must be greater than start/,
    );
    expect(() => markConsumed(p, { start: -1, end: 5 })).toThrow(/range\.start must be at least 0/);
    expect(() => markConsumed(p, [{ start: 0, end: 1001 }])).toThrow(
      /ranges\[0\]\.end must be at most 1000/,
    );
  });

  it("resolves positions to sample indices through the epoch's per-shard shuffle", () => {
    const p = createEpochProgress(spec);
    const shard3 = resolveSampleIndices(p, { start: 192, end: 256 });
    expect([...shard3].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 64 }, (_, i) => 192 + i),
    );
    expect(shard3).not.toEqual(Array.from({ length: 64 }, (_, i) => 192 + i));
    // A prefix resolves to the prefix of the same order.
    expect(resolveSampleIndices(p, { start: 192, end: 200 })).toEqual(shard3.slice(0, 8));
    // The next epoch reads the shard in another order.
    const next = resolveSampleIndices(createEpochProgress({ ...spec, epoch: 3 }), {
      start: 192,
      end: 256,
    });
    expect(next).not.toEqual(shard3);
    const plain = createEpochProgress({ ...spec, shuffle: false });
    expect(resolveSampleIndices(plain, { start: 10, end: 13 })).toEqual([10, 11, 12]);
    expect(() => resolveSampleIndices(p, { start: 60, end: 70 })).toThrow(
      /crosses the end of shard 0/,
    );
  });

  it("plans the remaining work: every unconsumed position once, consumed ones never", () => {
    let p = createEpochProgress(spec);
    p = markConsumed(p, [
      { start: 0, end: 64 },
      { start: 64, end: 100 },
      { start: 500, end: 501 },
    ]);
    const plan = planRemaining(p, workers(["a", "b", "c"]));
    expect(plan.remainingSamples).toBe(1000 - 101);
    const covered: SampleRange[] = [];
    for (const items of plan.byWorker.values()) {
      for (const item of items) {
        expect(item.sampleCount).toBe(item.ranges.reduce((n, r) => n + r.end - r.start, 0));
        covered.push(...item.ranges);
      }
    }
    expect(mergeRanges([...covered, ...p.consumed])).toEqual([{ start: 0, end: 1000 }]);
    expect(covered.reduce((n, r) => n + r.end - r.start, 0)).toBe(899);
    // Shard 0 is done, so nobody gets it.
    expect([...plan.byWorker.values()].flat().some((i) => i.shardId === 0)).toBe(false);
  });

  it("resumes across random membership changes with no sample seen twice and none skipped (property)", () => {
    const stepArb = fc.record({
      change: fc.constantFrom("join", "leave", "same"),
      pick: fc.nat(),
      // Fraction (in 1/8ths) of each assigned item a worker gets through before the checkpoint.
      progress: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 12 }),
      sticky: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 1, max: 300 }),
        fc.array(stepArb, { minLength: 1, maxLength: 8 }),
        (totalSamples, shardSize, steps) => {
          let position: EpochPosition = createEpochProgress({ ...spec, totalSamples, shardSize });
          let live = ["w0", "w1", "w2"];
          let next = 3;
          const seen = new Uint8Array(totalSamples);
          let previousPlan: ReturnType<typeof planRemaining>["plan"] | undefined;
          for (const step of steps) {
            if (step.change === "join") live = [...live, `w${next++}`];
            if (step.change === "leave" && live.length > 1)
              live = live.filter((_, i) => i !== step.pick % live.length);
            const plan = planRemaining(
              position,
              workers(live),
              step.sticky && previousPlan !== undefined ? { previous: previousPlan } : {},
            );
            previousPlan = plan.plan;
            // Workers read a prefix of each of their items, then the job checkpoints.
            let k = 0;
            const done: SampleRange[] = [];
            for (const items of plan.byWorker.values()) {
              for (const item of items) {
                const eighths = step.progress[k++ % step.progress.length] as number;
                let budget = Math.floor((item.sampleCount * eighths) / 8);
                for (const r of item.ranges) {
                  const take = Math.min(budget, r.end - r.start);
                  if (take > 0) done.push({ start: r.start, end: r.start + take });
                  budget -= take;
                }
              }
            }
            for (const r of done) {
              for (const sample of resolveSampleIndices(position, r)) {
                if (seen[sample] === 1) throw new Error(`sample ${sample} seen twice`);
                seen[sample] = 1;
              }
            }
            if (done.length > 0) position = markConsumed(position, done);
            // The checkpoint goes through JSON, as it would in a real restart.
            position = parseEpochPosition(serializeEpochPosition(position));
          }
          // Finish the epoch with whoever is left.
          const last = planRemaining(position, workers(live));
          for (const items of last.byWorker.values()) {
            for (const item of items) {
              for (const r of item.ranges) {
                for (const sample of resolveSampleIndices(position, r)) {
                  if (seen[sample] === 1) throw new Error(`sample ${sample} seen twice`);
                  seen[sample] = 1;
                }
              }
            }
          }
          expect(seen.every((v) => v === 1)).toBe(true);
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe("markConsumed merging", () => {
  it("gives the same ranges as merging everything at once (property)", () => {
    const rangeArb = fc
      .tuple(fc.integer({ min: 0, max: 199 }), fc.integer({ min: 1, max: 40 }))
      .map(([start, len]) => ({ start, end: Math.min(200, start + len) }));
    fc.assert(
      fc.property(fc.array(fc.array(rangeArb, { maxLength: 5 }), { maxLength: 10 }), (batches) => {
        let p = createEpochProgress({ ...spec, totalSamples: 200, shardSize: 10 });
        const all: SampleRange[] = [];
        for (const batch of batches) {
          if (batch.length === 0) continue;
          p = markConsumed(p, batch);
          all.push(...batch);
        }
        expect(p.consumed).toEqual(mergeRanges(all));
        expect(
          consumedSamples(p) + remainingRanges(p).reduce((n, r) => n + r.end - r.start, 0),
        ).toBe(200);
      }),
    );
  });
});
