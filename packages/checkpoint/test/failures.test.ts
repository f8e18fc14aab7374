import { Code, RuntimeError } from "@strata/runtime-core";
import { createMemoryStorage, type PutBody, type PutOptions } from "@strata/storage";
import { createCheckpointManager } from "../src/index.js";
import { GatedStorage, keysOf, patternBytes } from "./helpers.js";

/** Fails the next `times` puts whose key matches, with `code`, after consuming part of the body. */
class FaultyStorage extends GatedStorage {
  failures: { match: (key: string) => boolean; times: number; code: Code }[] = [];

  override async put(key: string, body: PutBody, options: PutOptions = {}) {
    const f = this.failures.find((x) => x.times > 0 && x.match(key));
    if (f !== undefined) {
      f.times--;
      if (!(body instanceof Uint8Array)) for await (const _ of body) break;
      throw new RuntimeError(`injected failure for ${key}`, { code: f.code });
    }
    return super.put(key, body, options);
  }
}

/** A rank manifest: `.../rank-00000/<attempt>/MANIFEST.json`. */
const isRankManifest = (key: string) => /\/rank-00000\/[^/]+\/MANIFEST\.json$/.test(key);

const state = (step: number) => ({
  step,
  buffers: { a: patternBytes(30_000, step), b: patternBytes(10_000, step + 9) },
});

describe("write failures", () => {
  test("a failed data write rejects committed, deletes its data and leaves earlier checkpoints", async () => {
    const storage = new FaultyStorage(createMemoryStorage());
    await using manager = createCheckpointManager({ storage, jobId: "j", writeConcurrency: 1 });
    await (await manager.save(state(1))).committed;
    storage.failures.push({
      match: (k) => k.endsWith("pack-00000.bin"),
      times: 1,
      code: Code.PermissionDenied,
    });
    const handle = await manager.save(state(2));
    await expect(handle.committed).rejects.toMatchObject({ code: Code.PermissionDenied });
    expect((await keysOf(storage, "j/step-000000000002/")).length).toBe(0);
    expect((await manager.list()).map((c) => c.step)).toEqual([1]);
    expect((await manager.latest())?.step).toBe(1);
    // The manager keeps working after a failure.
    await (await manager.save(state(3))).committed;
    expect(manager.stats()).toMatchObject({ committed: 2, failed: 1 });
  });

  test("a failed manifest write leaves no visible checkpoint, and keeps data it cannot rule out", async () => {
    const storage = new FaultyStorage(createMemoryStorage());
    await using manager = createCheckpointManager({ storage, jobId: "j" });
    storage.failures.push({
      match: isRankManifest,
      times: 1,
      code: Code.PermissionDenied,
    });
    const handle = await manager.save(state(1));
    await expect(handle.committed).rejects.toMatchObject({ code: Code.PermissionDenied });
    expect(await manager.list()).toEqual([]);
    expect((await manager.list({ includePartial: true })).map((c) => c.state)).toEqual(["partial"]);
    expect(await keysOf(storage, "j/step-000000000001/rank-00000/")).toHaveLength(1); // the pack, no manifest
  });

  test("a manifest write that landed but reported failure still counts as committed", async () => {
    const storage = new FaultyStorage(createMemoryStorage());
    await using manager = createCheckpointManager({ storage, jobId: "j" });
    const originalPut = storage.put.bind(storage);
    let lied = false;
    storage.put = async (key, body, options) => {
      const info = await originalPut(key, body, options);
      if (!lied && isRankManifest(key)) {
        lied = true;
        throw new RuntimeError("socket hang up after upload", { code: Code.Unavailable });
      }
      return info;
    };
    const ref = await (await manager.save(state(1))).committed;
    expect(ref.stepComplete).toBe(true);
    expect((await manager.load(1)).buffers.b).toEqual(patternBytes(10_000, 10));
  });

  test("transient manifest failures are retried", async () => {
    const storage = new FaultyStorage(createMemoryStorage());
    await using manager = createCheckpointManager({ storage, jobId: "j" });
    storage.failures.push({
      match: isRankManifest,
      times: 1,
      code: Code.Unavailable,
    });
    await expect((await manager.save(state(1))).committed).resolves.toMatchObject({
      stepComplete: true,
    });
  });

  test("transient errors on data writes are retried", async () => {
    const storage = new FaultyStorage(createMemoryStorage());
    await using manager = createCheckpointManager({ storage, jobId: "j" });
    storage.failures.push({
      match: (k) => k.endsWith("pack-00000.bin"),
      times: 2,
      code: Code.Unavailable,
    });
    const ref = await (await manager.save(state(1))).committed;
    expect(ref.stepComplete).toBe(true);
    expect((await manager.load(1)).buffers.a).toEqual(patternBytes(30_000, 1));
  });

  test("persistTimeoutMs fails a stalled write with DeadlineExceeded", async () => {
    const storage = new GatedStorage(createMemoryStorage());
    await using manager = createCheckpointManager({ storage, jobId: "j", persistTimeoutMs: 50 });
    storage.hold();
    const handle = await manager.save(state(1));
    await expect(handle.committed).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    storage.release();
    expect(await manager.list({ includePartial: true })).toEqual([]);
  });
});
