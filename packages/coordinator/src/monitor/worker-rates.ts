import type { WorkerReading } from "../engine/types.js";

/** What a step rate needs of a worker. */
export type RateInput = Pick<
  WorkerReading,
  "workerId" | "incarnation" | "lastHeartbeatMs" | "currentStep" | "samplesConsumed"
>;

/** How far back a worker's step rate looks, in ms. */
const STEP_WINDOW_MS = 10_000;

interface Track {
  incarnation: number;
  /** Heartbeat times (ms) and the steps they reported, oldest first. */
  times: number[];
  steps: number[];
  /** Samples consumed at the previous observation. */
  samples: number;
}

/**
 * Per-worker training step rates, derived from successive heartbeats' `current_step` over time
 * (a heartbeat is recognised by a new `lastHeartbeatMs`), and the cluster's samples consumed.
 * Fed once a second with the engine snapshot's workers.
 */
export class WorkerRates {
  readonly #tracks = new Map<string, Track>();
  #samplesTotal = 0;

  #seen = new Set<string>();

  /** Takes in the current workers; forgets workers that are gone. */
  observe(workers: Iterable<RateInput>): void {
    this.begin();
    for (const w of workers) this.note(w);
    this.end();
  }

  /** Starts a pass over the workers ({@link note} each, then {@link end}). */
  begin(): void {
    this.#seen.clear();
  }

  /** Takes in one worker of the current pass (no copy of it is kept). */
  note(w: RateInput): void {
    this.#seen.add(w.workerId);
    let track = this.#tracks.get(w.workerId);
    if (track === undefined || track.incarnation !== w.incarnation) {
      track = { incarnation: w.incarnation, times: [], steps: [], samples: 0 };
      this.#tracks.set(w.workerId, track);
    }
    if (w.samplesConsumed > track.samples) this.#samplesTotal += w.samplesConsumed - track.samples;
    track.samples = w.samplesConsumed;
    const n = track.times.length;
    if (n > 0 && track.times[n - 1] === w.lastHeartbeatMs) return;
    if (n > 0 && w.currentStep < (track.steps[n - 1] as number)) {
      // A new task or epoch started over: the rate starts over too.
      track.times.length = 0;
      track.steps.length = 0;
    }
    track.times.push(w.lastHeartbeatMs);
    track.steps.push(w.currentStep);
    while (
      track.times.length > 2 &&
      (track.times[1] as number) <= w.lastHeartbeatMs - STEP_WINDOW_MS
    ) {
      track.times.shift();
      track.steps.shift();
    }
  }

  /** Ends a pass: forgets workers it did not see. */
  end(): void {
    if (this.#tracks.size === this.#seen.size) return;
    for (const id of this.#tracks.keys()) if (!this.#seen.has(id)) this.#tracks.delete(id);
  }

  /** Steps per second over the last ~10 s of heartbeats; null until two heartbeats were seen. */
  stepRate(workerId: string): number | null {
    const track = this.#tracks.get(workerId);
    if (track === undefined || track.times.length < 2) return null;
    const n = track.times.length;
    const dt = (track.times[n - 1] as number) - (track.times[0] as number);
    if (dt <= 0) return null;
    return (((track.steps[n - 1] as number) - (track.steps[0] as number)) * 1_000) / dt;
  }

  /** Samples consumed by every worker since this process started (cumulative, for a rate). */
  get samplesTotal(): number {
    return this.#samplesTotal;
  }
}
