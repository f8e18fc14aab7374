import type { ApiEvent } from "../api/events.js";

/** A rank's part of a checkpoint step, as its `checkpoint_recorded` event told it. */
export interface RecordedPart {
  rank: number;
  workerId: string;
  checkpointId: string;
  sizeBytes: number;
  recordedAtMs: number;
}

/** Steps remembered; the oldest recorded go first. */
const MAX_STEPS = 10_000;

/**
 * Checkpoint parts by job and step, from `checkpoint_recorded` events (live, and from history
 * at start), for what the engine's snapshot does not carry per part (which worker, which id,
 * which size, when). Also the cumulative bytes recorded, for the checkpoint throughput.
 */
export class CheckpointTracker {
  readonly #steps = new Map<string, Map<number, RecordedPart>>();
  readonly #completedAt = new Map<string, number>();
  #bytesTotal = 0;

  /** Takes in an event; `live` is false for events replayed from history (not counted in throughput). */
  observe(event: ApiEvent, live: boolean): void {
    const d = event.data;
    if (event.type === "checkpoint_completed") {
      this.#completedAt.set(
        stepKey(event.job_id ?? "", typeof d.step === "number" ? d.step : 0),
        event.at,
      );
      if (this.#completedAt.size > MAX_STEPS) {
        const oldest = this.#completedAt.keys().next().value;
        if (oldest !== undefined) this.#completedAt.delete(oldest);
      }
      return;
    }
    if (event.type !== "checkpoint_recorded") return;
    const part: RecordedPart = {
      rank: typeof d.rank === "number" ? d.rank : 0,
      workerId: event.worker_id ?? "",
      checkpointId: typeof d.checkpoint_id === "string" ? d.checkpoint_id : "",
      sizeBytes: typeof d.size_bytes === "number" ? d.size_bytes : 0,
      recordedAtMs: event.at,
    };
    if (live) this.#bytesTotal += part.sizeBytes;
    const key = stepKey(event.job_id ?? "", typeof d.step === "number" ? d.step : 0);
    let parts = this.#steps.get(key);
    if (parts === undefined) {
      parts = new Map();
      this.#steps.set(key, parts);
      if (this.#steps.size > MAX_STEPS) {
        const oldest = this.#steps.keys().next().value;
        if (oldest !== undefined) this.#steps.delete(oldest);
      }
    }
    parts.set(part.rank, part);
  }

  /** Recorded parts of a step by rank (empty when none are known). */
  parts(jobId: string, step: number): RecordedPart[] {
    const parts = this.#steps.get(stepKey(jobId, step));
    return parts === undefined ? [] : [...parts.values()].sort((a, b) => a.rank - b.rank);
  }

  /** When the step became complete, if an event told it. */
  completedAt(jobId: string, step: number): number | null {
    return this.#completedAt.get(stepKey(jobId, step)) ?? null;
  }

  /** Bytes of checkpoint parts recorded since this process started. */
  get bytesTotal(): number {
    return this.#bytesTotal;
  }
}

function stepKey(jobId: string, step: number): string {
  return `${jobId}\u0000${step}`;
}
