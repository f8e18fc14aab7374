import { Code } from "@strata/runtime-core";
import type { BarrierResult } from "../../src/engine/index.js";
import { beatAll, flushMicrotasks, registerAll, rejection, startEngine } from "./helpers.js";

/** Tracks a promise's outcome without awaiting it. */
function track<T>(promise: Promise<T>) {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => {
      state.value = value;
      state.settled = true;
    },
    (error: unknown) => {
      state.error = error;
      state.settled = true;
    },
  );
  return state;
}

describe("barriers", () => {
  test("releases when every live member arrived, with arrival order and participants", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a", "b", "c"]);
    const pa = engine.waitBarrier({ workerId: "a", barrierId: "sync", step: 1 });
    const pc = engine.waitBarrier({ workerId: "c", barrierId: "sync", step: 1 });
    const ta = track(pa);
    await flushMicrotasks();
    expect(ta.settled).toBe(false);
    expect(engine.snapshot().barriers[0]).toMatchObject({
      barrierId: "sync",
      arrived: ["a", "c"],
      missing: ["b"],
    });
    const rb = await engine.waitBarrier({ workerId: "b", barrierId: "sync", step: 1 });
    const [ra, rc] = await Promise.all([pa, pc]);
    expect(ra).toMatchObject({ released: true, participants: 3, arrivalOrder: 1, generation: 1 });
    expect(rc.arrivalOrder).toBe(2);
    expect(rb.arrivalOrder).toBe(3);
    expect(rb.arrived).toEqual(["a", "c", "b"]);
    expect(engine.snapshot().barriers).toEqual([]);
    await engine.close();
  });

  test("a repeated arrival counts once and gets the same arrival order", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a", "b"]);
    const first = engine.waitBarrier({ workerId: "a", barrierId: "x", step: 0 });
    const again = engine.waitBarrier({ workerId: "a", barrierId: "x", step: 0 });
    const t = track(first);
    await flushMicrotasks();
    expect(t.settled).toBe(false);
    const rb = await engine.waitBarrier({ workerId: "b", barrierId: "x", step: 0 });
    const [r1, r2] = await Promise.all([first, again]);
    expect(r1.arrivalOrder).toBe(1);
    expect(r2.arrivalOrder).toBe(1);
    expect(rb).toMatchObject({ participants: 2, arrivalOrder: 2 });
    await engine.close();
  });

  test("after release the same id starts a new generation", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a"]);
    const r1 = await engine.waitBarrier({ workerId: "a", barrierId: "g", step: 1 });
    const r2 = await engine.waitBarrier({ workerId: "a", barrierId: "g", step: 2 });
    expect([r1.generation, r2.generation]).toEqual([1, 2]);
    await engine.close();
  });

  test("an unregistered or dead caller is FAILED_PRECONDITION", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a"]);
    const error = await rejection(
      engine.waitBarrier({ workerId: "ghost", barrierId: "b", step: 0 }),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
    await engine.close();
  });

  test("policy abort: a member dying mid-barrier fails every waiter at once with ABORTED naming it", async () => {
    const { engine, clock } = await startEngine({
      heartbeatTimeoutMs: 4_000,
      sweepIntervalMs: 1_000,
      barrierFailurePolicy: "abort",
    });
    await registerAll(engine, ["a", "b", "c"]);
    const pa = engine.waitBarrier({ workerId: "a", barrierId: "s", step: 5 });
    const pb = engine.waitBarrier({ workerId: "b", barrierId: "s", step: 5 });
    const ta = track(pa);
    const tb = track(pb);
    // c goes silent; a and b keep heartbeating while they wait.
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000);
      beatAll(engine, ["a", "b"]);
    }
    await flushMicrotasks();
    expect(ta.settled).toBe(false);
    clock.advance(1_000);
    await engine.idle();
    await flushMicrotasks();
    expect(ta.settled && tb.settled).toBe(true);
    const error = await rejection(pa);
    expect(error.code).toBe(Code.Aborted);
    expect(error.rawMessage).toContain('"c"');
    expect(error.details).toMatchObject({ deadWorkerId: "c" });
    await expect(pb).rejects.toMatchObject({ code: Code.Aborted });
    // Retrying joins a fresh generation that releases with the survivors.
    const ra = engine.waitBarrier({ workerId: "a", barrierId: "s", step: 5 });
    const rb = await engine.waitBarrier({ workerId: "b", barrierId: "s", step: 5 });
    expect((await ra).participants).toBe(2);
    expect(rb.generation).toBe(2);
    await engine.close();
  });

  test("policy release_survivors: a member dying mid-barrier releases the survivors at once", async () => {
    const { engine } = await startEngine({ barrierFailurePolicy: "release_survivors" });
    await registerAll(engine, ["a", "b", "c"]);
    const pa = engine.waitBarrier({ workerId: "a", barrierId: "s", step: 1 });
    const pb = engine.waitBarrier({ workerId: "b", barrierId: "s", step: 1 });
    const ta = track(pa);
    await flushMicrotasks();
    expect(ta.settled).toBe(false);
    await engine.deregisterWorker("c");
    const [ra, rb] = await Promise.all([pa, pb]);
    expect(ra).toMatchObject({ participants: 2, arrived: ["a", "b"], arrivalOrder: 1 });
    expect(rb.arrivalOrder).toBe(2);
    expect(ra.membershipVersion).toBe(4);
    await engine.close();
  });

  test("release_survivors: an arrived member that dies no longer counts, and its own call fails", async () => {
    const { engine } = await startEngine({ barrierFailurePolicy: "release_survivors" });
    await registerAll(engine, ["a", "b", "c"]);
    const pa = engine.waitBarrier({ workerId: "a", barrierId: "s", step: 1 });
    const pb = engine.waitBarrier({ workerId: "b", barrierId: "s", step: 1 });
    const tb = track(pb);
    await engine.deregisterWorker("a");
    await expect(pa).rejects.toMatchObject({ code: Code.FailedPrecondition });
    await flushMicrotasks();
    expect(tb.settled).toBe(false);
    const rc = await engine.waitBarrier({ workerId: "c", barrierId: "s", step: 1 });
    expect(rc).toMatchObject({ participants: 2, arrived: ["b", "c"] });
    await engine.close();
  });

  test("the barrier timeout fails every waiter with DEADLINE_EXCEEDED naming the missing workers", async () => {
    const { engine, clock } = await startEngine({
      heartbeatTimeoutMs: 600_000,
      barrierTimeoutMs: 300_000,
    });
    await registerAll(engine, ["a", "b", "c"]);
    const pa = engine.waitBarrier({ workerId: "a", barrierId: "t", step: 0, timeoutMs: 2_000 });
    const pb = engine.waitBarrier({ workerId: "b", barrierId: "t", step: 0 });
    const ta = track(pa);
    clock.advance(1_999);
    await flushMicrotasks();
    expect(ta.settled).toBe(false);
    clock.advance(1);
    const error = await rejection(pa);
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(error.rawMessage).toContain("c");
    await expect(pb).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    expect(engine.snapshot().counters.barriersTimedOut).toBe(1);
    await engine.close();
  });

  test("a canceled waiter is removed and does not count", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a", "b"]);
    const controller = new AbortController();
    const pa = engine.waitBarrier({
      workerId: "a",
      barrierId: "c",
      step: 0,
      signal: controller.signal,
    });
    controller.abort();
    await expect(pa).rejects.toMatchObject({ code: Code.Canceled });
    // b alone must not be released: a's arrival was withdrawn.
    const pb = engine.waitBarrier({ workerId: "b", barrierId: "c", step: 0 });
    const tb = track(pb);
    await flushMicrotasks();
    expect(tb.settled).toBe(false);
    const ra = await engine.waitBarrier({ workerId: "a", barrierId: "c", step: 0 });
    expect(ra.arrived).toEqual(["b", "a"]);
    await pb;
    await engine.close();
  });

  test("an already aborted signal is CANCELED without arriving", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a"]);
    const error = await rejection(
      engine.waitBarrier({ workerId: "a", barrierId: "z", step: 0, signal: AbortSignal.abort() }),
    );
    expect(error.code).toBe(Code.Canceled);
    expect(engine.snapshot().barriers).toEqual([]);
    await engine.close();
  });

  test("open barriers are bounded", async () => {
    const { engine } = await startEngine({ maxBarriers: 2 });
    await registerAll(engine, ["a", "b"]);
    const p1 = engine.waitBarrier({ workerId: "a", barrierId: "1", step: 0 });
    const p2 = engine.waitBarrier({ workerId: "a", barrierId: "2", step: 0 });
    const error = await rejection(engine.waitBarrier({ workerId: "a", barrierId: "3", step: 0 }));
    expect(error.code).toBe(Code.ResourceExhausted);
    await engine.close();
    await expect(p1).rejects.toMatchObject({ code: Code.Unavailable });
    await expect(p2).rejects.toMatchObject({ code: Code.Unavailable });
  });

  test("1,000 concurrent waiters are released together in one pass", async () => {
    const { engine } = await startEngine();
    const ids = Array.from({ length: 1_000 }, (_, i) => `w${String(i).padStart(4, "0")}`);
    await registerAll(engine, ids);
    const settled: BarrierResult[] = [];
    const promises = ids.slice(0, 999).map((id) =>
      engine.waitBarrier({ workerId: id, barrierId: "big", step: 9 }).then((r) => {
        settled.push(r);
        return r;
      }),
    );
    await flushMicrotasks();
    expect(settled).toHaveLength(0);
    const last = await engine.waitBarrier({
      workerId: ids[999] as string,
      barrierId: "big",
      step: 9,
    });
    const all = await Promise.all(promises);
    expect(last).toMatchObject({ participants: 1_000, arrivalOrder: 1_000 });
    expect(new Set(all.map((r) => r.arrivalOrder)).size).toBe(999);
    expect(all.every((r) => r.participants === 1_000)).toBe(true);
    await engine.close();
  });

  test("a worker joining while a barrier is open becomes a member it waits for", async () => {
    const { engine } = await startEngine();
    await registerAll(engine, ["a", "b"]);
    const pa = engine.waitBarrier({ workerId: "a", barrierId: "j", step: 0 });
    await registerAll(engine, ["c"]);
    const pb = engine.waitBarrier({ workerId: "b", barrierId: "j", step: 0 });
    const ta = track(pa);
    const tb = track(pb);
    await flushMicrotasks();
    expect(ta.settled || tb.settled).toBe(false);
    const rc = await engine.waitBarrier({ workerId: "c", barrierId: "j", step: 0 });
    expect(rc.participants).toBe(3);
    await Promise.all([pa, pb]);
    await engine.close();
  });
});
