import { dataset, registerAll, startEngine } from "./helpers.js";

describe("read model", () => {
  test("snapshot shows workers by rank, datasets with epoch progress, checkpoints and counters", async () => {
    const { engine } = await startEngine({ minReplanIntervalMs: 0 });
    await registerAll(engine, ["a", "b", "c"]);
    await engine.deregisterWorker("b");
    engine.heartbeat({
      workerId: "c",
      state: "training",
      resources: {
        cpuPercent: 50,
        memoryUsedBytes: 10,
        gpus: [
          {
            gpuId: 0,
            utilizationPercent: 90,
            memoryUsedBytes: 1,
            memoryTotalBytes: 2,
            temperatureCelsius: 60,
          },
        ],
        diskReadBytes: 0,
        diskWriteBytes: 0,
        networkRxBytes: 0,
        networkTxBytes: 0,
      },
    });
    await engine.registerDataset(dataset({ totalSamples: 20, shardSize: 10 }));
    for (const id of ["a", "c"]) {
      for (const s of engine.getShardAssignments({ workerId: id, datasetId: "ds", epoch: 1 })
        .assignments) {
        await engine.reportShardProgress({
          workerId: id,
          datasetId: "ds",
          epoch: 1,
          shardId: s.shardId,
          upTo: s.endIndex,
        });
      }
    }
    await engine.notifyCheckpoint({
      workerId: "a",
      jobId: "j",
      checkpointId: "x",
      step: 3,
      epoch: 1,
      storagePath: "p",
      sizeBytes: 5,
      kind: "full",
      metadata: {},
    });
    const snap = engine.snapshot();
    expect(snap.worldSize).toBe(2);
    expect(snap.membershipVersion).toBe(4);
    expect(snap.workers.map((w) => [w.workerId, w.rank, w.state])).toEqual([
      ["a", 0, "initializing"],
      ["c", 2, "training"],
      ["b", 1, "dead"],
    ]);
    expect(snap.workers[1]?.resources?.gpus[0]?.utilizationPercent).toBe(90);
    expect((snap.workers[0]?.samplesConsumed ?? 0) + (snap.workers[1]?.samplesConsumed ?? 0)).toBe(
      20,
    );
    expect(snap.datasets[0]?.epochs).toEqual([{ epoch: 1, consumedSamples: 20, complete: true }]);
    expect(snap.checkpoints).toEqual([
      {
        jobId: "j",
        step: 3,
        epoch: 1,
        expectedRanks: 2,
        ranksReported: [0],
        complete: false,
        totalSizeBytes: 5,
        createdAtMs: snap.atMs,
        completedAtMs: 0,
        expected: [0, 2],
        parts: [expect.objectContaining({ jobId: "j", step: 3, rank: 0, sizeBytes: 5 })],
      },
    ]);
    expect(snap.counters).toMatchObject({
      registrations: 3,
      deregistrations: 1,
      membershipChanges: 4,
      checkpointsRecorded: 1,
    });
    expect(snap.barrierFailurePolicy).toBe("abort");
    const types = engine.recentEvents().map((e) => e.type);
    expect(types).toContain("dataset_registered");
    expect(types).toContain("shard_progress");
    expect(types).toContain("checkpoint_recorded");
    expect(types).toContain("worker_deregistered");
    await engine.close();
  });
});
