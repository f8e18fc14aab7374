import { Code } from "@strata/runtime-core";
import { createCoordinatorEngine } from "../../src/engine/index.js";
import { createMemoryStore } from "../../src/store/index.js";
import { dataset, registerAll, rejection, startEngine, thrown } from "./helpers.js";

/** Consumes the first `count` remaining samples of a worker's assignment, reporting each shard. */
async function consume(
  engine: Awaited<ReturnType<typeof startEngine>>["engine"],
  workerId: string,
  epoch: number,
  count: number,
): Promise<number[]> {
  const seen: number[] = [];
  const { assignments, membershipVersion } = engine.getShardAssignments({
    workerId,
    datasetId: "ds",
    epoch,
  });
  for (const shard of assignments) {
    for (const range of shard.remainingRanges) {
      const end = Math.min(range.end, range.start + (count - seen.length));
      if (end <= range.start) break;
      for (let i = range.start; i < end; i++) seen.push(i);
      await engine.reportShardProgress({
        workerId,
        datasetId: "ds",
        epoch,
        shardId: shard.shardId,
        consumed: [{ start: range.start, end }],
        membershipVersion,
      });
    }
    if (seen.length >= count) break;
  }
  return seen;
}

function remaining(
  engine: Awaited<ReturnType<typeof startEngine>>["engine"],
  workerIds: readonly string[],
  epoch: number,
): number[] {
  const out: number[] = [];
  for (const workerId of workerIds) {
    for (const a of engine.getShardAssignments({ workerId, datasetId: "ds", epoch }).assignments) {
      for (const r of a.remainingRanges) for (let i = r.start; i < r.end; i++) out.push(i);
    }
  }
  return out.sort((a, b) => a - b);
}

describe("data position (GetShardProgress / RestoreShardProgress)", () => {
  test("a restored position serves again exactly the samples consumed after it", async () => {
    const { engine } = await startEngine({ minReplanIntervalMs: 0 });
    await registerAll(engine, ["a", "b"]);
    await engine.registerDataset(dataset({ totalSamples: 95, shardSize: 10, shuffle: true }));
    const before = [...(await consume(engine, "a", 0, 23)), ...(await consume(engine, "b", 0, 7))];
    const position = engine.getShardProgress({ workerId: "a", datasetId: "ds", epoch: 0 });
    expect(position.consumedSamples).toBe(30);
    expect(position.totalShards).toBe(10);
    expect(position.completeShards).toHaveLength(2);
    const after = [...(await consume(engine, "a", 0, 15)), ...(await consume(engine, "b", 0, 9))];
    await consume(engine, "a", 1, 5); // the job had moved into the next epoch too

    const versionBefore = engine.membership().version;
    const result = await engine.restoreShardProgress({ workerId: "b", position });
    expect(result).toEqual({
      consumedSamples: 30,
      forgottenEpochs: [1],
      membershipVersion: versionBefore + 1,
    });
    const left = remaining(engine, ["a", "b"], 0);
    const expected = [...Array(95).keys()].filter((i) => !before.includes(i));
    expect(left).toEqual(expected);
    for (const i of after) expect(left).toContain(i);
    // The next epoch starts over.
    expect(remaining(engine, ["a", "b"], 1)).toHaveLength(95);
    // Workers learn to ask again.
    expect(engine.heartbeat({ workerId: "a" }).pendingCommands).toContain("membership_changed");
    await engine.close();
  });

  test("a restore survives a restart", async () => {
    const store = createMemoryStore();
    const { engine } = await startEngine({ store });
    await registerAll(engine, ["a"]);
    await engine.registerDataset(dataset({ totalSamples: 50, shardSize: 10 }));
    await consume(engine, "a", 0, 12);
    const position = engine.getShardProgress({ workerId: "a", datasetId: "ds", epoch: 0 });
    await consume(engine, "a", 0, 20);
    await engine.restoreShardProgress({ workerId: "a", position });
    await engine.close();

    const again = createCoordinatorEngine({ store: createMemoryStore({ initial: store.dump() }) });
    await again.start();
    await registerAll(again, ["a"]);
    const restarted = again.getShardProgress({ workerId: "a", datasetId: "ds", epoch: 0 });
    expect(restarted.consumedSamples).toBe(12);
    expect(Buffer.from(restarted.completeShards)).toEqual(Buffer.from(position.completeShards));
    expect(restarted.partialShards).toEqual(position.partialShards);
    await again.close();
  });

  test("a position that does not fit the dataset is INVALID_ARGUMENT naming the field", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a"]);
    await engine.registerDataset(dataset({ totalSamples: 50, shardSize: 10 }));
    const position = engine.getShardProgress({ workerId: "a", datasetId: "ds", epoch: 0 });
    const wrongTotal = await rejection(
      engine.restoreShardProgress({ workerId: "a", position: { ...position, totalShards: 6 } }),
    );
    expect(wrongTotal.code).toBe(Code.InvalidArgument);
    expect(wrongTotal.details).toMatchObject({ field: "position.total_shards" });
    const outside = await rejection(
      engine.restoreShardProgress({
        workerId: "a",
        position: {
          ...position,
          partialShards: [{ shardId: 2, consumed: [{ start: 5, end: 9 }] }],
        },
      }),
    );
    expect(outside.details).toMatchObject({ field: "position.partial_shards.consumed" });
    const unknown = thrown(() =>
      engine.getShardProgress({ workerId: "a", datasetId: "nope", epoch: 0 }),
    );
    expect(unknown.code).toBe(Code.NotFound);
    const notLive = thrown(() =>
      engine.getShardProgress({ workerId: "ghost", datasetId: "ds", epoch: 0 }),
    );
    expect(notLive.code).toBe(Code.FailedPrecondition);
    await engine.close();
  });
});
