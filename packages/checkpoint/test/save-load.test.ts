import { Code, RuntimeError } from "@strata/runtime-core";
import { createLocalStorage, createMemoryStorage, type StorageBackend } from "@strata/storage";
import { type Compression, createCheckpointManager, toTypedArray } from "../src/index.js";
import { keysOf, patternBytes, tempDir } from "./helpers.js";

const backends: [
  string,
  () => Promise<{ storage: StorageBackend; cleanup: () => Promise<void> }>,
][] = [
  ["memory", async () => ({ storage: createMemoryStorage(), cleanup: async () => {} })],
  [
    "local",
    async () => {
      const t = await tempDir();
      return { storage: createLocalStorage({ root: t.dir }), cleanup: t.cleanup };
    },
  ],
];

describe.each(backends)("save and load on %s storage", (_name, make) => {
  let storage: StorageBackend;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ storage, cleanup } = await make());
  });
  afterEach(async () => {
    await storage.close();
    await cleanup();
  });

  test.each<Compression>(["none", "lz4"])(
    "round-trips buffers, typed arrays and metadata (%s)",
    async (compression) => {
      await using manager = createCheckpointManager({
        storage,
        prefix: "ckpt",
        jobId: "job-1",
        compression,
        chunkBytes: 64 * 1024,
      });
      const weights = new Float32Array([1.5, -2.25, 3, Number.NaN]);
      const big = patternBytes(300_000, 7);
      const zeros = new Uint8Array(200_000);
      const handle = await manager.save({
        step: 12,
        epoch: 3,
        buffers: { weights, big, zeros, empty: new Uint8Array(0), rng: Buffer.from("rng-state") },
        dataPosition: { epoch: 3, shard: 17, offset: 4096 },
        metadata: { lr: 0.001, note: "hello" },
      });
      expect(handle.status).toBe("queued");
      const ref = await handle.committed;
      expect(ref).toMatchObject({
        step: 12,
        epoch: 3,
        rank: 0,
        worldSize: 1,
        stepComplete: true,
        objectCount: 5,
      });
      expect(ref.rawSizeBytes).toBe(16 + 300_000 + 200_000 + 9);
      if (compression === "lz4") expect(ref.totalSizeBytes).toBeLessThan(ref.rawSizeBytes);

      const loaded = await manager.load(12);
      expect(loaded.step).toBe(12);
      expect(loaded.epoch).toBe(3);
      expect(loaded.dataPosition).toEqual({ epoch: 3, shard: 17, offset: 4096 });
      expect(loaded.metadata).toEqual({ lr: 0.001, note: "hello" });
      expect(Buffer.compare(Buffer.from(loaded.buffers.big as Uint8Array), Buffer.from(big))).toBe(
        0,
      );
      expect(loaded.buffers.zeros).toEqual(new Uint8Array(200_000));
      expect(loaded.buffers.empty).toHaveLength(0);
      const w = loaded.objects.find((o) => o.name === "weights");
      expect(w?.dtype).toBe("float32");
      expect(w?.compression).toBe(compression);
      const view = toTypedArray(loaded.buffers.weights as Uint8Array, "float32");
      expect(Array.from(view as Float32Array)).toEqual([1.5, -2.25, 3, Number.NaN]);
      expect(toTypedArray(loaded.buffers.rng as Uint8Array, "bytes").toString()).toBe("rng-state");
    },
  );

  test("splits buffers into packs of at most maxPackBytes, in order", async () => {
    await using manager = createCheckpointManager({
      storage,
      jobId: "packs",
      maxPackBytes: 10_000,
      writeConcurrency: 2,
    });
    const buffers = {
      a: patternBytes(4_000, 1),
      b: patternBytes(5_000, 2),
      c: patternBytes(30_000, 3),
      d: patternBytes(10, 4),
    };
    await (await manager.save({ step: 1, buffers })).committed;
    const d = await manager.describe(1);
    expect(d.ranks[0]?.objects.map((o) => [o.name, o.key.split("/")[1], o.offset])).toEqual([
      ["a", "pack-00000.bin", 0],
      ["b", "pack-00000.bin", 4_000],
      ["c", "pack-00001.bin", 0],
      ["d", "pack-00002.bin", 0],
    ]);
    const loaded = await manager.load(1);
    for (const [name, bytes] of Object.entries(buffers))
      expect(loaded.buffers[name]).toEqual(bytes);
    expect(
      (await keysOf(storage, "packs/step-000000000001/")).filter((k) => k.endsWith(".bin")),
    ).toHaveLength(3);
  });

  test("the caller may mutate its buffers as soon as save returns", async () => {
    await using manager = createCheckpointManager({ storage, jobId: "job" });
    const buf = patternBytes(100_000, 3);
    const original = Uint8Array.from(buf);
    const meta = { n: 1 };
    const handle = await manager.save({ step: 1, buffers: { buf }, metadata: meta });
    buf.fill(0);
    meta.n = 2;
    await handle.committed;
    const loaded = await manager.load(1);
    expect(loaded.buffers.buf).toEqual(original);
    expect(loaded.metadata).toEqual({ n: 1 });
  });

  test("list and latest see committed steps; a fresh manager sees them too", async () => {
    const a = createCheckpointManager({ storage, prefix: "p", jobId: "j" });
    for (const step of [5, 10, 100]) {
      await (await a.save({ step, epoch: step / 5, buffers: { x: patternBytes(1000, step) } }))
        .committed;
    }
    await a.close();
    const b = createCheckpointManager({ storage, prefix: "p/", jobId: "j" });
    const list = await b.list();
    expect(list.map((c) => c.step)).toEqual([5, 10, 100]);
    expect(list[2]).toMatchObject({
      step: 100,
      epoch: 20,
      worldSize: 1,
      ranks: [0],
      state: "complete",
      totalSizeBytes: 1000,
    });
    expect((await b.latest())?.step).toBe(100);
    expect((await b.load()).step).toBe(100);
    expect(await b.readLatestHint()).toBe(100);
    expect(await b.isStepComplete(10)).toBe(true);
    expect(await b.isStepComplete(11)).toBe(false);
    const keys = await keysOf(storage, "p/j/");
    expect(keys).toContain("p/j/step-000000000005/MANIFEST.json");
    // Each save attempt keeps its rank manifest and data in its own folder.
    expect(keys).toContainEqual(
      expect.stringMatching(
        /^p\/j\/step-000000000005\/rank-00000\/\d{13}-[0-9a-f]{8}\/MANIFEST\.json$/,
      ),
    );
    await b.close();
  });

  test("saving a committed step again fails with AlreadyExists and leaves the original intact", async () => {
    await using manager = createCheckpointManager({ storage, jobId: "j" });
    await (await manager.save({ step: 1, buffers: { x: patternBytes(100, 1) } })).committed;
    const again = await manager.save({ step: 1, buffers: { x: patternBytes(100, 2) } });
    await expect(again.committed).rejects.toMatchObject({ code: Code.AlreadyExists });
    expect((await manager.load(1)).buffers.x).toEqual(patternBytes(100, 1));
    await expect(manager.flush()).resolves.toBeUndefined();
  });
});

