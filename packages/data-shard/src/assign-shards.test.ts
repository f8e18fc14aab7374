import { Code, RuntimeError } from "@strata/runtime-core";
import fc from "fast-check";
import {
  type AssignShardsInput,
  assignShards,
  ownerOf,
  type ShardPlan,
  type WorkerSpec,
} from "./assign-shards.js";
import { datasetGeometry } from "./dataset-geometry.js";
import { diffShardPlans } from "./plan-diff.js";
import { parseShardPlan, serializeShardPlan } from "./shard-plan-json.js";
import { toShardAssignments } from "./to-shard-assignments.js";

const base = { datasetId: "imagenet", epoch: 0, seed: 42n };

function workers(n: number, prefix = "worker-"): WorkerSpec[] {
  return Array.from({ length: n }, (_, i) => ({ workerId: `${prefix}${i}` }));
}

/** Every listed shard exactly once, lists consistent with `owners` and `loads` (plain checks, one expect). */
function expectExactlyOnce(plan: ShardPlan, shardIds?: readonly number[]): void {
  const expected = shardIds ?? Array.from({ length: plan.totalShards }, (_, i) => i);
  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const [workerId, shards] of plan.shardsByWorker) {
    if (plan.loads.get(workerId) !== shards.length) problems.push(`load of ${workerId}`);
    for (const s of shards) {
      if (seen.has(s)) problems.push(`shard ${s} twice`);
      seen.set(s, workerId);
      if (plan.workerIds[plan.owners[s] ?? -1] !== workerId) problems.push(`owners[${s}]`);
    }
  }
  const got = [...seen.keys()].sort((a, b) => a - b);
  const want = [...expected].sort((a, b) => a - b);
  if (got.length !== want.length || got.some((v, i) => v !== want[i])) problems.push("coverage");
  expect(problems).toEqual([]);
}

function expectWithinBounds(plan: ShardPlan): void {
  const problems: string[] = [];
  for (const id of plan.workerIds) {
    const load = plan.loads.get(id) ?? -1;
    const min = plan.minLoads.get(id) ?? Number.NaN;
    const max = plan.maxLoads.get(id) ?? Number.NaN;
    if (!(load >= min && load <= max)) problems.push(`${id}: ${load} not in [${min}, ${max}]`);
  }
  expect(problems).toEqual([]);
}

const workerSetArb = fc.uniqueArray(
  fc.record({
    workerId: fc.string({ minLength: 1, maxLength: 12 }),
    weight: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
  }),
  { minLength: 1, maxLength: 40, selector: (w) => w.workerId },
);

const inputArb = fc.record({
  datasetId: fc.string({ minLength: 1, maxLength: 16 }),
  epoch: fc.nat({ max: 1000 }),
  totalShards: fc.nat({ max: 600 }),
  seed: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  workers: workerSetArb,
  epsilon: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
});

function clean(input: AssignShardsInput): AssignShardsInput {
  // fast-check records keep `weight: undefined` keys; that is a valid input as is.
  return input;
}

