import { Code, RuntimeError } from "@strata/runtime-core";
import { createMemoryStorage, type MemoryStorage } from "@strata/storage";
import { type CheckpointManager, createCheckpointManager } from "../src/index.js";
import { keysOf, patternBytes } from "./helpers.js";

/** Saves steps 1..3, each with two objects, and returns the data key of `name` at `step`. */
async function setup(): Promise<{
  storage: MemoryStorage;
  manager: CheckpointManager;
  dataKey: (step: number, name: string) => Promise<string>;
  offsetOf: (step: number, name: string) => Promise<number>;
}> {
  const storage = createMemoryStorage();
  const manager = createCheckpointManager({ storage, prefix: "ck", jobId: "job" });
  for (const step of [1, 2, 3]) {
    await manager.save({
      step,
      buffers: { model: patternBytes(50_000, step), optim: patternBytes(20_000, step + 10) },
    });
  }
  await manager.flush();
  /** The pack holding `name` at `step`, and where inside it the buffer's bytes are. */
  const dataKey = async (step: number, name: string) => {
    const d = await manager.describe(step);
    const o = d.ranks[0]?.objects.find((x) => x.name === name);
    if (o === undefined) throw new Error(`no ${name} at ${step}`);
    return `ck/job/step-${String(step).padStart(12, "0")}/rank-00000/${o.key}`;
  };
  const offsetOf = async (step: number, name: string) => {
    const d = await manager.describe(step);
    return d.ranks[0]?.objects.find((x) => x.name === name)?.offset as number;
  };
  return { storage, manager, dataKey, offsetOf };
}

async function expectDataLoss(promise: Promise<unknown>, key: string, what: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RuntimeError);
  expect((error as RuntimeError).code).toBe(Code.DataLoss);
  expect((error as RuntimeError).message).toContain(key);
  expect((error as RuntimeError).message).toMatch(what);
  expect((error as RuntimeError).details.key).toBe(key);
}

