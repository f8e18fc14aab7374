import { Code, ManualClock, type SampleRange } from "@strata/runtime-core";
import { type CoordinatorEngine, createCoordinatorEngine } from "../../src/engine/index.js";
import { createMemoryStore } from "../../src/store/index.js";
import {
  dataset,
  registerAll,
  rejection,
  startEngine,
  T0,
  thrown,
  workerInput,
} from "./helpers.js";

/** Every sample index handed out to the live workers (remaining ranges), per worker. */
function handedOut(
  engine: CoordinatorEngine,
  datasetId: string,
  epoch: number,
): Map<string, SampleRange[]> {
  const out = new Map<string, SampleRange[]>();
  for (const { workerId } of engine.membership().workers) {
    const { assignments } = engine.getShardAssignments({ workerId, datasetId, epoch });
    out.set(
      workerId,
      assignments.flatMap((a) => [...a.remainingRanges]),
    );
  }
  return out;
}

describe("datasets", () => {
  test("the same spec again is a no-op; a different spec is ALREADY_EXISTS naming the fields", async () => {
    const { engine } = await startEngine();
    expect(await engine.registerDataset(dataset())).toEqual({ totalShards: 100, created: true });
    expect(await engine.registerDataset(dataset())).toEqual({ totalShards: 100, created: false });
    const error = await rejection(engine.registerDataset(dataset({ shardSize: 20, seed: 7n })));
    expect(error.code).toBe(Code.AlreadyExists);
    expect(error.rawMessage).toContain("shardSize");
    expect(error.rawMessage).toContain("seed");
    expect(error.details).toMatchObject({ fields: ["shardSize", "seed"] });
    await engine.close();
  });

  test("the last shard is shorter and totalShards = ceil(total / shardSize)", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a"]);
    expect(
      (await engine.registerDataset(dataset({ datasetId: "odd", totalSamples: 95, shardSize: 10 })))
        .totalShards,
    ).toBe(10);
    const { assignments } = engine.getShardAssignments({
      workerId: "a",
      datasetId: "odd",
      epoch: 0,
    });
    const last = assignments.find((a) => a.shardId === 9);
    expect(last).toMatchObject({
      startIndex: 90,
      endIndex: 95,
      totalShards: 10,
      filePaths: ["s3://bucket/ds"],
    });
    await engine.close();
  });

  test("a dataset with more shards than maxShardsPerDataset is INVALID_ARGUMENT naming shardSize", async () => {
    const { engine } = await startEngine({ maxShardsPerDataset: 50 });
    const error = await rejection(engine.registerDataset(dataset()));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/shardSize 10 gives 100 shards/);
    await engine.close();
  });

  test("maxDatasets bounds registrations", async () => {
    const { engine } = await startEngine({ maxDatasets: 1 });
    await engine.registerDataset(dataset());
    await expect(engine.registerDataset(dataset({ datasetId: "two" }))).rejects.toMatchObject({
      code: Code.ResourceExhausted,
    });
    await engine.close();
  });

  test("every shard goes to exactly one live worker, deterministically, with balanced load", async () => {
    const { engine } = await startEngine();
    const ids = ["w3", "w1", "w4", "w2"];
    await registerAll(engine, ids);
    await engine.registerDataset(dataset());
    const seen = new Map<number, string>();
    for (const id of ids) {
      const { assignments, membershipVersion, totalShards } = engine.getShardAssignments({
        workerId: id,
        datasetId: "ds",
        epoch: 3,
      });
      expect(membershipVersion).toBe(4);
      expect(totalShards).toBe(100);
      // data-shard bounds: floor(0.95·25) … ceil(1.05·25) with the default ε = 0.05.
      expect(assignments.length).toBeGreaterThanOrEqual(23);
      expect(assignments.length).toBeLessThanOrEqual(27);
      for (const a of assignments) {
        expect(seen.has(a.shardId)).toBe(false);
        seen.set(a.shardId, id);
        expect(a.remainingRanges).toEqual([{ start: a.startIndex, end: a.endIndex }]);
        expect(a.consumedSamples).toBe(0);
      }
    }
    expect(seen.size).toBe(100);
    // The same inputs in another engine, workers joining in another order, give the same answer.
    const other = await startEngine();
    await registerAll(other.engine, [...ids].reverse());
    await other.engine.registerDataset(dataset());
    for (const id of ids) {
      const mine = engine
        .getShardAssignments({ workerId: id, datasetId: "ds", epoch: 3 })
        .assignments.map((a) => a.shardId);
      const theirs = other.engine
        .getShardAssignments({ workerId: id, datasetId: "ds", epoch: 3 })
        .assignments.map((a) => a.shardId);
      expect(theirs).toEqual(mine);
    }
    await engine.close();
    await other.engine.close();
  });

  test("getDataShard answers the first shard; NOT_FOUND when a worker has none", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a", "b", "c"]);
    await engine.registerDataset(dataset({ datasetId: "tiny", totalSamples: 20, shardSize: 10 }));
    const answers = ["a", "b", "c"].map((id) => {
      try {
        return engine.getDataShard({ workerId: id, datasetId: "tiny", epoch: 0 }).shardId;
      } catch (error) {
        expect(error).toMatchObject({
          code: Code.NotFound,
          rawMessage: "no shards for this worker",
        });
        return undefined;
      }
    });
    expect(answers.filter((a) => a !== undefined).sort()).toEqual([0, 1]);
    expect(
      thrown(() => engine.getDataShard({ workerId: "a", datasetId: "nope", epoch: 0 })).code,
    ).toBe(Code.NotFound);
    expect(
      thrown(() => engine.getDataShard({ workerId: "zz", datasetId: "tiny", epoch: 0 })).code,
    ).toBe(Code.FailedPrecondition);
    await engine.close();
  });

  test("progress narrows the remaining ranges; reports on another worker's shard or outside the shard are refused", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a", "b"]);
    await engine.registerDataset(dataset());
    const mine = engine.getShardAssignments({ workerId: "a", datasetId: "ds", epoch: 0 })
      .assignments[0];
    const theirs = engine.getShardAssignments({ workerId: "b", datasetId: "ds", epoch: 0 })
      .assignments[0];
    if (mine === undefined || theirs === undefined) throw new Error("no shards");
    const s = mine.startIndex;
    const r1 = await engine.reportShardProgress({
      workerId: "a",
      datasetId: "ds",
      epoch: 0,
      shardId: mine.shardId,
      upTo: s + 3,
    });
    expect(r1).toMatchObject({
      accepted: true,
      consumedSamples: 3,
      shardComplete: false,
      epochComplete: false,
    });
    await engine.reportShardProgress({
      workerId: "a",
      datasetId: "ds",
      epoch: 0,
      shardId: mine.shardId,
      consumed: [
        { start: s + 2, end: s + 5 },
        { start: s + 7, end: s + 8 },
      ],
    });
    const again = engine
      .getShardAssignments({ workerId: "a", datasetId: "ds", epoch: 0 })
      .assignments.find((x) => x.shardId === mine.shardId);
    expect(again?.remainingRanges).toEqual([
      { start: s + 5, end: s + 7 },
      { start: s + 8, end: s + 10 },
    ]);
    expect(again?.consumedSamples).toBe(6);
    await expect(
      engine.reportShardProgress({
        workerId: "a",
        datasetId: "ds",
        epoch: 0,
        shardId: theirs.shardId,
        upTo: theirs.startIndex + 1,
      }),
    ).rejects.toMatchObject({ code: Code.FailedPrecondition });
    await expect(
      engine.reportShardProgress({
        workerId: "a",
        datasetId: "ds",
        epoch: 0,
        shardId: mine.shardId,
        upTo: s + 11,
      }),
    ).rejects.toMatchObject({ code: Code.OutOfRange });
    await expect(
      engine.reportShardProgress({
        workerId: "a",
        datasetId: "ds",
        epoch: 0,
        shardId: 100,
        upTo: 0,
      }),
    ).rejects.toMatchObject({ code: Code.OutOfRange });
    const done = await engine.reportShardProgress({
      workerId: "a",
      datasetId: "ds",
      epoch: 0,
      shardId: mine.shardId,
      upTo: s + 10,
    });
    expect(done.shardComplete).toBe(true);
    const after = engine.getShardAssignments({
      workerId: "a",
      datasetId: "ds",
      epoch: 0,
    }).assignments;
    expect(after.some((x) => x.shardId === mine.shardId)).toBe(false);
    await engine.close();
  });

  test("a started shard stays with its worker when another joins; a dead worker's remainder moves to survivors", async () => {
    const { engine } = await startEngine({ minReplanIntervalMs: 0 });
    await registerAll(engine, ["a", "b"]);
    await engine.registerDataset(dataset());
    const events: { moved: number }[] = [];
    engine.onEvent((e) => {
      if (e.type === "shards_reassigned") events.push({ moved: e.moved });
    });
    const started = engine
      .getShardAssignments({ workerId: "a", datasetId: "ds", epoch: 0 })
      .assignments.slice(0, 5);
    for (const a of started) {
      await engine.reportShardProgress({
        workerId: "a",
        datasetId: "ds",
        epoch: 0,
        shardId: a.shardId,
        upTo: a.startIndex + 4,
      });
    }
    await registerAll(engine, ["c", "d"]);
    const aNow = engine
      .getShardAssignments({ workerId: "a", datasetId: "ds", epoch: 0 })
      .assignments.map((x) => x.shardId);
    for (const a of started) expect(aNow).toContain(a.shardId);
    expect(events.length).toBeGreaterThan(0);
    await engine.deregisterWorker("a");
    const holders = new Map<number, string>();
    for (const id of ["b", "c", "d"]) {
      for (const x of engine.getShardAssignments({ workerId: id, datasetId: "ds", epoch: 0 })
        .assignments)
        holders.set(x.shardId, id);
    }
    expect(holders.size).toBe(100);
    for (const a of started) {
      const owner = holders.get(a.shardId) as string;
      const x = engine
        .getShardAssignments({ workerId: owner, datasetId: "ds", epoch: 0 })
        .assignments.find((y) => y.shardId === a.shardId);
      expect(x?.remainingRanges).toEqual([{ start: a.startIndex + 4, end: a.endIndex }]);
    }
    await engine.close();
  });

  test("when a worker leaves only about its own shards move, and the move is reported", async () => {
    const { engine } = await startEngine();
    const ids = Array.from({ length: 10 }, (_, i) => `w${i}`);
    await registerAll(engine, ids);
    await engine.registerDataset(dataset({ totalSamples: 10_000, shardSize: 10 }));
    const before = engine.getShardAssignments({ workerId: "w3", datasetId: "ds", epoch: 0 })
      .assignments.length;
    const moved: number[] = [];
    engine.onEvent((e) => {
      if (e.type === "shards_reassigned") moved.push(e.moved);
    });
    await engine.deregisterWorker("w3");
    engine.getShardAssignments({ workerId: "w0", datasetId: "ds", epoch: 0 });
    expect(moved).toHaveLength(1);
    // The plan in force is passed to data-shard's sticky mode (and persisted, so a restart keeps
    // it): a leave moves exactly the leaver's shards, the unavoidable minimum.
    expect(moved[0]).toBe(before);
    expect(engine.snapshot().counters.shardsMoved).toBe(moved[0]);
    await engine.close();
  });

  test("a zero-length report claims a shard: it stays with its worker across joins", async () => {
    const { engine } = await startEngine({ minReplanIntervalMs: 0 });
    await registerAll(engine, ["a"]);
    await engine.registerDataset(dataset());
    const all = engine.getShardAssignments({
      workerId: "a",
      datasetId: "ds",
      epoch: 0,
    }).assignments;
    expect(all).toHaveLength(100);
    const claimed = all.slice(0, 60);
    for (const s of claimed) {
      const ack = await engine.reportShardProgress({
        workerId: "a",
        datasetId: "ds",
        epoch: 0,
        shardId: s.shardId,
        upTo: s.startIndex,
      });
      expect(ack.consumedSamples).toBe(0);
    }
    await registerAll(engine, ["b"]);
    const mine = new Set(
      engine
        .getShardAssignments({ workerId: "a", datasetId: "ds", epoch: 0 })
        .assignments.map((s) => s.shardId),
    );
    for (const s of claimed) expect(mine.has(s.shardId)).toBe(true);
    const theirs = engine.getShardAssignments({
      workerId: "b",
      datasetId: "ds",
      epoch: 0,
    }).assignments;
    expect(theirs.length + mine.size).toBe(100);
    expect(theirs.length).toBeGreaterThan(0);
    await engine.close();
  });

  test("joins re-plan at most every minReplanIntervalMs; askers of a stale plan are told again; deaths re-plan at once", async () => {
    const { engine, clock } = await startEngine({
      minReplanIntervalMs: 1_000,
      heartbeatTimeoutMs: 60_000,
    });
    await registerAll(engine, ["a", "b"]);
    await engine.registerDataset(dataset());
    const first = engine.getShardAssignments({ workerId: "a", datasetId: "ds", epoch: 0 });
    expect(first.membershipVersion).toBe(2);
    // A join storm: the plan of version 2 is kept, consistently for everyone.
    await registerAll(engine, ["c", "d"]);
    const c = engine.getShardAssignments({ workerId: "c", datasetId: "ds", epoch: 0 });
    expect(c).toMatchObject({ membershipVersion: 2, assignments: [] });
    expect(
      engine.getShardAssignments({ workerId: "a", datasetId: "ds", epoch: 0 }).assignments,
    ).toEqual(first.assignments);
    // c already heard of version 4 at registration, but it saw a version-2 plan: told again.
    expect(engine.heartbeat({ workerId: "c" }).pendingCommands).toEqual(["membership_changed"]);
    clock.advance(1_000);
    const fresh = engine.getShardAssignments({ workerId: "c", datasetId: "ds", epoch: 0 });
    expect(fresh.membershipVersion).toBe(4);
    expect(fresh.assignments.length).toBeGreaterThan(0);
    expect(engine.heartbeat({ workerId: "c" }).pendingCommands).toEqual([]);
    // A departure right away (well within the interval) is re-planned at once.
    await engine.deregisterWorker("d");
    const afterLeave = engine.getShardAssignments({ workerId: "c", datasetId: "ds", epoch: 0 });
    expect(afterLeave.membershipVersion).toBe(5);
    const owned = ["a", "b", "c"].flatMap(
      (id) => engine.getShardAssignments({ workerId: id, datasetId: "ds", epoch: 0 }).assignments,
    );
    expect(owned).toHaveLength(100);
    await engine.close();
  });

  test("property: across random joins, deaths and restarts an epoch is covered exactly once", async () => {
    for (let seed = 1; seed <= 12; seed++) {
      let rng = seed * 7919;
      const rand = (n: number) => {
        rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
        return (rng >>> 16) % n;
      };
      const totalSamples = 300 + rand(400);
      const shardSize = 7 + rand(30);
      let clock = new ManualClock(T0);
      let store = createMemoryStore();
      let { engine } = await startEngine({ clock, store, heartbeatTimeoutMs: 1_000_000 });
      await engine.registerDataset(
        dataset({ totalSamples, shardSize, seed: BigInt(seed), shuffle: seed % 2 === 0 }),
      );
      let nextId = 0;
      await registerAll(engine, ["w0", "w1", "w2"]);
      nextId = 3;
      const consumedBy = new Int32Array(totalSamples);
      let complete = false;
      for (let iter = 0; iter < 5_000 && !complete; iter++) {
        const live = engine.membership().workers.map((w) => w.workerId);
        const op = rand(20);
        if (op === 0 && live.length > 1) {
          await engine.deregisterWorker(live[rand(live.length)] as string);
          continue;
        }
        if (op === 1 && live.length < 8) {
          await engine.registerWorker(workerInput(`w${nextId++}`));
          continue;
        }
        if (op === 2) {
          // Crash and restart the coordinator on its durable state.
          const state = store.dump();
          await engine.close();
          clock = new ManualClock(clock.now() + 1_000);
          store = createMemoryStore({ initial: state });
          ({ engine } = await startEngine({ clock, store, heartbeatTimeoutMs: 1_000_000 }));
          continue;
        }
        // Exactly-once invariant of the plan: what is handed out is disjoint and never consumed.
        const handed = handedOut(engine, "ds", 0);
        const cover = new Int32Array(totalSamples);
        for (const ranges of handed.values())
          for (const r of ranges)
            for (let i = r.start; i < r.end; i++) cover[i] = (cover[i] as number) + 1;
        let bad = -1;
        for (let i = 0; i < totalSamples && bad < 0; i++) {
          if ((cover[i] as number) + (consumedBy[i] as number) !== 1) bad = i;
        }
        if (bad >= 0) {
          throw new Error(
            `seed ${seed} iter ${iter}: sample ${bad} handed out ${cover[bad]}×, consumed ${consumedBy[bad]}×`,
          );
        }
        const worker = live[rand(live.length)] as string;
        const { assignments } = engine.getShardAssignments({
          workerId: worker,
          datasetId: "ds",
          epoch: 0,
        });
        const shard = assignments[0];
        if (shard === undefined) continue;
        const range = shard.remainingRanges[0] as SampleRange;
        const end = Math.min(range.end, range.start + 1 + rand(shardSize));
        const result = await engine.reportShardProgress({
          workerId: worker,
          datasetId: "ds",
          epoch: 0,
          shardId: shard.shardId,
          consumed: [{ start: range.start, end }],
        });
        for (let i = range.start; i < end; i++) consumedBy[i] = (consumedBy[i] as number) + 1;
        complete = result.epochComplete;
      }
      const total = consumedBy.reduce((a, b) => a + b, 0);
      expect({ seed, complete, total }).toEqual({ seed, complete: true, total: totalSamples });
      expect(consumedBy.every((c) => c === 1)).toBe(true);
      expect(engine.snapshot().datasets[0]?.epochs.find((e) => e.epoch === 0)).toMatchObject({
        consumedSamples: totalSamples,
        complete: true,
      });
      await engine.close();
    }
  });
});

