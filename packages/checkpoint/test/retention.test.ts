import { Code, ManualClock } from "@strata/runtime-core";
import { createMemoryStorage } from "@strata/storage";
import { createCheckpointManager } from "../src/index.js";
import { GatedStorage, keysOf, patternBytes, rankManifestKeys } from "./helpers.js";

const HOUR = 3_600_000;

async function saveSteps(
  manager: ReturnType<typeof createCheckpointManager>,
  steps: number[],
): Promise<void> {
  for (const step of steps) await manager.save({ step, buffers: { w: patternBytes(2_000, step) } });
  await manager.flush();
}

describe("retention", () => {
  test("keeps the last N plus every K-th step, after each commit", async () => {
    const storage = createMemoryStorage();
    await using manager = createCheckpointManager({
      storage,
      jobId: "j",
      retention: { keepLast: 2, keepEvery: 100 },
    });
    await saveSteps(manager, [50, 100, 150, 200, 250, 300, 350]);
    expect((await manager.list()).map((c) => c.step)).toEqual([100, 200, 300, 350]);
    // Nothing of a deleted step is left behind.
    expect((await keysOf(storage, "j/")).some((k) => k.includes("step-000000000250"))).toBe(false);
  });

  test("marks a step DELETING, then deletes its step manifest, rank manifests and data, marker last", async () => {
    const storage = new GatedStorage(createMemoryStorage());
    await using manager = createCheckpointManager({ storage, jobId: "j" });
    await saveSteps(manager, [1, 2, 3]);
    await manager.prune({ keepLast: 1 });
    const ops = storage.ops.filter((k) => k.includes("step-000000000001/"));
    const at = (pattern: RegExp) => ops.findIndex((op) => pattern.test(op));
    const marker = at(/^put j\/step-000000000001\/DELETING$/);
    const stepManifest = at(/^delete j\/step-000000000001\/MANIFEST\.json$/);
    const rankManifest = at(/^delete j\/step-000000000001\/rank-00000\/[^/]+\/MANIFEST\.json$/);
    const data = at(/^delete .*\.bin$/);
    const markerGone = at(/^delete j\/step-000000000001\/DELETING$/);
    expect(marker).toBeGreaterThanOrEqual(0);
    expect([marker, stepManifest, rankManifest, data, markerGone]).toEqual(
      [marker, stepManifest, rankManifest, data, markerGone].sort((x, y) => x - y),
    );
    expect(markerGone).toBe(ops.length - 1);
    expect(await keysOf(storage, "j/step-000000000001/")).toEqual([]);
  });

  test("never deletes the newest verified checkpoint, even when newer ones are corrupt", async () => {
    const storage = createMemoryStorage();
    const writer = createCheckpointManager({ storage, jobId: "j" });
    await saveSteps(writer, [1, 2, 3, 4, 5]);
    await writer.close();
    // Corrupt steps 4 and 5: the newest good one is 3.
    for (const step of [4, 5]) {
      const dir = `j/step-00000000000${step}/rank-00000/`;
      const key = (await keysOf(storage, dir)).find((k) => k.endsWith(".bin")) as string;
      await storage.put(key, new Uint8Array(10));
    }
    const manager = createCheckpointManager({ storage, jobId: "j" });
    const dry = await manager.prune({ keepLast: 1, dryRun: true });
    expect(dry.newestVerifiedStep).toBe(3);
    expect(dry.deletedSteps).toEqual([1, 2]);
    expect(dry.reasons[3]).toContain("newest verified");
    expect((await manager.list()).map((c) => c.step)).toEqual([1, 2, 3, 4, 5]); // dry run deleted nothing
    await manager.prune({ keepLast: 1 });
    expect((await manager.list()).map((c) => c.step)).toEqual([3, 4, 5]);
    expect((await manager.latest())?.step).toBe(3);
    await manager.close();
  });

  test("deletes nothing when no checkpoint verifies", async () => {
    const storage = createMemoryStorage();
    const writer = createCheckpointManager({ storage, jobId: "j" });
    await saveSteps(writer, [1, 2, 3]);
    for (const key of (await keysOf(storage, "j/")).filter((k) => k.endsWith(".bin")))
      await storage.delete(key);
    const manager = createCheckpointManager({ storage, jobId: "j" });
    const result = await manager.prune({ keepLast: 1 });
    expect(result.deletedSteps).toEqual([]);
    expect((await manager.list()).map((c) => c.step)).toEqual([1, 2, 3]);
  });

  test("keeps a freshly written checkpoint whose step is lower than the kept ones", async () => {
    const storage = createMemoryStorage();
    const clock = new ManualClock(1_000_000);
    await using manager = createCheckpointManager({
      storage,
      jobId: "j",
      clock,
      retention: { keepLast: 2 },
    });
    await saveSteps(manager, [10, 20, 30]);
    clock.advance(1000);
    await saveSteps(manager, [5]); // training restarted from an earlier point
    expect((await manager.list()).map((c) => c.step)).toEqual([5, 20, 30]);
  });

  test("never touches anything outside its own prefix and job", async () => {
    const storage = createMemoryStorage();
    const foreign = [
      "ckpt/j1x/step-000000000001/MANIFEST.json", // a job whose name extends ours
      "ckpt/j10/step-000000000001/rank-00000/abc/obj.bin",
      "ckpt-other/j1/step-000000000001/MANIFEST.json", // a prefix that extends ours
      "other/j1/step-000000000001/MANIFEST.json",
      "ckpt/j1.txt",
      "ckpt/j1/notes.txt", // our job folder, but not a checkpoint file
    ];
    for (const key of foreign) await storage.put(key, Buffer.from("precious"));
    const clock = new ManualClock(10 * HOUR);
    await using manager = createCheckpointManager({
      storage,
      prefix: "ckpt",
      jobId: "j1",
      clock,
      retention: { keepLast: 1, orphanGraceMs: 0 },
    });
    await saveSteps(manager, [1, 2, 3]);
    clock.advance(2 * HOUR);
    await manager.prune();
    const keys = await keysOf(storage);
    for (const key of foreign) expect(keys).toContain(key);
    expect((await manager.list()).map((c) => c.step)).toEqual([3]);
  });

  test("sweeps leftovers of dead save attempts at once: superseded attempts and abandoned older partial steps", async () => {
    const clock = new ManualClock(100 * HOUR);
    const storage = createMemoryStorage({ now: () => clock.now() });
    const manager = createCheckpointManager({ storage, jobId: "j", clock });
    await saveSteps(manager, [1]);
    // A crashed save of step 2 (data, no manifest), and a superseded attempt's data inside step 1.
    const orphans = [
      "j/step-000000000001/rank-00000/feedface0000/pack-00000.bin",
      "j/step-000000000002/rank-00000/deadbeef0000/pack-00000.bin",
    ];
    for (const key of orphans) await storage.put(key, patternBytes(10));
    await saveSteps(manager, [3]);
    const dry = await manager.prune({ keepLast: 5, dryRun: true });
    expect(dry.deletedOrphanKeys.sort()).toEqual(orphans);
    expect(await keysOf(storage, "j/")).toEqual(expect.arrayContaining(orphans));
    const result = await manager.prune({ keepLast: 5 });
    expect(result.deletedOrphanKeys.sort()).toEqual(orphans);
    const keys = await keysOf(storage, "j/");
    for (const orphan of orphans) expect(keys).not.toContain(orphan);
    expect((await manager.list({ includePartial: true })).map((c) => c.step)).toEqual([1, 3]);
    expect((await manager.load(1)).buffers.w).toEqual(patternBytes(2_000, 1));
    await manager.close();
  });

  test("with stepCommit manual, an older partial step waits orphanGraceMs (a coordinator may still commit it)", async () => {
    const clock = new ManualClock(100 * HOUR);
    const storage = createMemoryStorage({ now: () => clock.now() });
    const manager = createCheckpointManager({ storage, jobId: "j", clock, stepCommit: "manual" });
    for (const step of [1, 2, 3]) {
      await (await manager.save({ step, buffers: { w: patternBytes(2_000, step) } })).committed;
      if (step !== 2) await manager.commitGlobalManifest(step);
    }
    const stray = "j/step-000000000001/rank-00000/feedface0000/pack-00000.bin";
    await storage.put(stray, patternBytes(10));
    const first = await manager.prune({ keepLast: 5, orphanGraceMs: HOUR });
    expect(first.deletedOrphanKeys).toEqual([stray]); // a superseded attempt in a complete step: at once
    expect((await manager.list({ includePartial: true })).map((c) => [c.step, c.state])).toEqual([
      [1, "complete"],
      [2, "partial"],
      [3, "complete"],
    ]);
    clock.advance(2 * HOUR);
    const later = await manager.prune({ keepLast: 5, orphanGraceMs: HOUR });
    expect(later.deletedOrphanKeys).toHaveLength(2); // step 2's rank manifest and pack
    expect((await manager.list({ includePartial: true })).map((c) => c.step)).toEqual([1, 3]);
    await manager.close();
  });

  test("tells leftovers from committed data without reading rank manifests", async () => {
    const storage = createMemoryStorage();
    await using manager = createCheckpointManager({ storage, jobId: "j" });
    await saveSteps(manager, [1, 2]);
    const committed = await keysOf(storage, "j/step-000000000001/");
    const orphan = "j/step-000000000001/rank-00000/feedface0000/pack-00000.bin";
    await storage.put(orphan, patternBytes(10));
    // Even with the committed rank manifest damaged, committed data (under the attempt the step
    // manifest names) stays.
    const [rankManifest] = await rankManifestKeys(storage, "j/step-000000000001/");
    await storage.put(rankManifest as string, Buffer.from("{ damaged"));
    const result = await manager.prune({ keepLast: 5 });
    expect(result.deletedOrphanKeys).toEqual([orphan]);
    expect(await keysOf(storage, "j/step-000000000001/")).toEqual(committed);
  });

  test("prune without a policy is InvalidArgument", async () => {
    await using manager = createCheckpointManager({ storage: createMemoryStorage(), jobId: "j" });
    await expect(manager.prune()).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});
