import { type Clock, Code, ManualClock } from "@strata/runtime-core";
import { type CoordinatorEvent, createCoordinatorEngine } from "../../src/engine/index.js";
import { createMemoryStore } from "../../src/store/index.js";
import { beatAll, registerAll, startEngine, T0, thrown, workerInput } from "./helpers.js";

describe("registration and ranks", () => {
  test("ranks are dense from 0, world size counts live workers, gpu/memory/metadata are kept", async () => {
    const { engine } = await startEngine();
    const results = await registerAll(engine, ["a", "b", "c"]);
    expect(results.map((r) => r.rank)).toEqual([0, 1, 2]);
    expect(results.map((r) => r.worldSize)).toEqual([1, 2, 3]);
    expect(results.map((r) => r.membershipVersion)).toEqual([1, 2, 3]);
    expect(results[0]?.config).toEqual({ zone: "a" });
    const a = engine.snapshot().workers.find((w) => w.workerId === "a");
    expect(a).toMatchObject({
      gpuCount: 8,
      memoryBytes: 1 << 30,
      metadata: { zone: "a" },
      state: "initializing",
    });
    await engine.close();
  });

  test("registering again while alive is idempotent: same rank, no membership bump", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a", "b"]);
    const again = await engine.registerWorker(workerInput("b"));
    expect(again).toMatchObject({ rank: 1, worldSize: 2, membershipVersion: 2, incarnation: 1 });
    await engine.close();
  });

  test("survivors keep their rank; a hole is filled by the lowest-rank newcomer; a returning worker gets its rank back", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a", "b", "c", "d"]);
    await engine.deregisterWorker("b");
    await engine.deregisterWorker("c");
    expect(engine.membership().workers).toEqual([
      { workerId: "a", rank: 0 },
      { workerId: "d", rank: 3 },
    ]);
    // c comes back first: its rank 2 is free, so it gets it back.
    const c = await engine.registerWorker(workerInput("c"));
    expect(c).toMatchObject({ rank: 2, incarnation: 2, worldSize: 3 });
    // A newcomer takes the lowest free rank (b's old 1).
    const e = await engine.registerWorker(workerInput("e"));
    expect(e.rank).toBe(1);
    // b returns, but its rank is taken by e: it gets the lowest free one.
    const b = await engine.registerWorker(workerInput("b"));
    expect(b.rank).toBe(4);
    const ranks = engine.membership().workers.map((w) => w.rank);
    expect(new Set(ranks).size).toBe(ranks.length);
    await engine.close();
  });

  test("deregistering an unknown worker is NOT_FOUND", async () => {
    const { engine } = await startEngine();
    await expect(engine.deregisterWorker("nobody")).rejects.toMatchObject({ code: Code.NotFound });
    await engine.close();
  });

  test("maxWorkers bounds live workers with RESOURCE_EXHAUSTED", async () => {
    const { engine } = await startEngine({ maxWorkers: 2 });
    await registerAll(engine, ["a", "b"]);
    await expect(engine.registerWorker(workerInput("c"))).rejects.toMatchObject({
      code: Code.ResourceExhausted,
    });
    await engine.close();
  });

  test("calls before start() are UNAVAILABLE", async () => {
    const engine = createCoordinatorEngine({
      store: createMemoryStore(),
      clock: new ManualClock(T0),
    });
    await expect(engine.registerWorker(workerInput("a"))).rejects.toMatchObject({
      code: Code.Unavailable,
    });
    expect(engine.ready).toBe(false);
  });

  test("bad options throw INVALID_ARGUMENT naming the option", () => {
    expect(() =>
      createCoordinatorEngine({ store: createMemoryStore(), heartbeatTimeoutMs: 0 }),
    ).toThrow(/heartbeatTimeoutMs/);
  });
});

