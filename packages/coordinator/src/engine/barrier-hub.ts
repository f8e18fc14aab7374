import {
  type BarrierFailurePolicy,
  type Clock,
  Code,
  type Logger,
  RuntimeError,
  type TimerHandle,
} from "@strata/runtime-core";
import type { StoredBarrierRelease, StoreOp } from "../store/coordinator-store.js";
import type { Mutation } from "./commit-pipeline.js";
import type { EventFeed } from "./event-feed.js";
import type { BarrierResult, BarrierView, EngineCounters } from "./types.js";

interface Waiter {
  workerId: string;
  resolve: (result: BarrierResult) => void;
  reject: (error: RuntimeError) => void;
  /** Detaches the abort listener. */
  detach: () => void;
}

interface Generation {
  barrierId: string;
  generation: number;
  step: number;
  createdAtMs: number;
  deadlineMs: number;
  timer: TimerHandle;
  /** Worker id → arrival number; insertion order is arrival order. */
  arrivals: Map<string, number>;
  nextOrder: number;
  waiters: Waiter[];
}

/** What the barrier hub needs to know about membership. */
export interface BarrierMembership {
  isLive(workerId: string): boolean;
  liveCount(): number;
  liveWorkerIds(): Iterable<string>;
  version(): number;
}

/** Options of {@link BarrierHub}. */
export interface BarrierHubOptions {
  clock: Clock;
  logger: Logger;
  events: EventFeed;
  counters: EngineCounters;
  membership: BarrierMembership;
  policy: BarrierFailurePolicy;
  defaultTimeoutMs: number;
  maxBarriers: number;
  /** Commits a mutation through the engine's pipeline (a release is stored before it is answered). */
  commit: <R>(mutation: Mutation<R>) => Promise<R>;
  /**
   * How long after a release a participant asking again for the same step (its answer was lost)
   * is answered from the stored release instead of opening a new generation. Default 600,000 ms.
   */
  replayWindowMs?: number;
}

/** How many barrier ids' last generation (and last release) we remember. */
const GENERATION_MEMORY = 10_000;

/**
 * Named barriers over the live membership. Arrival and waiter registration happen in one
 * synchronous step, so no wake-up can be lost. When the last member arrives, the release is
 * stored first (it survives a restart or a change of leader) and then every waiter is answered
 * in one synchronous pass. A participant whose answer was lost and asks again for the same step,
 * with the membership unchanged, is answered from the stored release (see `replayWindowMs`)
 * instead of waiting in a generation nobody else will join.
 */
export class BarrierHub {
  readonly #open = new Map<string, Generation>();
  /** Generations whose release is being stored. New arrivals open the next generation. */
  readonly #releasing = new Map<string, Generation>();
  readonly #lastGeneration = new Map<string, number>();
  readonly #lastRelease = new Map<string, StoredBarrierRelease>();

  constructor(private readonly o: BarrierHubOptions) {}

  /** Loads the stored last releases at start. */
  restore(releases: readonly StoredBarrierRelease[]): void {
    for (const r of [...releases].sort((a, b) => a.releasedAtMs - b.releasedAtMs)) {
      this.#rememberRelease(r);
    }
  }

  /** The stored last release of a barrier id (committed). */
  release(barrierId: string): StoredBarrierRelease | undefined {
    return this.#lastRelease.get(barrierId);
  }

  /** Applies a committed barrier op to memory. Other ops are ignored. */
  apply(op: StoreOp): void {
    if (op.t === "put_barrier_release") this.#rememberRelease(op.release);
    else if (op.t === "delete_barrier_release") this.#lastRelease.delete(op.barrierId);
  }