describe("shard ownership across restarts", () => {
  test("a restarted coordinator keeps the owners in force, and a later leave still moves only the leaver's shards", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { createSqliteStore } = await import("../../src/store/index.js");
    const dir = mkdtempSync(join(tmpdir(), "strata-plan-"));
    try {
      const ids = Array.from({ length: 12 }, (_, i) => `w${i}`);
      const ownersOf = (engine: CoordinatorEngine) => {
        const owners = new Map<number, string>();
        for (const { workerId } of engine.membership().workers) {
          for (const a of engine.getShardAssignments({ workerId, datasetId: "ds", epoch: 0 })
            .assignments)
            owners.set(a.shardId, workerId);
        }
        return owners;
      };
      const store1 = createSqliteStore({ path: join(dir, "state.db") });
      const first = {
        engine: createCoordinatorEngine({
          store: store1,
          clock: new ManualClock(T0),
          minReplanIntervalMs: 0,
        }),
      };
      await first.engine.start();
      await registerAll(first.engine, ids);
      await first.engine.registerDataset(dataset({ totalSamples: 6_000, shardSize: 10 }));
      ownersOf(first.engine);
      // A leave and a join make the plan in force depend on history (sticky), not on membership alone.
      await first.engine.deregisterWorker("w4");
      ownersOf(first.engine);
      await registerAll(first.engine, ["w12"]);
      const before = ownersOf(first.engine);
      await first.engine.close();
      await store1.close();

      const store2 = createSqliteStore({ path: join(dir, "state.db") });
      const second = {
        engine: createCoordinatorEngine({
          store: store2,
          clock: new ManualClock(T0),
          minReplanIntervalMs: 0,
        }),
      };
      await second.engine.start();
      for (const id of [...ids.filter((id) => id !== "w4"), "w12"])
        second.engine.heartbeat({ workerId: id });
      const after = ownersOf(second.engine);
      expect(after).toEqual(before);
      const leaverShards = [...after.values()].filter((w) => w === "w7").length;
      const moved: number[] = [];
      second.engine.onEvent((e) => {
        if (e.type === "shards_reassigned") moved.push(e.moved);
      });
      await second.engine.deregisterWorker("w7");
      ownersOf(second.engine);
      expect(moved).toEqual([leaverShards]);
      await second.engine.close();
      await store2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