describe("heartbeats and failure detection", () => {
  test("heartbeat records state, step, epoch, task and resources; illegal transitions are FAILED_PRECONDITION", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a"]);
    const res = engine.heartbeat({
      workerId: "a",
      state: "training",
      step: 7,
      epoch: 1,
      task: "fwd",
    });
    expect(res).toMatchObject({ serverTimeMs: T0, rank: 0, worldSize: 1, membershipVersion: 1 });
    const a = engine.snapshot().workers[0];
    expect(a).toMatchObject({
      state: "training",
      currentStep: 7,
      currentEpoch: 1,
      currentTask: "fwd",
    });
    expect(thrown(() => engine.heartbeat({ workerId: "a", state: "initializing" })).code).toBe(
      Code.FailedPrecondition,
    );
    expect(thrown(() => engine.heartbeat({ workerId: "a", state: "dead" })).code).toBe(
      Code.InvalidArgument,
    );
    expect(thrown(() => engine.heartbeat({ workerId: "zzz" })).code).toBe(Code.NotFound);
    await engine.close();
  });

  test("a silent worker is declared dead after the timeout; survivors get membership_changed once", async () => {
    const { engine, clock } = await startEngine({
      heartbeatTimeoutMs: 10_000,
      sweepIntervalMs: 500,
    });
    const events: CoordinatorEvent[] = [];
    engine.onEvent((e) => events.push(e));
    await registerAll(engine, ["a", "b", "c"]);
    // Drain the join notifications.
    beatAll(engine, ["a", "b", "c"]);
    for (let t = 0; t < 9_000; t += 1_000) {
      clock.advance(1_000);
      beatAll(engine, ["a", "c"]);
    }
    expect(engine.membership().workers.map((w) => w.workerId)).toEqual(["a", "b", "c"]);
    clock.advance(1_500);
    // b was silent for ≥ 10 s and was declared dead within one sweep interval (once stored).
    await engine.idle();
    expect(engine.membership().workers.map((w) => w.workerId)).toEqual(["a", "c"]);
    const dead = events.find((e) => e.type === "worker_dead");
    expect(dead).toMatchObject({ workerId: "b", rank: 1 });
    expect(thrown(() => engine.heartbeat({ workerId: "b" })).code).toBe(Code.NotFound);
    const snap = engine.snapshot();
    expect(snap.workers.find((w) => w.workerId === "b")?.state).toBe("dead");
    expect(snap.counters.workersDeclaredDead).toBe(1);
    // Survivors are told once, on their next heartbeat.
    const a1 = engine.heartbeat({ workerId: "a" });
    const a2 = engine.heartbeat({ workerId: "a" });
    expect(a1.pendingCommands).toEqual(["membership_changed"]);
    expect(a1.membershipVersion).toBe(4);
    expect(a2.pendingCommands).toEqual([]);
    expect(a2.worldSize).toBe(2);
    await engine.close();
  });

  test("a process stall does not get live workers declared dead; a silent worker still dies after it", async () => {
    // A clock whose wall time can jump while no timer runs: what a blocked event loop or a
    // suspended VM looks like from inside the process.
    const manual = new ManualClock(T0);
    let stalledMs = 0;
    const clock: Clock = {
      now: () => manual.now() + stalledMs,
      setTimeout: (fn, delayMs) => manual.setTimeout(fn, delayMs),
      clearTimeout: (handle) => manual.clearTimeout(handle),
    };
    const engine = createCoordinatorEngine({
      store: createMemoryStore(),
      clock,
      heartbeatTimeoutMs: 10_000,
      sweepIntervalMs: 500,
    });
    await engine.start();
    await registerAll(engine, ["a", "b", "c"]);
    beatAll(engine, ["a", "b", "c"]);
    stalledMs += 12_000; // longer than the heartbeat timeout
    manual.advance(500); // the sweep finally runs, 12 s late, before queued heartbeats are read
    expect(engine.membership().workers.map((w) => w.workerId)).toEqual(["a", "b", "c"]);
    expect(engine.snapshot().counters.sweepStallsForgiven).toBe(1);
    beatAll(engine, ["a", "b", "c"]); // the queued heartbeats
    for (let t = 0; t < 11_000; t += 500) {
      manual.advance(500);
      beatAll(engine, ["a", "c"]);
    }
    await engine.idle();
    expect(engine.membership().workers.map((w) => w.workerId)).toEqual(["a", "c"]);
    expect(engine.snapshot().counters.workersDeclaredDead).toBe(1);
    await engine.close();
  });

  test("queued commands are delivered once", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a"]);
    engine.queueCommand("a", "checkpoint");
    engine.queueCommand("a", "checkpoint");
    engine.queueCommand("a", "stop");
    expect(engine.heartbeat({ workerId: "a" }).pendingCommands).toEqual(["checkpoint", "stop"]);
    expect(engine.heartbeat({ workerId: "a" }).pendingCommands).toEqual([]);
    expect(() => engine.queueCommand("nobody", "stop")).toThrow(/not registered/);
    await engine.close();
  });

  test("a dead worker that registers again starts a new incarnation with its old rank", async () => {
    const { engine, clock } = await startEngine({
      heartbeatTimeoutMs: 5_000,
      sweepIntervalMs: 1_000,
    });
    await registerAll(engine, ["a", "b"]);
    for (let i = 0; i < 6; i++) {
      clock.advance(1_000);
      beatAll(engine, ["a"]);
    }
    await engine.idle();
    expect(engine.membership().workers.map((w) => w.workerId)).toEqual(["a"]);
    const back = await engine.registerWorker(workerInput("b"));
    expect(back).toMatchObject({ rank: 1, incarnation: 2, worldSize: 2 });
    await engine.close();
  });
});

