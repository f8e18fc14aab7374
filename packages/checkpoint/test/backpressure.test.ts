import { Code, createLogger, ManualClock } from "@strata/runtime-core";
import { createMemoryStorage } from "@strata/storage";
import { createCheckpointManager } from "../src/index.js";
import { GatedStorage, keysOf, patternBytes } from "./helpers.js";

const state = (step: number) => ({ step, buffers: { w: patternBytes(1_000, step) } });

/** A logger that records warn lines. */
function recordingLogger(): { logger: ReturnType<typeof createLogger>; warnings: string[] } {
  const warnings: string[] = [];
  const logger = createLogger({
    name: "test",
    level: "warn",
    destination: { write: (line: string) => warnings.push(JSON.parse(line).msg as string) },
  });
  return { logger, warnings };
}

describe("backpressure", () => {
  test("block: save waits for a free slot, then goes through", async () => {
    const storage = new GatedStorage(createMemoryStorage());
    await using manager = createCheckpointManager({ storage, jobId: "j", maxInFlight: 2 });
    storage.hold();
    const first = await manager.save(state(1));
    await storage.whenWaiting();
    await manager.save(state(2)); // queued behind the first
    expect(manager.stats().inFlight).toBe(2);
    let thirdDone = false;
    const third = manager.save(state(3)).then((h) => {
      thirdDone = true;
      return h;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(thirdDone).toBe(false);
    storage.release();
    await first.committed;
    const handle = await third;
    expect(handle.status).toBe("queued");
    await manager.flush();
    expect((await manager.list()).map((c) => c.step)).toEqual([1, 2, 3]);
  });

  test("block: the wait honours the caller's timeout", async () => {
    const storage = new GatedStorage(createMemoryStorage());
    const manager = createCheckpointManager({ storage, jobId: "j", maxInFlight: 1 });
    storage.hold();
    await manager.save(state(1));
    await expect(manager.save(state(2), { timeoutMs: 20 })).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
    storage.release();
    await manager.close();
  });

  test("skip: a save over the limit is skipped, counted and logged once per episode", async () => {
    const storage = new GatedStorage(createMemoryStorage());
    const { logger, warnings } = recordingLogger();
    await using manager = createCheckpointManager({
      storage,
      jobId: "j",
      maxInFlight: 1,
      backpressure: "skip",
      logger,
    });
    storage.hold();
    await manager.save(state(1));
    // A bad state is an error even under pressure, never a silent skip.
    await expect(
      manager.save({ step: -1, buffers: { w: new Uint8Array(1) } }),
    ).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    const skipped = [await manager.save(state(2)), await manager.save(state(3))];
    for (const h of skipped) {
      expect(h.status).toBe("skipped");
      await expect(h.committed).rejects.toMatchObject({ code: Code.ResourceExhausted });
    }
    expect(manager.stats().skipped).toBe(2);
    storage.release();
    await manager.flush();
    await manager.save(state(4));
    await manager.flush();
    expect((await manager.list()).map((c) => c.step)).toEqual([1, 4]);
    expect(warnings.filter((w) => w.includes("backpressure"))).toEqual([
      "checkpoint backpressure: saves arrive faster than storage takes them",
      "checkpoint backpressure episode ended",
    ]);
  });

  test("drop-oldest: the oldest waiting snapshot is dropped for the newest", async () => {
    const storage = new GatedStorage(createMemoryStorage());
    await using manager = createCheckpointManager({
      storage,
      jobId: "j",
      maxInFlight: 2,
      backpressure: "drop-oldest",
    });
    storage.hold();
    const writing = await manager.save(state(1));
    await storage.whenWaiting();
    const waiting = await manager.save(state(2));
    const newest = await manager.save(state(3));
    await expect(waiting.committed).rejects.toMatchObject({ code: Code.Aborted });
    expect(manager.stats()).toMatchObject({ dropped: 1, inFlight: 2 });
    storage.release();
    await writing.committed;
    await newest.committed;
    expect((await manager.list()).map((c) => c.step)).toEqual([1, 3]);
  });

  test("close aborts saves still running after the grace period and nothing partial becomes visible", async () => {
    const inner = createMemoryStorage();
    const storage = new GatedStorage(inner);
    const clock = new ManualClock();
    const manager = createCheckpointManager({
      storage,
      jobId: "j",
      maxInFlight: 2,
      clock,
      closeGraceMs: 5_000,
    });
    await (await manager.save(state(1))).committed;
    storage.hold();
    const stuck = await manager.save(state(2));
    await storage.whenWaiting();
    const queued = await manager.save(state(3));
    const closing = manager.close();
    expect(manager.close()).toBe(closing);
    clock.advance(5_000);
    await closing;
    await expect(stuck.committed).rejects.toMatchObject({ code: Code.Canceled });
    await expect(queued.committed).rejects.toMatchObject({ code: Code.Canceled });
    const reader = createCheckpointManager({ storage: inner, jobId: "j" });
    expect((await reader.list({ includePartial: true })).map((c) => c.step)).toEqual([1]);
    expect((await keysOf(inner, "j/")).filter((k) => k.includes("step-000000000002"))).toEqual([]);
    storage.release();
  });
});
