/** An opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | ReturnType<typeof setTimeout>;

/**
 * Where time comes from. Everything in Strata that reads the time or schedules work (heartbeat
 * expiry, barrier timeouts, retry backoff, checkpoint intervals) takes a Clock, so tests can pass
 * a {@link ManualClock} instead of waiting. Never capture the global `setTimeout` at module load.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Schedules `fn` after `delayMs` milliseconds. Timers do not keep the process alive when `unref` is true. */
  setTimeout(fn: () => void, delayMs: number, options?: { unref?: boolean }): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The largest delay `setTimeout` accepts (2^31 − 1 ms, about 24.8 days); longer delays fire at once in Node. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** The real clock: `Date.now()` and the global timers, looked up at call time so fake timers work. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, delayMs, options) {
    const handle = globalThis.setTimeout(fn, Math.min(Math.max(0, delayMs), MAX_TIMER_DELAY_MS));
    if (options?.unref) handle.unref();
    return handle;
  },
  clearTimeout(handle) {
    globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

interface ManualTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to. `advance(ms)` runs due timers in time order, including
 * timers that those timers schedule.
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: ManualTimer[] = [];

  /** @param startMs the initial time, in ms since the epoch; defaults to 0. */
  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.#nextId++, at: this.#now + Math.max(0, delayMs), fn };
    this.#timers.push(timer);
    return timer.id as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t.id !== (handle as unknown as number));
  }

  /** Moves time forward by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.#timers[0];
      if (next === undefined || next.at > target) break;
      this.#timers.shift();
      this.#now = next.at;
      next.fn();
    }
    this.#now = target;
  }

  /** How many timers are pending. */
  get pendingTimers(): number {
    return this.#timers.length;
  }
}