  #rememberRelease(release: StoredBarrierRelease): void {
    this.#lastRelease.delete(release.barrierId);
    this.#lastRelease.set(release.barrierId, release);
    const last = this.#lastGeneration.get(release.barrierId) ?? 0;
    if (release.generation > last) {
      this.#lastGeneration.delete(release.barrierId);
      this.#lastGeneration.set(release.barrierId, release.generation);
    }
  }

  get openCount(): number {
    return this.#open.size;
  }

  wait(
    workerId: string,
    barrierId: string,
    step: number,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<BarrierResult> {
    const { membership } = this.o;
    if (!membership.isLive(workerId)) {
      return Promise.reject(
        new RuntimeError(
          `worker "${workerId}" is not a live member; register before waiting at barrier "${barrierId}"`,
          { code: Code.FailedPrecondition, details: { workerId, barrierId } },
        ),
      );
    }
    if (signal?.aborted) {
      return Promise.reject(canceled(barrierId, workerId));
    }
    const releasing = this.#releasing.get(barrierId);
    if (releasing?.arrivals.has(workerId)) {
      // Asked again while its generation's release is being stored: wait for that release.
      return new Promise<BarrierResult>((resolve, reject) => {
        this.#attach(releasing, workerId, resolve, reject, signal);
      });
    }
    const open = this.#open.get(barrierId);
    if (open === undefined || !open.arrivals.has(workerId)) {
      const replay = this.#replay(workerId, barrierId, step);
      if (replay !== undefined) return Promise.resolve(replay);
    }
    let gen = open;
    if (gen === undefined) {
      if (this.#open.size >= this.o.maxBarriers) {
        return Promise.reject(
          new RuntimeError(
            `too many open barriers (${this.o.maxBarriers}); barrier "${barrierId}" was not opened`,
            {
              code: Code.ResourceExhausted,
              details: { barrierId, maxBarriers: this.o.maxBarriers },
            },
          ),
        );
      }
      gen = this.#openGeneration(barrierId, step, timeoutMs ?? this.o.defaultTimeoutMs);
    }
    const g = gen;
    let order = g.arrivals.get(workerId);
    if (order === undefined) {
      order = g.nextOrder++;
      g.arrivals.set(workerId, order);
      this.o.events.emit({
        type: "barrier_arrived",
        barrierId,
        workerId,
        arrivalOrder: order,
        generation: g.generation,
      });
    }
    const promise = new Promise<BarrierResult>((resolve, reject) => {
      this.#attach(g, workerId, resolve, reject, signal);
    });
    // Still inside the same synchronous step as the arrival: release if this was the last one.
    this.#releaseIfComplete(g);
    return promise;
  }

  #attach(
    g: Generation,
    workerId: string,
    resolve: (result: BarrierResult) => void,
    reject: (error: RuntimeError) => void,
    signal: AbortSignal | undefined,
  ): void {
    const waiter: Waiter = { workerId, resolve, reject, detach: noop };
    if (signal !== undefined) {
      const onAbort = () => this.#cancel(g, waiter);
      signal.addEventListener("abort", onAbort, { once: true });
      waiter.detach = () => signal.removeEventListener("abort", onAbort);
    }
    g.waiters.push(waiter);
  }

  /** The stored answer for a participant asking again after its release (see the class doc). */
  #replay(workerId: string, barrierId: string, step: number): BarrierResult | undefined {
    const last = this.#lastRelease.get(barrierId);
    if (last === undefined || last.step !== step) return undefined;
    if (last.membershipVersion !== this.o.membership.version()) return undefined;
    if (this.o.clock.now() - last.releasedAtMs > (this.o.replayWindowMs ?? 600_000))
      return undefined;
    const order = last.participants.indexOf(workerId);
    if (order < 0) return undefined;
    this.o.logger.info(
      { barrierId, workerId, generation: last.generation, step },
      "barrier asked again after its release; answering from the stored release",
    );
    return {
      released: true,
      barrierId,
      participants: last.participants.length,
      arrivalOrder: order + 1,
      arrived: last.participants,
      membershipVersion: last.membershipVersion,
      generation: last.generation,
    };
  }

  /** A member died or left: answer the open barriers at once, by policy. */
  onMemberGone(workerId: string, rank: number, reason: "dead" | "left"): void {
    for (const g of [...this.#open.values()]) {
      if (this.o.policy === "abort") {
        const error = new RuntimeError(
          `barrier "${g.barrierId}" aborted: worker "${workerId}" (rank ${rank}) ${reason === "dead" ? "died" : "left"} while the barrier was open`,
          {
            code: Code.Aborted,
            details: { barrierId: g.barrierId, deadWorkerId: workerId, rank, reason },
          },
        );
        this.#finish(g, error, "member_dead", workerId);
        continue;
      }
      // release_survivors: the gone worker's arrival no longer counts; its own waiters fail.
      if (g.arrivals.delete(workerId)) {
        const gone = new RuntimeError(
          `worker "${workerId}" is no longer a live member (${reason}); barrier "${g.barrierId}" goes on without it`,
          { code: Code.FailedPrecondition, details: { workerId, barrierId: g.barrierId } },
        );
        g.waiters = g.waiters.filter((w) => {
          if (w.workerId !== workerId) return true;
          w.detach();
          w.reject(gone);
          return false;
        });
      }
      if (g.arrivals.size === 0) {
        this.#discard(g);
      } else {
        this.#releaseIfComplete(g);
      }
    }
  }

  /** Fails every waiter with UNAVAILABLE (engine shutdown). */
  closeAll(): void {
    for (const g of [...this.#releasing.values()]) {
      const error = new RuntimeError(
        `coordinator is shutting down; barrier "${g.barrierId}" was not released`,
        { code: Code.Unavailable },
      );
      for (const w of g.waiters) {
        w.detach();
        w.reject(error);
      }
      g.waiters = [];
    }
    this.#releasing.clear();
    for (const g of [...this.#open.values()]) {
      this.#finish(
        g,
        new RuntimeError(
          `coordinator is shutting down; barrier "${g.barrierId}" was not released`,
          {
            code: Code.Unavailable,
          },
        ),
        "shutdown",
      );
    }
  }

  views(): BarrierView[] {
    if (this.#open.size === 0) return [];
    const live = [...this.o.membership.liveWorkerIds()];
    return [...this.#open.values()].map((g) => ({
      barrierId: g.barrierId,
      generation: g.generation,
      step: g.step,
      arrived: [...g.arrivals.keys()],
      missing: live.filter((id) => !g.arrivals.has(id)),
      createdAtMs: g.createdAtMs,
      deadlineMs: g.deadlineMs,
    }));
  }

  #openGeneration(barrierId: string, step: number, timeoutMs: number): Generation {
    const now = this.o.clock.now();
    const generation = (this.#lastGeneration.get(barrierId) ?? 0) + 1;
    this.#lastGeneration.delete(barrierId);
    const g: Generation = {
      barrierId,
      generation,
      step,
      createdAtMs: now,
      deadlineMs: now + timeoutMs,
      timer: undefined as unknown as TimerHandle,
      arrivals: new Map(),
      nextOrder: 1,
      waiters: [],
    };
    g.timer = this.o.clock.setTimeout(() => this.#timeout(g, timeoutMs), timeoutMs, {
      unref: true,
    });
    this.#open.set(barrierId, g);
    this.o.logger.debug({ barrierId, generation, step, timeoutMs }, "barrier opened");
    return g;
  }

  #releaseIfComplete(g: Generation): void {
    if (this.#open.get(g.barrierId) !== g) return;
    if (g.arrivals.size < this.o.membership.liveCount()) return;
    // Decided: no new arrival joins this generation; the release is stored, then answered.
    this.#close(g);
    this.#releasing.set(g.barrierId, g);
    const arrived = Object.freeze([...g.arrivals.keys()]);
    const release: StoredBarrierRelease = {
      barrierId: g.barrierId,
      generation: g.generation,
      step: g.step,
      participants: arrived,
      releasedAtMs: this.o.clock.now(),
      membershipVersion: this.o.membership.version(),
    };
    this.o
      .commit({
        name: "release_barrier",
        plan: (view) => {
          const ops: StoreOp[] = [{ t: "put_barrier_release", release }];
          if (view.barrierRelease(g.barrierId) === undefined) {
            // Forget the oldest remembered release beyond the limit.
            let overflow = this.#lastRelease.size + 1 - GENERATION_MEMORY;
            for (const id of this.#lastRelease.keys()) {
              if (overflow-- <= 0) break;
              ops.push({ t: "delete_barrier_release", barrierId: id });
            }
          }
          return { ops, effects: () => this.#answer(g, arrived, release.membershipVersion) };
        },
      })
      .catch((error: unknown) => {
        // Not stored, so not released: the waiters retry and arrive in a new generation.
        if (this.#releasing.get(g.barrierId) === g) this.#releasing.delete(g.barrierId);
        const failure = RuntimeError.from(error, Code.Unavailable);
        for (const w of g.waiters) {
          w.detach();
          w.reject(failure);
        }
        g.waiters = [];
        this.o.logger.error(
          { barrierId: g.barrierId, generation: g.generation, err: failure },
          "barrier release could not be stored; waiters must retry",
        );
      });
  }

  #answer(g: Generation, arrived: readonly string[], membershipVersion: number): void {
    if (this.#releasing.get(g.barrierId) === g) this.#releasing.delete(g.barrierId);
    const participants = arrived.length;
    const position = new Map<string, number>();
    for (let i = 0; i < arrived.length; i++) position.set(arrived[i] as string, i + 1);
    for (const w of g.waiters) {
      w.detach();
      w.resolve({
        released: true,
        barrierId: g.barrierId,
        participants,
        arrivalOrder: position.get(w.workerId) ?? 0,
        arrived,
        membershipVersion,
        generation: g.generation,
      });
    }
    g.waiters = [];
    this.o.counters.barriersReleased++;
    const waitedMs = this.o.clock.now() - g.createdAtMs;
    this.o.events.emit({
      type: "barrier_released",
      barrierId: g.barrierId,
      generation: g.generation,
      participants,
      waitedMs,
    });
    this.o.logger.info(
      { barrierId: g.barrierId, generation: g.generation, participants, waitedMs },
      "barrier released",
    );
  }

  #timeout(g: Generation, timeoutMs: number): void {
    if (this.#open.get(g.barrierId) !== g) return;
    const missing = [...this.o.membership.liveWorkerIds()].filter((id) => !g.arrivals.has(id));
    const shown = missing.slice(0, 10).join(", ") + (missing.length > 10 ? ", …" : "");
    this.o.counters.barriersTimedOut++;
    this.#finish(
      g,
      new RuntimeError(
        `barrier "${g.barrierId}" timed out after ${timeoutMs} ms; ${g.arrivals.size} arrived, still missing: ${shown}`,
        {
          code: Code.DeadlineExceeded,
          details: { barrierId: g.barrierId, missing: missing.slice(0, 100), timeoutMs },
        },
      ),
      "timeout",
    );
  }

  #cancel(g: Generation, waiter: Waiter): void {
    const index = g.waiters.indexOf(waiter);
    if (index < 0) return;
    g.waiters.splice(index, 1);
    // The arrival stops counting unless the same worker still has another call waiting (or the
    // generation is already being released: then it stays decided).
    if (
      this.#open.get(g.barrierId) === g &&
      !g.waiters.some((w) => w.workerId === waiter.workerId)
    ) {
      g.arrivals.delete(waiter.workerId);
    }
    waiter.reject(canceled(g.barrierId, waiter.workerId));
    if (g.arrivals.size === 0 && this.#open.get(g.barrierId) === g) this.#discard(g);
    this.o.logger.debug(
      { barrierId: g.barrierId, workerId: waiter.workerId },
      "barrier waiter canceled",
    );
  }

  #finish(
    g: Generation,
    error: RuntimeError,
    reason: "member_dead" | "timeout" | "shutdown",
    workerId?: string,
  ): void {
    this.#close(g);
    for (const w of g.waiters) {
      w.detach();
      w.reject(error);
    }
    g.waiters = [];
    this.o.counters.barriersAborted++;
    this.o.events.emit({
      type: "barrier_aborted",
      barrierId: g.barrierId,
      generation: g.generation,
      reason,
      ...(workerId === undefined ? {} : { workerId }),
    });
    this.o.logger.warn(
      { barrierId: g.barrierId, generation: g.generation, reason, workerId, err: error },
      "barrier aborted",
    );
  }

  /** Drops a generation nobody waits at any more (every waiter canceled or left). */
  #discard(g: Generation): void {
    this.#close(g);
    this.o.logger.debug({ barrierId: g.barrierId, generation: g.generation }, "barrier discarded");
  }

  #close(g: Generation): void {
    this.o.clock.clearTimeout(g.timer);
    this.#open.delete(g.barrierId);
    this.#lastGeneration.set(g.barrierId, g.generation);
    if (this.#lastGeneration.size > GENERATION_MEMORY) {
      const oldest = this.#lastGeneration.keys().next();
      if (oldest.done !== true) this.#lastGeneration.delete(oldest.value);
    }
  }
}

function canceled(barrierId: string, workerId: string): RuntimeError {
  return new RuntimeError(`wait at barrier "${barrierId}" by worker "${workerId}" was canceled`, {
    code: Code.Canceled,
    details: { barrierId, workerId },
  });
}

function noop(): void {}