describe("manager lifecycle and input validation", () => {
  test("rejects bad options and bad states with InvalidArgument naming the field", async () => {
    const storage = createMemoryStorage();
    const bad = (options: object, field: string) => {
      try {
        createCheckpointManager({ storage, jobId: "j", ...options });
        throw new Error("expected a throw");
      } catch (error) {
        expect(error).toBeInstanceOf(RuntimeError);
        expect((error as RuntimeError).code).toBe(Code.InvalidArgument);
        expect((error as RuntimeError).message).toContain(field);
      }
    };
    bad({ jobId: "../etc" }, "jobId");
    bad({ jobId: "" }, "jobId");
    bad({ prefix: "a/../b" }, "prefix");
    bad({ rank: 2, worldSize: 2 }, "rank");
    bad({ maxInFlight: 0 }, "maxInFlight");
    bad({ backpressure: "yolo" }, "backpressure");
    bad({ compression: "gzip" }, "compression");
    bad({ retention: { keepLast: 0 } }, "keepLast");

    await using manager = createCheckpointManager({ storage, jobId: "j" });
    const x = new Uint8Array(4);
    await expect(manager.save({ step: -1, buffers: { x } })).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    await expect(manager.save({ step: 1.5, buffers: { x } })).rejects.toThrow(/step/);
    await expect(manager.save({ step: 1, buffers: {} })).rejects.toThrow(/buffers/);
    await expect(
      manager.save({ step: 1, buffers: { x: [1, 2] as unknown as Uint8Array } }),
    ).rejects.toThrow(/typed array/);
    await expect(manager.save({ step: 1, epoch: -2, buffers: { x } })).rejects.toThrow(/epoch/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(manager.save({ step: 1, buffers: { x }, metadata: cyclic })).rejects.toThrow(
      /metadata/,
    );
    await expect(manager.load(2)).rejects.toMatchObject({ code: Code.NotFound });
    await expect(manager.load()).rejects.toMatchObject({ code: Code.NotFound });
    await expect(manager.verify(2)).rejects.toMatchObject({ code: Code.NotFound });
    expect(manager.stats()).toMatchObject({ committed: 0, failed: 0 });
  });

  test("close is idempotent, waits for in-flight saves, and refuses new saves", async () => {
    const storage = createMemoryStorage();
    const manager = createCheckpointManager({ storage, jobId: "j" });
    const handle = await manager.save({ step: 1, buffers: { x: patternBytes(1000) } });
    const first = manager.close();
    const second = manager.close();
    expect(second).toBe(first);
    expect(manager[Symbol.asyncDispose]()).toBe(first);
    await first;
    await expect(handle.committed).resolves.toMatchObject({ step: 1 });
    await expect(manager.save({ step: 2, buffers: { x: patternBytes(10) } })).rejects.toMatchObject(
      {
        code: Code.FailedPrecondition,
      },
    );
  });

  test("flush reports failures of its own saves only (not sticky) and flush is re-entrant", async () => {
    const storage = createMemoryStorage();
    await using manager = createCheckpointManager({ storage, jobId: "j" });
    await (await manager.save({ step: 1, buffers: { x: patternBytes(10) } })).committed;
    await manager.save({ step: 1, buffers: { x: patternBytes(10) } }); // will fail: committed already
    await expect(manager.flush()).rejects.toMatchObject({ code: Code.AlreadyExists });
    await manager.save({ step: 2, buffers: { x: patternBytes(10) } });
    await Promise.all([manager.flush(), manager.flush()]);
    await expect(manager.flush()).resolves.toBeUndefined();
    expect(manager.stats()).toMatchObject({ committed: 2, failed: 1, inFlight: 0 });
  });

  test("a step already in flight is refused at once", async () => {
    const storage = createMemoryStorage();
    await using manager = createCheckpointManager({ storage, jobId: "j" });
    await manager.save({ step: 3, buffers: { x: patternBytes(10) } });
    await expect(manager.save({ step: 3, buffers: { x: patternBytes(10) } })).rejects.toMatchObject(
      {
        code: Code.AlreadyExists,
      },
    );
    await manager.flush();
  });
});
