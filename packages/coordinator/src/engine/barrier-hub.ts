import {
  type BarrierFailurePolicy,
  type Clock,
  Code,
  type Logger,
  RuntimeError,
  type TimerHandle,
} from "@strata/runtime-core";
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
}

/** How many last generation numbers we remember for ids with no open barrier. */
const GENERATION_MEMORY = 10_000;

/**
 * Named barriers over the live membership. Arrival and waiter registration happen in one
 * synchronous step, and a release answers every waiter in one synchronous pass, so no wake-up
 * can be lost and release latency does not grow with per-waiter awaits.
 */
export class BarrierHub {
  readonly #open = new Map<string, Generation>();
  readonly #lastGeneration = new Map<string, number>();

  constructor(private readonly o: BarrierHubOptions) {}

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
    let gen = this.#open.get(barrierId);
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
      const waiter: Waiter = { workerId, resolve, reject, detach: noop };
      if (signal !== undefined) {
        const onAbort = () => this.#cancel(g, waiter);
        signal.addEventListener("abort", onAbort, { once: true });
        waiter.detach = () => signal.removeEventListener("abort", onAbort);
      }
      g.waiters.push(waiter);
    });
    // Still inside the same synchronous step as the arrival: release if this was the last one.
    this.#releaseIfComplete(g);
    return promise;
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
    const arrived = Object.freeze([...g.arrivals.keys()]);
    const participants = arrived.length;
    const membershipVersion = this.o.membership.version();
    const position = new Map<string, number>();
    for (let i = 0; i < arrived.length; i++) position.set(arrived[i] as string, i + 1);
    this.#close(g);
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
    // The arrival stops counting unless the same worker still has another call waiting.
    if (!g.waiters.some((w) => w.workerId === waiter.workerId)) g.arrivals.delete(waiter.workerId);
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