describe("corruption is detected on load and latest falls back", () => {
  test("a flipped byte fails the checksum", async () => {
    const { storage, manager, dataKey, offsetOf } = await setup();
    const key = await dataKey(3, "model");
    const bytes = await storage.get(key);
    const at = (await offsetOf(3, "model")) + 12_345;
    bytes[at] = (bytes[at] as number) ^ 0x01;
    await storage.put(key, bytes);
    await expectDataLoss(manager.load(3), key, /checksum/);
    // A fresh manager (no verification cache) falls back to step 2.
    const fresh = createCheckpointManager({ storage, prefix: "ck", jobId: "job" });
    expect((await fresh.latest())?.step).toBe(2);
    expect((await fresh.load()).step).toBe(2);
    const report = await fresh.verify(3);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ key, message: expect.stringMatching(/checksum/) }),
    ]);
    expect((await fresh.verify(2)).ok).toBe(true);
    await manager.close();
    await fresh.close();
  });

  test("a truncated object is reported as truncated", async () => {
    const { storage, manager, dataKey } = await setup();
    const key = await dataKey(3, "optim");
    const bytes = await storage.get(key);
    await storage.put(key, bytes.subarray(0, bytes.length - 100));
    await expectDataLoss(manager.load(3), key, /truncated: 69900 of 70000 bytes/);
    const fresh = createCheckpointManager({ storage, prefix: "ck", jobId: "job" });
    expect((await fresh.latest())?.step).toBe(2);
    await manager.close();
  });

  test("an object with extra bytes is reported", async () => {
    const { storage, manager, dataKey } = await setup();
    const key = await dataKey(2, "optim");
    await storage.put(key, Buffer.concat([await storage.get(key), Buffer.from("junk")]));
    await expectDataLoss(manager.load(2), key, /longer than/);
    await manager.close();
  });

  test("a missing object is reported as missing", async () => {
    const { storage, manager, dataKey } = await setup();
    const key = await dataKey(3, "model");
    await storage.delete(key);
    await expectDataLoss(manager.load(3), key, /missing/);
    // load() without a step falls back by itself, without a separate latest() call.
    const loader = createCheckpointManager({ storage, prefix: "ck", jobId: "job" });
    expect((await loader.load()).step).toBe(2);
    expect((await loader.load()).buffers.model).toEqual(patternBytes(50_000, 2));
    const fresh = createCheckpointManager({ storage, prefix: "ck", jobId: "job" });
    expect((await fresh.latest())?.step).toBe(2);
    await manager.close();
  });

  test("a modified rank manifest or step manifest is detected; latest falls back past both", async () => {
    const { storage, manager } = await setup();
    const rankKey = (await keysOf(storage, "ck/job/step-000000000003/rank-00000/")).find((k) =>
      k.endsWith("/MANIFEST.json"),
    ) as string;
    const text = Buffer.from(await storage.get(rankKey)).toString("utf8");
    // Still valid JSON, different size: only the checksums can tell.
    await storage.put(
      rankKey,
      Buffer.from(text.replace('"sizeBytes": 50000', '"sizeBytes": 50001')),
    );
    await expectDataLoss(manager.load(3), rankKey, /checksum/);
    const stepKey = "ck/job/step-000000000002/MANIFEST.json";
    const stepText = Buffer.from(await storage.get(stepKey)).toString("utf8");
    await storage.put(stepKey, Buffer.from(stepText.replace('"epoch": 0', '"epoch": 1')));
    await expectDataLoss(manager.load(2), stepKey, /self-checksum/);
    const fresh = createCheckpointManager({ storage, prefix: "ck", jobId: "job" });
    expect((await fresh.latest())?.step).toBe(1);
    expect((await fresh.list()).map((c) => c.step)).toEqual([1, 3]);
    const all = await fresh.list({ includePartial: true });
    expect(all.find((c) => c.step === 2)?.state).toBe("corrupt");
    await manager.close();
  });

  test("a partial step (rank manifest without step manifest) is never listed or loaded", async () => {
    const { storage, manager } = await setup();
    await storage.delete("ck/job/step-000000000003/MANIFEST.json");
    expect((await manager.list()).map((c) => c.step)).toEqual([1, 2]);
    expect((await manager.list({ includePartial: true })).find((c) => c.step === 3)?.state).toBe(
      "partial",
    );
    expect((await manager.latest())?.step).toBe(2);
    await expect(manager.load(3)).rejects.toMatchObject({ code: Code.FailedPrecondition });
    const report = await manager.verify(3);
    expect(report.ok).toBe(false);
    expect(report.problems[0]?.message).toMatch(/partial/);
    // The step can be completed after the fact (e.g. by a restarted process).
    const commit = await manager.commitGlobalManifest(3);
    expect(commit.created).toBe(true);
    expect((await manager.latest())?.step).toBe(3);
    await manager.close();
  });

  test("with every checkpoint corrupt, latest is undefined and load() is NotFound", async () => {
    const { storage, manager, dataKey } = await setup();
    for (const step of [1, 2, 3]) await storage.delete(await dataKey(step, "model"));
    const fresh = createCheckpointManager({ storage, prefix: "ck", jobId: "job" });
    expect(await fresh.latest()).toBeUndefined();
    await expect(fresh.load()).rejects.toMatchObject({ code: Code.NotFound });
    await manager.close();
  });

  test("lz4 objects: corruption of compressed bytes is caught by the stored-bytes checksum", async () => {
    const storage = createMemoryStorage();
    const manager = createCheckpointManager({
      storage,
      jobId: "z",
      compression: "lz4",
      chunkBytes: 8192,
    });
    await (await manager.save({ step: 1, buffers: { a: new Uint8Array(100_000).fill(7) } }))
      .committed;
    const key = (await keysOf(storage, "z/step-000000000001/rank-00000/")).find((k) =>
      k.endsWith(".bin"),
    ) as string;
    const bytes = await storage.get(key);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0xff;
    await storage.put(key, bytes);
    await expectDataLoss(manager.load(1), key, /checksum/);
    await manager.close();
  });

  test("verify reports progress up to the total", async () => {
    const { manager } = await setup();
    const seen: [number, number][] = [];
    const report = await manager.verify(2, {
      onProgress: (done, total) => seen.push([done, total]),
    });
    expect(report).toMatchObject({
      ok: true,
      objectCount: 2,
      verifiedBytes: 70_000,
      totalBytes: 70_000,
    });
    expect(seen.at(-1)).toEqual([70_000, 70_000]);
    await manager.close();
  });
});
