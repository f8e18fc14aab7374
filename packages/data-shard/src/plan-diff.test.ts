import { assignShards } from "./assign-shards.js";
import { countMovedShards, diffShardPlans } from "./plan-diff.js";

const base = { datasetId: "d", epoch: 0, seed: 1n, totalShards: 300 };

describe("plan diff", () => {
  it("reports nothing moved between equal plans", () => {
    const a = assignShards({ ...base, workers: [{ workerId: "a" }, { workerId: "b" }] });
    const b = assignShards({ ...base, epoch: 5, workers: [{ workerId: "b" }, { workerId: "a" }] });
    expect(diffShardPlans(a, b)).toEqual({
      moved: 0,
      minimum: 0,
      ratio: 1,
      joined: [],
      left: [],
      receivedBy: new Map(),
    });
  });

  it("counts moved shards, who joined, who left and who received", () => {
    const a = assignShards({
      ...base,
      workers: [{ workerId: "a" }, { workerId: "b" }, { workerId: "c" }],
    });
    const b = assignShards({
      ...base,
      workers: [{ workerId: "a" }, { workerId: "b" }],
      previous: a,
    });
    const diff = diffShardPlans(a, b);
    expect(diff.left).toEqual(["c"]);
    expect(diff.joined).toEqual([]);
    expect(diff.moved).toBe(a.loads.get("c"));
    expect(countMovedShards(a, b)).toBe(diff.moved);
    expect(diff.minimum).toBe(diff.moved);
    expect(diff.ratio).toBe(1);
    expect([...diff.receivedBy.values()].reduce((n, v) => n + v, 0)).toBe(diff.moved);
    // Owner changes are counted shard by shard against the ids, not the indexes.
    let manual = 0;
    for (let s = 0; s < base.totalShards; s++) {
      if (a.workerIds[a.owners[s] as number] !== b.workerIds[b.owners[s] as number]) manual++;
    }
    expect(manual).toBe(diff.moved);
  });

  it("refuses plans of different datasets or sizes", () => {
    const a = assignShards({ ...base, workers: [{ workerId: "a" }] });
    const b = assignShards({ ...base, datasetId: "e", workers: [{ workerId: "a" }] });
    const c = assignShards({ ...base, totalShards: 301, workers: [{ workerId: "a" }] });
    expect(() => countMovedShards(a, b)).toThrow(/after\.datasetId differs/);
    expect(() => countMovedShards(a, c)).toThrow(/after\.totalShards differs/);
  });
});