describe("assignShards", () => {
  it("assigns every shard exactly once, within the load bounds (property)", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const plan = assignShards(clean(input));
        expectExactlyOnce(plan);
        expectWithinBounds(plan);
        // No worker idles while there are at least as many shards as workers.
        if (input.totalShards >= input.workers.length) {
          for (const load of plan.loads.values()) expect(load).toBeGreaterThan(0);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("caps every worker at ceil((1+ε)·weighted fair share) (property)", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const plan = assignShards(input);
        const eps = input.epsilon ?? 0.05;
        const total = input.workers.reduce((n, w) => n + (w.weight ?? 1), 0);
        for (const w of input.workers) {
          const fair = (input.totalShards * (w.weight ?? 1)) / total;
          expect(plan.loads.get(w.workerId)).toBeLessThanOrEqual(
            Math.max(1, Math.ceil((1 + eps) * fair - 1e-9)),
          );
        }
      }),
      { numRuns: 100 },
    );
  });

  it("gives the same plan whatever the order of the workers (property)", () => {
    fc.assert(
      fc.property(
        inputArb.chain((input) =>
          fc.tuple(
            fc.constant(input),
            fc.shuffledSubarray(input.workers, { minLength: input.workers.length }),
          ),
        ),
        ([input, shuffled]) => {
          const a = assignShards(input);
          const b = assignShards({ ...input, workers: shuffled });
          expect(b.workerIds).toEqual(a.workerIds);
          expect(Array.from(b.owners)).toEqual(Array.from(a.owners));
          expect(b.shardsByWorker).toEqual(a.shardsByWorker);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("gives 9 to 11 shards to each of 1,000 equal workers for 10,000 shards", () => {
    const plan = assignShards({ ...base, totalShards: 10_000, workers: workers(1000) });
    const loads = [...plan.loads.values()];
    expect(loads).toHaveLength(1000);
    expect(Math.min(...loads)).toBeGreaterThanOrEqual(9);
    expect(Math.max(...loads)).toBeLessThanOrEqual(11);
    expectExactlyOnce(plan);
  });

  it("keeps ownership across epochs and shuffles each worker's order per epoch", () => {
    const e0 = assignShards({ ...base, totalShards: 500, workers: workers(5) });
    const e1 = assignShards({ ...base, epoch: 1, totalShards: 500, workers: workers(5) });
    expect(Array.from(e1.owners)).toEqual(Array.from(e0.owners));
    const l0 = e0.shardsByWorker.get("worker-0") ?? [];
    const l1 = e1.shardsByWorker.get("worker-0") ?? [];
    expect([...l1].sort((a, b) => a - b)).toEqual([...l0].sort((a, b) => a - b));
    expect(l1).not.toEqual(l0);
  });

  it("depends on the dataset seed", () => {
    const a = assignShards({ ...base, totalShards: 200, workers: workers(4) });
    const b = assignShards({ ...base, seed: 43n, totalShards: 200, workers: workers(4) });
    expect(Array.from(b.owners)).not.toEqual(Array.from(a.owners));
  });

  it("gives weighted workers proportionally more shards", () => {
    const plan = assignShards({
      ...base,
      totalShards: 3000,
      workers: [{ workerId: "big", weight: 2 }, { workerId: "a" }, { workerId: "b" }],
    });
    expect(plan.loads.get("big")).toBeGreaterThanOrEqual(1425); // (1 − 0.05)·1500
    expect(plan.loads.get("big")).toBeLessThanOrEqual(1575); // (1 + 0.05)·1500
  });

  it("assigns only the listed shardIds when given", () => {
    const shardIds = [3, 1, 4, 15, 9, 2, 6];
    const plan = assignShards({ ...base, totalShards: 20, workers: workers(3), shardIds });
    expectExactlyOnce(plan, shardIds);
    expect(plan.owners[0]).toBe(-1);
    expect(() => ownerOf(plan, 0)).toThrow(expect.objectContaining({ code: Code.NotFound }));
  });

  describe("sticky mode (previous)", () => {
    const changeArb = fc.record({
      totalShards: fc.integer({ min: 1, max: 800 }),
      workerCount: fc.integer({ min: 1, max: 30 }),
      seed: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      epsilon: fc.option(fc.double({ min: 0, max: 0.5, noNaN: true }), { nil: undefined }),
      pick: fc.nat(),
      join: fc.boolean(),
    });

    it("moves at most 1.25× the unavoidable minimum on one join or leave (property)", () => {
      fc.assert(
        fc.property(changeArb, ({ totalShards, workerCount, seed, epsilon, pick, join }) => {
          const before = workers(workerCount);
          const input = {
            ...base,
            seed,
            totalShards,
            ...(epsilon === undefined ? {} : { epsilon }),
          };
          const p0 = assignShards({ ...input, workers: before });
          const after = join
            ? [...before, { workerId: "joiner" }]
            : before.filter((_, i) => i !== pick % workerCount);
          if (after.length === 0) return;
          const p1 = assignShards({ ...input, workers: after, previous: p0 });
          expectExactlyOnce(p1);
          expectWithinBounds(p1);
          const diff = diffShardPlans(p0, p1);
          // The strict floor: a leaver's shards must all move; a joiner's shards all moved to it.
          const strict = join
            ? (p1.loads.get("joiner") ?? 0)
            : (p0.loads.get(`worker-${pick % workerCount}`) ?? 0);
          expect(diff.moved).toBeGreaterThanOrEqual(strict);
          expect(diff.moved).toBeLessThanOrEqual(
            Math.max(1.25 * diff.minimum, 1.25 * strict, strict + 1),
          );
          expect(diff.moved).toBeLessThanOrEqual(1.25 * diff.minimum);
        }),
        { numRuns: 150 },
      );
    });

    it("keeps bounds and exactly-once across a random sequence of joins and leaves (property)", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 400 }),
          fc.array(fc.tuple(fc.boolean(), fc.nat()), { minLength: 1, maxLength: 12 }),
          (totalShards, steps) => {
            let live = workers(4);
            let next = 4;
            let plan = assignShards({ ...base, totalShards, workers: live });
            for (const [join, pick] of steps) {
              if (join || live.length === 1) live = [...live, { workerId: `worker-${next++}` }];
              else live = live.filter((_, i) => i !== pick % live.length);
              const updated = assignShards({ ...base, totalShards, workers: live, previous: plan });
              expectExactlyOnce(updated);
              expectWithinBounds(updated);
              const diff = diffShardPlans(plan, updated);
              expect(diff.moved).toBeLessThanOrEqual(1.25 * diff.minimum);
              plan = updated;
            }
          },
        ),
        { numRuns: 60 },
      );
    });

    it("keeps bounds when weights and ε change between plans, even extreme ones (property)", () => {
      const weightArb = fc.option(fc.double({ min: 0.001, max: 1_000_000, noNaN: true }), {
        nil: undefined,
      });
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 500 }),
          fc.array(weightArb, { minLength: 1, maxLength: 25 }),
          fc.array(weightArb, { minLength: 1, maxLength: 25 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          (totalShards, before, after, eps0, eps1) => {
            const specs = (ws: (number | undefined)[]) =>
              ws.map((weight, i) => ({
                workerId: `w${i}`,
                ...(weight === undefined ? {} : { weight }),
              }));
            const p0 = assignShards({
              ...base,
              totalShards,
              workers: specs(before),
              epsilon: eps0,
            });
            expectExactlyOnce(p0);
            expectWithinBounds(p0);
            const p1 = assignShards({
              ...base,
              totalShards,
              workers: specs(after),
              epsilon: eps1,
              previous: p0,
            });
            expectExactlyOnce(p1);
            expectWithinBounds(p1);
          },
        ),
        { numRuns: 100 },
      );
    });

    it("moves exactly the leaver's shards for 10,000 shards over 1,000 workers", () => {
      const input = { ...base, totalShards: 10_000 };
      const p0 = assignShards({ ...input, workers: workers(1000) });
      const p1 = assignShards({ ...input, workers: workers(1000).slice(1), previous: p0 });
      const diff = diffShardPlans(p0, p1);
      expect(diff.left).toEqual(["worker-0"]);
      expect(diff.moved).toBe(p0.loads.get("worker-0"));
      const p2 = assignShards({
        ...input,
        workers: [...workers(1000), { workerId: "new" }],
        previous: p0,
      });
      const d2 = diffShardPlans(p0, p2);
      expect(d2.joined).toEqual(["new"]);
      expect(d2.moved).toBe(p2.loads.get("new"));
      expect(p2.loads.get("new")).toBeGreaterThanOrEqual(9);
    });

    it("rejects a previous plan of another dataset or size", () => {
      const p0 = assignShards({ ...base, totalShards: 10, workers: workers(2) });
      expect(() =>
        assignShards({
          ...base,
          datasetId: "other",
          totalShards: 10,
          workers: workers(2),
          previous: p0,
        }),
      ).toThrow(/previous\.datasetId/);
      expect(() =>
        assignShards({ ...base, totalShards: 11, workers: workers(2), previous: p0 }),
      ).toThrow(/previous\.totalShards/);
    });
  });

  describe("validation", () => {
    const ok: AssignShardsInput = { ...base, totalShards: 10, workers: workers(2) };
    const cases: [string, Partial<Record<keyof AssignShardsInput, unknown>>, RegExp][] = [
      ["empty workers", { workers: [] }, /workers must not be empty/],
      [
        "duplicate worker",
        { workers: [{ workerId: "a" }, { workerId: "a" }] },
        /workers\[1\]\.workerId duplicates/,
      ],
      [
        "empty worker id",
        { workers: [{ workerId: "" }] },
        /workers\[0\]\.workerId must not be empty/,
      ],
      [
        "zero weight",
        { workers: [{ workerId: "a", weight: 0 }] },
        /workers\[0\]\.weight must be greater than 0/,
      ],
      ["negative weight", { workers: [{ workerId: "a", weight: -1 }] }, /workers\[0\]\.weight/],
      ["NaN weight", { workers: [{ workerId: "a", weight: Number.NaN }] }, /workers\[0\]\.weight/],
      ["negative epsilon", { epsilon: -0.1 }, /epsilon must be between 0 and 1/],
      ["huge epsilon", { epsilon: 2 }, /epsilon/],
      ["negative shard count", { totalShards: -1 }, /totalShards must be at least 0/],
      ["fractional shard count", { totalShards: 1.5 }, /totalShards must be an integer/],
      ["absurd shard count", { totalShards: 2 ** 40 }, /totalShards must be at most 100000000/],
      ["negative epoch", { epoch: -1 }, /epoch must be at least 0/],
      ["number seed", { seed: 42 }, /seed must be a bigint/],
      ["128-bit seed", { seed: 2n ** 70n }, /seed must fit in 64 bits/],
      ["empty dataset id", { datasetId: "" }, /datasetId must not be empty/],
      ["shard id out of range", { shardIds: [10] }, /shardIds\[0\] must be at most 9/],
      ["duplicate shard id", { shardIds: [1, 1] }, /shardIds\[1\] duplicates shard 1/],
    ];
    it.each(cases)("rejects %s with InvalidArgument naming the field", (_name, patch, message) => {
      const input = { ...ok, ...patch } as AssignShardsInput;
      let error: unknown;
      try {
        assignShards(input);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as RuntimeError).code).toBe(Code.InvalidArgument);
      expect((error as RuntimeError).message).toMatch(message);
    });

    it("accepts a negative (int64) seed as its unsigned bits", () => {
      const a = assignShards({ ...ok, seed: -1n });
      const b = assignShards({ ...ok, seed: 2n ** 64n - 1n });
      expect(Array.from(a.owners)).toEqual(Array.from(b.owners));
      expect(a.seed).toBe(2n ** 64n - 1n);
    });
  });
});

