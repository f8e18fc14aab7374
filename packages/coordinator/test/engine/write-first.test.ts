import { Code, ManualClock, type RuntimeError } from "@strata/runtime-core";
import fc from "fast-check";
import { type CoordinatorEngine, createCoordinatorEngine } from "../../src/engine/index.js";
import { createMemoryStore, type MemoryStore } from "../../src/store/index.js";
import { dataset, rejection, startEngine, T0, workerInput } from "./helpers.js";

/** What a client can observe of the durable state, normalised for comparison. */
function observable(engine: CoordinatorEngine) {
  const snap = engine.snapshot();
  return {
    membership: engine.membership(),
    workers: snap.workers
      .map((w) => ({
        id: w.workerId,
        rank: w.rank,
        incarnation: w.incarnation,
        dead: w.state === "dead",
      }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    datasets: snap.datasets.map((d) => ({ id: d.spec.datasetId, epochs: d.epochs })),
    checkpoints: snap.checkpoints.map((c) => ({
      jobId: c.jobId,
      step: c.step,
      ranks: c.ranksReported,
      complete: c.complete,
    })),
    records: engine.records("task"),
  };
}

/** An engine started on a copy of what `store` holds: what a restart would see. */
async function restarted(store: MemoryStore): Promise<CoordinatorEngine> {
  const engine = createCoordinatorEngine({
    store: createMemoryStore({ initial: store.dump() }),
    clock: new ManualClock(T0),
  });
  await engine.start();
  return engine;
}

describe("write first, then apply", () => {
  test("a registration whose commit fails changes nothing in memory or on disk", async () => {
    const store = createMemoryStore();
    const { engine } = await startEngine({ store });
    await engine.registerWorker(workerInput("a"));
    const before = observable(engine);
    store.failApplies(1);
    const error = await rejection(engine.registerWorker(workerInput("b")));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toContain("could not store this change, so it was not made");
    expect(observable(engine)).toEqual(before);
    // Its heartbeats do not answer a rank: it is not a member.
    expect(() => engine.heartbeat({ workerId: "b" })).toThrow(/not registered/);
    const again = await restarted(store);
    expect(observable(again)).toEqual(before);
    await again.close();
    // The next try succeeds and takes the rank the failed one would have had.
    expect((await engine.registerWorker(workerInput("b"))).rank).toBe(1);
    await engine.close();
  });

  test("every kind of change that fails to commit leaves memory equal to disk", async () => {
    const store = createMemoryStore();
    const { engine } = await startEngine({ store, minReplanIntervalMs: 0 });
    await engine.registerWorker(workerInput("a"));
    await engine.registerWorker(workerInput("b"));
    await engine.registerDataset(dataset({ totalSamples: 40, shardSize: 10 }));
    const shard = engine.getShardAssignments({ workerId: "a", datasetId: "ds", epoch: 0 })
      .assignments[0];
    if (shard === undefined) throw new Error("a has no shard");
    const position = engine.getShardProgress({ workerId: "a", datasetId: "ds", epoch: 0 });
    const attempts: [string, () => Promise<unknown>][] = [
      ["deregister", () => engine.deregisterWorker("b")],
      ["register dataset", () => engine.registerDataset(dataset({ datasetId: "other" }))],
      [
        "report progress",
        () =>
          engine.reportShardProgress({
            workerId: "a",
            datasetId: "ds",
            epoch: 0,
            shardId: shard.shardId,
            consumed: [{ start: shard.startIndex, end: shard.startIndex + 3 }],
          }),
      ],
      [
        "notify checkpoint",
        () =>
          engine.notifyCheckpoint({
            workerId: "a",
            jobId: "j",
            checkpointId: "c",
            step: 5,
            epoch: 0,
            storagePath: "/x",
            sizeBytes: 10,
            kind: "full",
            metadata: {},
          }),
      ],
      ["restore progress", () => engine.restoreShardProgress({ workerId: "a", position })],
      ["put record", () => engine.putRecord("task", "t1", "{}")],
    ];
    for (const [name, attempt] of attempts) {
      const before = observable(engine);
      store.failApplies(1);
      const error = await rejection(attempt());
      expect([name, error.code]).toEqual([name, Code.Unavailable]);
      expect([name, observable(engine)]).toEqual([name, before]);
      const again = await restarted(store);
      expect([name, observable(again)]).toEqual([name, before]);
      await again.close();
    }
    await engine.close();
  });

  test("a death that cannot be stored keeps the worker alive until it can", async () => {
    const store = createMemoryStore();
    const { engine, clock } = await startEngine({
      store,
      heartbeatTimeoutMs: 1_000,
      sweepIntervalMs: 250,
      maxConsecutiveStoreFailures: 10,
    });
    await engine.registerWorker(workerInput("a"));
    store.failApplies(1);
    clock.advance(1_250);
    await engine.idle();
    expect(engine.membership().workers.map((w) => w.workerId)).toEqual(["a"]);
    expect(store.dump().workers[0]?.status).toBe("alive");
    clock.advance(250); // the next sweep tries again
    await engine.idle();
    expect(engine.membership().workers).toEqual([]);
    expect(store.dump().workers[0]?.status).toBe("dead");
    await engine.close();
  });

  test("a store that keeps failing stops the engine (fail-stop) and it refuses further calls", async () => {
    const store = createMemoryStore();
    const fatal: RuntimeError[] = [];
    const { engine } = await startEngine({
      store,
      maxConsecutiveStoreFailures: 3,
      onFatal: (error) => fatal.push(error),
    });
    store.failApplies(Number.POSITIVE_INFINITY);
    for (let i = 0; i < 3; i++) {
      expect((await rejection(engine.registerWorker(workerInput(`w${i}`)))).code).toBe(
        Code.Unavailable,
      );
    }
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.rawMessage).toContain("failed 3 times in a row");
    expect(engine.ready).toBe(false);
    expect((await rejection(engine.registerWorker(workerInput("late")))).code).toBe(
      Code.Unavailable,
    );
    expect(() => engine.heartbeat({ workerId: "w0" })).toThrow(/not running/);
    await engine.close();
  });

  test("a burst of registrations is group-committed: few commits, dense unique ranks", async () => {
    const store = createMemoryStore();
    const { engine } = await startEngine({ store });
    const before = store.applyCount;
    const results = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => engine.registerWorker(workerInput(`w${i}`))),
    );
    expect(store.applyCount - before).toBeLessThanOrEqual(3);
    expect(results.map((r) => r.rank).sort((a, b) => a - b)).toEqual([...Array(1_000).keys()]);
    const versions = new Set(results.map((r) => r.membershipVersion));
    expect(engine.membership().version).toBe(1_000);
    expect(versions.has(1_000)).toBe(true);
    const again = await restarted(store);
    expect(again.membership()).toEqual(engine.membership());
    await again.close();
    await engine.close();
  });

  test("property: under random failures, what a restart sees is exactly what clients were told", async () => {
    const command = fc.oneof(
      fc.record({ t: fc.constant("register" as const), w: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ t: fc.constant("deregister" as const), w: fc.integer({ min: 0, max: 5 }) }),
      fc.record({
        t: fc.constant("checkpoint" as const),
        w: fc.integer({ min: 0, max: 5 }),
        step: fc.integer({ min: 0, max: 3 }),
      }),
      fc.record({ t: fc.constant("dataset" as const), d: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ t: fc.constant("record" as const), id: fc.integer({ min: 0, max: 3 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(command, fc.boolean()), { minLength: 1, maxLength: 25 }),
        async (steps) => {
          const store = createMemoryStore();
          const { engine } = await startEngine({ store, maxConsecutiveStoreFailures: 1_000 });
          // A model of what clients were told succeeded.
          const live = new Set<string>();
          for (const [c, fail] of steps) {
            if (fail) store.failApplies(1);
            let ok = true;
            try {
              switch (c.t) {
                case "register":
                  await engine.registerWorker(workerInput(`w${c.w}`));
                  break;
                case "deregister":
                  await engine.deregisterWorker(`w${c.w}`);
                  break;
                case "checkpoint":
                  await engine.notifyCheckpoint({
                    workerId: `w${c.w}`,
                    jobId: "j",
                    checkpointId: `c${c.step}`,
                    step: c.step,
                    epoch: 0,
                    storagePath: "/x",
                    sizeBytes: 1,
                    kind: "full",
                    metadata: {},
                    rank: c.w,
                    worldSize: 6,
                  });
                  break;
                case "dataset":
                  await engine.registerDataset(dataset({ datasetId: `d${c.d}` }));
                  break;
                case "record":
                  await engine.putRecord("task", `t${c.id}`, "{}");
                  break;
              }
            } catch {
              ok = false;
            }
            store.failApplies(0);
            if (ok && c.t === "register") live.add(`w${c.w}`);
            if (ok && c.t === "deregister") live.delete(`w${c.w}`);
            expect(
              engine
                .membership()
                .workers.map((w) => w.workerId)
                .sort(),
            ).toEqual([...live].sort());
            const again = await restarted(store);
            expect(observable(again)).toEqual(observable(engine));
            await again.close();
          }
          await engine.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});
