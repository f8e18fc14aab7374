import { Code } from "@strata/runtime-core";
import { createMemoryStorage } from "@strata/storage";
import { createCheckpointManager } from "../src/index.js";
import { patternBytes } from "./helpers.js";

describe("multi-rank checkpoints", () => {
  test("a step is complete only when every rank committed; the last rank commits it", async () => {
    const storage = createMemoryStorage();
    const ranks = [0, 1, 2].map((rank) =>
      createCheckpointManager({ storage, prefix: "c", jobId: "j", rank, worldSize: 3 }),
    );
    const [r0, r1, r2] = ranks as [(typeof ranks)[0], (typeof ranks)[0], (typeof ranks)[0]];
    const save = (m: typeof r0, step: number) =>
      m.save({
        step,
        epoch: 1,
        buffers: { shard: patternBytes(5_000, step * 10 + m.rank) },
        dataPosition: { rank: m.rank },
      });

    const a = await (await save(r0, 7)).committed;
    expect(a.stepComplete).toBe(false);
    const b = await (await save(r2, 7)).committed;
    expect(b.stepComplete).toBe(false);
    expect(await r0.isStepComplete(7)).toBe(false);
    expect(await r0.list()).toEqual([]);
    expect(await r0.latest()).toBeUndefined();
    await expect(r0.load(7)).rejects.toMatchObject({ code: Code.FailedPrecondition });
    await expect(r0.commitGlobalManifest(7)).rejects.toThrow(/rank\(s\) 1 of 3/);
    const c = await (await save(r1, 7)).committed;
    expect(c.stepComplete).toBe(true);
    expect(await r2.isStepComplete(7)).toBe(true);
    const [info] = await r0.list();
    expect(info).toMatchObject({ step: 7, worldSize: 3, ranks: [0, 1, 2], totalSizeBytes: 15_000 });
    expect((await r0.latest())?.step).toBe(7);
    for (const m of ranks) {
      const loaded = await r0.load(7, { rank: m.rank });
      expect(loaded.rank).toBe(m.rank);
      expect(loaded.buffers.shard).toEqual(patternBytes(5_000, 70 + m.rank));
      expect(loaded.dataPosition).toEqual({ rank: m.rank });
    }
    await expect(r0.load(7, { rank: 3 })).rejects.toMatchObject({ code: Code.InvalidArgument });
    const again = await r0.commitGlobalManifest(7);
    expect(again.created).toBe(false);
    await Promise.all(ranks.map((m) => m.close()));
  });

  test("manual step commit: ranks only write their parts; the coordinator's pick commits", async () => {
    const storage = createMemoryStorage();
    const ranks = [0, 1].map((rank) =>
      createCheckpointManager({ storage, jobId: "j", rank, worldSize: 2, stepCommit: "manual" }),
    );
    for (const m of ranks) {
      const ref = await (await m.save({ step: 1, buffers: { x: patternBytes(100, m.rank) } }))
        .committed;
      expect(ref.stepComplete).toBe(false);
    }
    expect(await ranks[0]?.isStepComplete(1)).toBe(false);
    const commit = await ranks[0]?.commitGlobalManifest(1, 2, { deep: true });
    expect(commit?.created).toBe(true);
    expect(commit?.manifest.ranks.map((r) => r.rank)).toEqual([0, 1]);
    expect((await ranks[1]?.latest())?.step).toBe(1);
    await Promise.all(ranks.map((m) => m.close()));
  });

  test("commitGlobalManifest refuses a rank whose data is missing", async () => {
    const storage = createMemoryStorage();
    const m = createCheckpointManager({ storage, jobId: "j", stepCommit: "manual" });
    await (await m.save({ step: 1, buffers: { x: patternBytes(100) } })).committed;
    for await (const info of storage.list("j/step-000000000001/rank-00000/")) {
      if (info.key.endsWith(".bin")) await storage.delete(info.key);
    }
    await expect(m.commitGlobalManifest(1)).rejects.toMatchObject({ code: Code.DataLoss });
    expect(await m.isStepComplete(1)).toBe(false);
    await m.close();
  });
});