describe("toShardAssignments", () => {
  it("turns a worker's shards into ShardAssignments with sample ranges, in plan order", () => {
    const geometry = datasetGeometry({ totalSamples: 1005, shardSize: 100 });
    const plan = assignShards({
      ...base,
      epoch: 3,
      totalShards: geometry.totalShards,
      workers: workers(3),
    });
    const all = plan.workerIds.flatMap((id) =>
      toShardAssignments(plan, id, geometry, { filePaths: (s) => [`s3://bucket/shard-${s}`] }),
    );
    expect(all).toHaveLength(11);
    const last = all.find((a) => a.shardId === 10);
    expect(last).toEqual({
      datasetId: "imagenet",
      shardId: 10,
      totalShards: 11,
      startIndex: 1000,
      endIndex: 1005,
      epoch: 3,
      filePaths: ["s3://bucket/shard-10"],
    });
    const mine = toShardAssignments(plan, "worker-1", geometry, { filePaths: ["/data"] });
    expect(mine.map((a) => a.shardId)).toEqual(plan.shardsByWorker.get("worker-1"));
    expect(mine.every((a) => a.filePaths[0] === "/data")).toBe(true);
  });

  it("rejects an unknown worker and a mismatched geometry", () => {
    const geometry = datasetGeometry({ totalSamples: 100, shardSize: 10 });
    const plan = assignShards({ ...base, totalShards: 10, workers: workers(2) });
    expect(() => toShardAssignments(plan, "nobody", geometry)).toThrow(/workerId is not a worker/);
    expect(() =>
      toShardAssignments(plan, "worker-0", datasetGeometry({ totalSamples: 100, shardSize: 5 })),
    ).toThrow(/geometry\.totalShards/);
  });
});

