import { Code } from "@strata/runtime-core";
import { createCoordinatorEngine } from "../../src/engine/index.js";
import { createMemoryStore, createSqliteStore } from "../../src/store/index.js";
import { dataset, registerAll, rejection, startEngine, thrown } from "./helpers.js";

describe("read models and auxiliary records", () => {
  test("the shard map pages an epoch's owners, consumed samples and pins", async () => {
    const { engine } = await startEngine({ minReplanIntervalMs: 0 });
    await registerAll(engine, ["a", "b", "c"]);
    await engine.registerDataset(dataset({ totalSamples: 95, shardSize: 10 }));
    const mine = engine.getShardAssignments({ workerId: "b", datasetId: "ds", epoch: 0 });
    const first = mine.assignments[0];
    if (first === undefined) throw new Error("b has no shards");
    await engine.reportShardProgress({
      workerId: "b",
      datasetId: "ds",
      epoch: 0,
      shardId: first.shardId,
      consumed: [{ start: first.startIndex, end: first.startIndex + 4 }],
    });
    const map = engine.datasetShardMap("ds");
    expect(map).toMatchObject({ epoch: 0, totalShards: 10, offset: 0 });
    expect(map.owner).toHaveLength(10);
    expect(map.workers[map.owner[first.shardId] as number]).toBe("b");
    expect(map.consumed[first.shardId]).toBe(4);
    expect(map.pinned[first.shardId]).toBe(true);
    expect(Object.values(map.shardsPerWorker).reduce((x, y) => x + y, 0)).toBe(10);
    expect(map.shardsPerWorker.b).toBe(mine.assignments.length);
    const page = engine.datasetShardMap("ds", { offset: 8, limit: 5 });
    expect(page.owner).toHaveLength(2);
    expect(page.offset).toBe(8);
    expect(engine.assignedShardCounts().get("b")).toBe(mine.assignments.length);
    expect(thrown(() => engine.datasetShardMap("nope")).code).toBe(Code.NotFound);
    await engine.close();
  });

  test("records are durable before put resolves and come back after a restart (SQLite)", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const engine = createCoordinatorEngine({ store });
    await engine.start();
    await engine.putRecord("task", "t1", '{"name":"one"}');
    await engine.putRecord("task", "t2", '{"name":"two"}');
    await engine.putRecord("task", "t1", '{"name":"uno"}');
    await engine.deleteRecord("task", "t2");
    await engine.deleteRecord("task", "missing");
    expect(engine.records("task")).toEqual([{ id: "t1", json: '{"name":"uno"}' }]);
    expect(engine.records("other")).toEqual([]);
    await engine.close();
    const again = createCoordinatorEngine({ store });
    await again.start();
    expect(again.records("task")).toEqual([{ id: "t1", json: '{"name":"uno"}' }]);
    await again.close();
    await store.close();
  });

  test("a record that cannot be stored is not kept", async () => {
    const store = createMemoryStore();
    const { engine } = await startEngine({ store });
    await store.close();
    expect((await rejection(engine.putRecord("task", "t", "{}"))).code).toBe(Code.Unavailable);
    expect(engine.records("task")).toEqual([]);
    await engine.close();
  });

  test("event seq starts at firstEventSeq", async () => {
    const { engine } = await startEngine({ firstEventSeq: 1_000 });
    expect(engine.lastEventSeq).toBe(999);
    await registerAll(engine, ["a"]);
    expect(engine.recentEvents()[0]?.seq).toBe(1_000);
    expect(engine.lastEventSeq).toBeGreaterThanOrEqual(1_000);
    await engine.close();
  });
});