describe("liveness persistence", () => {
  test("heartbeats are not written through; they are flushed in batches every livenessFlushIntervalMs", async () => {
    const store = createMemoryStore();
    let applies = 0;
    const counting = {
      ...store,
      apply: (ops: Parameters<typeof store.apply>[0]) => {
        applies++;
        return store.apply(ops);
      },
    };
    const { engine, clock } = await startEngine({
      store: counting as typeof store,
      livenessFlushIntervalMs: 1_000,
    });
    await registerAll(engine, ["a", "b"]);
    const before = applies;
    for (let i = 0; i < 100; i++) engine.heartbeat({ workerId: "a", state: "training", step: i });
    engine.heartbeat({ workerId: "b", state: "loading_data", epoch: 2 });
    expect(applies).toBe(before);
    expect(store.dump().workers.find((w) => w.workerId === "a")?.currentStep).toBe(0);
    clock.advance(1_000);
    await new Promise((r) => setImmediate(r));
    expect(applies).toBe(before + 1);
    const rows = store.dump().workers;
    expect(rows.find((w) => w.workerId === "a")).toMatchObject({
      state: "training",
      currentStep: 99,
    });
    expect(rows.find((w) => w.workerId === "b")).toMatchObject({
      state: "loading_data",
      currentEpoch: 2,
    });
    await engine.close();
  });
});

describe("restart", () => {
  test("after a restart registered workers are kept and get restartGraceMs to heartbeat", async () => {
    const store = createMemoryStore();
    const first = await startEngine({ store });
    await registerAll(first.engine, ["a", "b"]);
    await first.engine.deregisterWorker("b");
    await registerAll(first.engine, ["c"]);
    const versionBefore = first.engine.membership().version;
    // Simulated crash: no close(), a new engine over the same durable state, much later.
    const clock = new ManualClock(T0 + 3_600_000);
    const second = await startEngine({
      store: createMemoryStore({ initial: store.dump() }),
      clock,
      restartGraceMs: 20_000,
    });
    expect(second.engine.membership()).toEqual({
      version: versionBefore,
      workers: [
        { workerId: "a", rank: 0 },
        { workerId: "c", rank: 1 },
      ],
    });
    // Not declared dead at start even though their last heartbeat is an hour old.
    clock.advance(15_000);
    expect(second.engine.membership().workers).toHaveLength(2);
    second.engine.heartbeat({ workerId: "a" });
    clock.advance(6_000);
    await second.engine.idle();
    // c never came back within the grace: dead. a heartbeated: alive.
    expect(second.engine.membership().workers.map((w) => w.workerId)).toEqual(["a"]);
    // b (departed before the crash) returns and gets its rank 1 back now that c is gone.
    const b = await second.engine.registerWorker(workerInput("b"));
    expect(b).toMatchObject({ rank: 1, incarnation: 2 });
    await second.engine.close();
    await first.engine.close();
  });

  test("close is idempotent and fails nothing afterwards but new calls", async () => {
    const { engine } = await startEngine();
    const p1 = engine.close();
    const p2 = engine.close();
    expect(p1).toBe(p2);
    await p1;
    expect(engine.ready).toBe(false);
    expect(thrown(() => engine.heartbeat({ workerId: "a" })).code).toBe(Code.Unavailable);
  });
});

describe("events", () => {
  test("the event feed is typed, sequenced and bounded", async () => {
    const { engine } = await startEngine({ maxRecentEvents: 5 });
    const seen: string[] = [];
    const off = engine.onEvent((e) => seen.push(e.type));
    await registerAll(engine, ["a", "b", "c"]);
    off();
    await registerAll(engine, ["d"]);
    expect(seen).toEqual([
      "worker_registered",
      "membership_changed",
      "worker_registered",
      "membership_changed",
      "worker_registered",
      "membership_changed",
    ]);
    const recent = engine.recentEvents();
    expect(recent).toHaveLength(5);
    const seqs = recent.map((e) => e.seq);
    expect(seqs).toEqual([4, 5, 6, 7, 8]);
    await engine.close();
  });
});