describe("serializeShardPlan / parseShardPlan", () => {
  it("round-trips a plan, which then works as `previous` after a restart", () => {
    const p0 = assignShards({
      ...base,
      totalShards: 1000,
      workers: workers(7),
      shardIds: undefined,
    });
    const text = serializeShardPlan(p0);
    const copy = parseShardPlan(text);
    expect(copy).toEqual(p0);
    const next = assignShards({ ...base, totalShards: 1000, workers: workers(6), previous: copy });
    expect(diffShardPlans(p0, next).moved).toBe(p0.loads.get("worker-6"));
  });

  it.each([
    ["bad JSON", "{", /shardPlan is not valid JSON/],
    ["a wrong version", JSON.stringify({ version: 9 }), /version must be 1/],
  ])("rejects %s", (_name, text, message) => {
    expect(() => parseShardPlan(text)).toThrow(message);
  });

  it("rejects owners that point outside the workers or have the wrong length", () => {
    const p0 = assignShards({ ...base, totalShards: 3, workers: workers(2) });
    const o = JSON.parse(serializeShardPlan(p0)) as Record<string, unknown>;
    const bad = Buffer.alloc(12);
    bad.writeInt32LE(5, 4);
    expect(() => parseShardPlan({ ...o, owners: bad.toString("base64") })).toThrow(
      /owners\[1\] must be −1 or a worker index/,
    );
    expect(() => parseShardPlan({ ...o, owners: Buffer.alloc(8).toString("base64") })).toThrow(
      /owners must hold 3 int32/,
    );
    expect(() => parseShardPlan({ ...o, workerIds: ["b", "a"] })).toThrow(
      /workerIds\[1\] must be sorted and unique/,
    );
  });
});
