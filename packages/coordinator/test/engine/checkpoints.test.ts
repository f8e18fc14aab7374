import { Code } from "@strata/runtime-core";
import type { CoordinatorEngine, NotifyCheckpointInput } from "../../src/engine/index.js";
import { dataset, registerAll, startEngine } from "./helpers.js";

function part(
  workerId: string,
  step: number,
  overrides: Partial<NotifyCheckpointInput> = {},
): NotifyCheckpointInput {
  return {
    workerId,
    jobId: "job",
    checkpointId: `ckpt-${step}-${workerId}`,
    step,
    epoch: Math.floor(step / 100),
    storagePath: `/etc/passwd-${workerId}-${step}`,
    sizeBytes: 1_000,
    kind: "full",
    metadata: { note: "x" },
    ...overrides,
  };
}

async function reportAll(engine: CoordinatorEngine, ids: readonly string[], step: number) {
  const out = [];
  for (const id of ids) out.push(await engine.notifyCheckpoint(part(id, step)));
  return out;
}

describe("checkpoints", () => {
  test("a step is complete once every rank of its membership reported", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a", "b", "c"]);
    const acks = await reportAll(engine, ["a", "b", "c"], 100);
    expect(acks.map((a) => [a.complete, a.ranksReported, a.ranksExpected])).toEqual([
      [false, 1, 3],
      [false, 2, 3],
      [true, 3, 3],
    ]);
    expect(acks[0]?.globalStep).toBe(100);
    // The same rank reporting twice does not complete a step.
    await engine.notifyCheckpoint(part("a", 200));
    const dup = await engine.notifyCheckpoint(part("a", 200, { checkpointId: "retry" }));
    expect(dup).toMatchObject({ complete: false, ranksReported: 1 });
    await engine.close();
  });

  test("latest complete checkpoint: the highest complete step, this worker's part, resume step/epoch and shards", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a", "b"]);
    await engine.registerDataset(dataset());
    expect(engine.getLatestCheckpoint({ workerId: "a", jobId: "job" })).toEqual({
      hasCheckpoint: false,
      membershipVersion: 2,
    });
    await reportAll(engine, ["a", "b"], 100);
    await reportAll(engine, ["a", "b"], 200);
    // Step 300 is incomplete (b never reported): recovery falls back to 200.
    await engine.notifyCheckpoint(part("a", 300));
    const latest = engine.getLatestCheckpoint({ workerId: "b", jobId: "job" });
    if (!latest.hasCheckpoint) throw new Error("expected a checkpoint");
    expect(latest.resumeStep).toBe(200);
    expect(latest.resumeEpoch).toBe(2);
    expect(latest.checkpoint).toMatchObject({
      workerId: "b",
      rank: 1,
      checkpointId: "ckpt-200-b",
      jobId: "job",
    });
    expect(latest.parts.map((p) => p.rank)).toEqual([0, 1]);
    const mine = engine.getShardAssignments({
      workerId: "b",
      datasetId: "ds",
      epoch: 2,
    }).assignments;
    expect(latest.shardAssignments.map((s) => s.shardId)).toEqual(mine.map((s) => s.shardId));
    expect(latest.shardAssignments.every((s) => s.epoch === 2)).toBe(true);
    // Another job has its own history; the empty job id is "default".
    expect(engine.getLatestCheckpoint({ workerId: "a", jobId: "other" }).hasCheckpoint).toBe(false);
    await engine.close();
  });

  test("a replacement worker gets rank 0's part; explicit rank and world size are honoured", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a"]);
    await engine.notifyCheckpoint(part("a", 10, { rank: 0, worldSize: 2, jobId: "" }));
    const half = await engine.notifyCheckpoint(
      part("offline-writer", 10, { rank: 1, worldSize: 2, jobId: "" }),
    );
    expect(half).toMatchObject({ complete: true, ranksExpected: 2 });
    const latest = engine.getLatestCheckpoint({ workerId: "newcomer", jobId: "" });
    if (!latest.hasCheckpoint) throw new Error("expected a checkpoint");
    expect(latest.checkpoint.rank).toBe(0);
    expect(latest.shardAssignments).toEqual([]);
    await engine.close();
  });

  test("an unregistered worker without a rank is FAILED_PRECONDITION", async () => {
    const { engine } = await startEngine();
    await expect(engine.notifyCheckpoint(part("ghost", 1))).rejects.toMatchObject({
      code: Code.FailedPrecondition,
    });
    await engine.close();
  });

  test("old steps' metadata is pruned, the latest complete step is kept, user storage is never touched", async () => {
    const { engine, store } = await startEngine({ maxCheckpointStepsPerJob: 3 });
    await registerAll(engine, ["a", "b"]);
    await reportAll(engine, ["a", "b"], 1);
    for (let step = 2; step <= 6; step++) await engine.notifyCheckpoint(part("a", step));
    const steps = engine.snapshot().checkpoints.map((c) => c.step);
    expect(steps).toEqual([1, 5, 6]);
    expect(
      store
        .dump()
        .checkpointSteps.map((s) => s.step)
        .sort(),
    ).toEqual([1, 5, 6]);
    const latest = engine.getLatestCheckpoint({ workerId: "a", jobId: "job" });
    expect(latest.hasCheckpoint && latest.resumeStep).toBe(1);
    // The paths were recorded verbatim and nothing tried to read or delete them.
    expect(store.dump().checkpoints.map((c) => c.storagePath)).toContain("/etc/passwd-a-1");
    await engine.close();
  });

  test("the number of jobs is bounded", async () => {
    const { engine } = await startEngine({ maxJobs: 1 });
    await registerAll(engine, ["a"]);
    await engine.notifyCheckpoint(part("a", 1));
    await expect(engine.notifyCheckpoint(part("a", 1, { jobId: "second" }))).rejects.toMatchObject({
      code: Code.ResourceExhausted,
    });
    await engine.close();
  });
});
