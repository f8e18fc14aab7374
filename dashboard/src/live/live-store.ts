import type { ApiEvent, StreamHello, StreamTick } from "@strata/coordinator/api";
import type { ConnectionState } from "./connection-state.js";

/** Live metric samples in columns (what uPlot takes): `at[i]` ms, `series[name][i]` value. */
export interface LiveSamples {
  at: number[];
  series: Record<string, (number | null)[]>;
}

/** The parts of the store a component can subscribe to. */
export type LiveSlice = "connection" | "samples" | "events" | "clock";

/** Options for {@link createLiveStore}. */
export interface LiveStoreOptions {
  /** Live samples kept (one a second). Default 7,200 (two hours). */
  maxSamples?: number;
  /** Live events kept, newest last. Default 2,000. */
  maxEvents?: number;
  /** Browser clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/**
 * What the event stream delivers that is not a REST resource: the connection state, the metric
 * samples of each tick (appended to the charts' history), the recent events, and the offset of
 * the coordinator's clock from the browser's (so heartbeat ages are right even when the two
 * clocks disagree). Components read it through `useSyncExternalStore` (see `use-live.ts`); only
 * the subscribers of a changed slice re-render.
 */
export interface LiveStore {
  getConnection(): ConnectionState;
  getHello(): StreamHello | null;
  getSamples(): LiveSamples;
  /** The newest tick's sample and its time, or null before the first tick. */
  getLatestSample(): { at: number; values: Readonly<Record<string, number | null>> } | null;
  getEvents(): readonly ApiEvent[];
  /** The coordinator's clock now (browser clock plus the measured offset), ms since the epoch. */
  serverNow(): number;
  /** A counter that grows once a second (with each tick, or by itself without ticks) while anything subscribes to `clock`. */
  getClock(): number;
  subscribe(slice: LiveSlice, listener: () => void): () => void;

  setConnection(state: ConnectionState): void;
  setHello(hello: StreamHello): void;
  addTick(tick: StreamTick): void;
  addEvent(event: ApiEvent): void;
}

/** Creates an empty {@link LiveStore}. */
export function createLiveStore(options: LiveStoreOptions = {}): LiveStore {
  const maxSamples = options.maxSamples ?? 7_200;
  const maxEvents = options.maxEvents ?? 2_000;
  const now = options.now ?? Date.now;
  const listeners: Record<LiveSlice, Set<() => void>> = {
    connection: new Set(),
    samples: new Set(),
    events: new Set(),
    clock: new Set(),
  };
  let connection: ConnectionState = {
    status: "connecting",
    since: now(),
    lastLiveAt: null,
    attempt: 0,
    nextRetryAt: null,
    error: null,
  };
  let hello: StreamHello | null = null;
  let samples: LiveSamples = { at: [], series: {} };
  let latest: { at: number; values: Readonly<Record<string, number | null>> } | null = null;
  let events: ApiEvent[] = [];
  let offsetMs = 0;
  let clock = 0;
  let clockTimer: ReturnType<typeof setInterval> | undefined;
  let lastTickAt = Number.NEGATIVE_INFINITY;

  const emit = (slice: LiveSlice): void => {
    for (const listener of listeners[slice]) listener();
  };

  return {
    getConnection: () => connection,
    getHello: () => hello,
    getSamples: () => samples,
    getLatestSample: () => latest,
    getEvents: () => events,
    serverNow: () => now() + offsetMs,
    getClock: () => clock,
    subscribe(slice, listener) {
      listeners[slice].add(listener);
      if (slice === "clock" && clockTimer === undefined) {
        // While ticks arrive the clock moves with them (one render a second, not two); without
        // ticks (offline) it keeps moving by itself.
        clockTimer = setInterval(() => {
          if (now() - lastTickAt < 1_100) return;
          clock++;
          emit("clock");
        }, 1_000);
      }
      return () => {
        listeners[slice].delete(listener);
        if (slice === "clock" && listeners.clock.size === 0 && clockTimer !== undefined) {
          clearInterval(clockTimer);
          clockTimer = undefined;
        }
      };
    },
    setConnection(state) {
      connection = state;
      emit("connection");
    },
    setHello(next) {
      hello = next;
    },
    addTick(tick) {
      lastTickAt = now();
      offsetMs = tick.at - now();
      latest = { at: tick.at, values: tick.sample };
      // A new object each tick (so subscribers see a change), columns appended in place: copying
      // two hours of columns every second would cost more than everything else a tick does.
      const last = samples.at[samples.at.length - 1];
      if (last === undefined || tick.at > last) {
        const length = samples.at.length;
        samples.at.push(tick.at);
        for (const name of Object.keys(tick.sample)) {
          if (!(name in samples.series)) {
            samples.series[name] = new Array<number | null>(length).fill(null);
          }
        }
        for (const [name, column] of Object.entries(samples.series)) {
          column.push(tick.sample[name] ?? null);
        }
        if (samples.at.length > maxSamples) {
          const drop = samples.at.length - maxSamples;
          samples.at.splice(0, drop);
          for (const column of Object.values(samples.series)) column.splice(0, drop);
        }
      }
      samples = { at: samples.at, series: samples.series };
      emit("samples");
      if (listeners.clock.size > 0) {
        clock++;
        emit("clock");
      }
    },
    addEvent(event) {
      const last = events[events.length - 1];
      if (last !== undefined && event.seq <= last.seq) return;
      events =
        events.length >= maxEvents ? [...events.slice(1 - maxEvents), event] : [...events, event];
      emit("events");
    },
  };
}
