import type { ApiEvent } from "../api/events.js";

/** A worker's arrival at a barrier generation. */
export interface BarrierArrival {
  workerId: string;
  order: number;
  atMs: number;
}

/** A generation that was released or aborted. */
export interface FinishedGeneration {
  barrierId: string;
  generation: number;
  /** The training step the generation was for, when a snapshot saw it open; else 0. */
  step: number;
  outcome: "released" | "aborted";
  /** When it was released or aborted, ms since the epoch. */
  atMs: number;
  /** When its first arrival came. */
  createdAtMs: number;
  participants: number;
  waitedMs: number;
  abortReason: string | null;
  /** The worker whose death or departure aborted it. */
  culpritId: string | null;
  /** Arrivals of the generation as far as events told them, in arrival order. */
  arrivals: BarrierArrival[];
}

/** Finished generations remembered per barrier id. */
const HISTORY_PER_BARRIER = 20;
/** Barrier ids remembered; the least recently finished go first. */
const MAX_BARRIERS = 1_000;
/** Releases the latency percentiles are taken over. */
const LATENCY_SAMPLES = 100;

const num = (data: Record<string, unknown>, key: string) => {
  const value = data[key];
  return typeof value === "number" ? value : 0;
};
const str = (data: Record<string, unknown>, key: string) => {
  const value = data[key];
  return typeof value === "string" ? value : null;
};

/**
 * What the engine's barrier events tell beyond its snapshot: arrival times of open generations,
 * finished generations (outcome, wait, participants) and the wait percentiles of the last 100
 * releases. Fed with API events, live and (at start) from history, so a restarted coordinator
 * still shows them.
 */
export class BarrierTracker {
  readonly #open = new Map<string, { generation: number; arrivals: BarrierArrival[] }>();
  readonly #finished = new Map<string, FinishedGeneration[]>();
  readonly #waits: number[] = [];
  /** The step of open generations as the engine's snapshot showed them (barrier events carry none). */
  readonly #steps = new Map<string, { generation: number; step: number }>();

  /** Notes the steps of the open generations (called with every snapshot the monitor takes). */
  noteOpen(open: readonly { barrierId: string; generation: number; step: number }[]): void {
    for (const b of open) this.#steps.set(b.barrierId, { generation: b.generation, step: b.step });
    if (this.#steps.size > MAX_BARRIERS) {
      const oldest = this.#steps.keys().next().value;
      if (oldest !== undefined) this.#steps.delete(oldest);
    }
  }

  observe(event: ApiEvent): void {
    const barrierId = event.barrier_id;
    if (barrierId === null) return;
    const data = event.data;
    const generation = num(data, "generation");
    switch (event.type) {
      case "barrier_arrived": {
        let open = this.#open.get(barrierId);
        if (open === undefined || open.generation !== generation) {
          open = { generation, arrivals: [] };
          this.#open.set(barrierId, open);
        }
        const workerId = event.worker_id ?? "";
        if (!open.arrivals.some((a) => a.workerId === workerId)) {
          open.arrivals.push({ workerId, order: num(data, "arrival_order"), atMs: event.at });
        }
        return;
      }
      case "barrier_released":
      case "barrier_aborted": {
        const open = this.#open.get(barrierId);
        const arrivals = open?.generation === generation ? open.arrivals : [];
        if (open?.generation === generation) this.#open.delete(barrierId);
        const released = event.type === "barrier_released";
        const noted = this.#steps.get(barrierId);
        if (noted !== undefined) this.#steps.delete(barrierId);
        const firstAt = arrivals.reduce((min, a) => Math.min(min, a.atMs), event.at);
        const waitedMs = released ? num(data, "waited_ms") : event.at - firstAt;
        const finished: FinishedGeneration = {
          barrierId,
          generation,
          outcome: released ? "released" : "aborted",
          step: noted?.generation === generation ? noted.step : 0,
          atMs: event.at,
          createdAtMs: released ? event.at - waitedMs : firstAt,
          participants: released ? num(data, "participants") : arrivals.length,
          waitedMs,
          abortReason: released ? null : str(data, "reason"),
          culpritId: released ? null : event.worker_id,
          arrivals: [...arrivals].sort((a, b) => a.order - b.order),
        };
        const list = this.#finished.get(barrierId) ?? [];
        this.#finished.delete(barrierId);
        list.push(finished);
        if (list.length > HISTORY_PER_BARRIER) list.shift();
        this.#finished.set(barrierId, list);
        if (this.#finished.size > MAX_BARRIERS) {
          const oldest = this.#finished.keys().next().value;
          if (oldest !== undefined) this.#finished.delete(oldest);
        }
        if (released) {
          this.#waits.push(waitedMs);
          if (this.#waits.length > LATENCY_SAMPLES) this.#waits.shift();
        }
        return;
      }
      default:
        return;
    }
  }

  /** Arrivals of the open generation `generation` of `barrierId`, in arrival order. */
  arrivals(barrierId: string, generation: number): BarrierArrival[] {
    const open = this.#open.get(barrierId);
    if (open === undefined || open.generation !== generation) return [];
    return [...open.arrivals].sort((a, b) => a.order - b.order);
  }

  /** Finished generations of one barrier id, oldest first. */
  history(barrierId: string): readonly FinishedGeneration[] {
    return this.#finished.get(barrierId) ?? [];
  }

  /** The newest finished generation of every barrier id, most recently finished last. */
  lastFinished(): FinishedGeneration[] {
    const out: FinishedGeneration[] = [];
    for (const list of this.#finished.values()) {
      const last = list[list.length - 1];
      if (last !== undefined) out.push(last);
    }
    return out;
  }

  /** The `p`-th percentile (0–100) of the last 100 release waits, ms; null before any release. */
  waitPercentile(p: number): number | null {
    if (this.#waits.length === 0) return null;
    const sorted = [...this.#waits].sort((a, b) => a - b);
    const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
    return sorted[Math.max(0, index)] as number;
  }
}
