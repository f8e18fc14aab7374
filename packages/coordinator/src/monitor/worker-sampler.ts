import { isLiveWorkerState } from "@strata/runtime-core";
import { WORKER_SAMPLE_INTERVAL_MS } from "../api/worker-history.js";
import type { WorkerReading } from "../engine/types.js";
import type { WorkerSampleBatch } from "../history/history-database.js";

/**
 * Takes one sample of every live worker per {@link WORKER_SAMPLE_INTERVAL_MS} slot of the clock
 * (slots are aligned to the epoch, so a restarted coordinator keeps the cadence), during the
 * monitor's once-a-second walk over the workers: no walk of its own, nothing on the request or
 * heartbeat path. Workers restored after a restart that have not heartbeated to this process yet
 * are skipped: their values are from before the restart, and a flat line of them would be made up.
 */
export class WorkerSampler {
  readonly #startedAtMs: number;
  readonly #intervalMs: number;
  #slot = Number.NEGATIVE_INFINITY;
  #batch: WorkerSampleBatch | undefined;

  /**
   * @param startedAtMs when this process started (ms since the epoch).
   * @param intervalMs the slot length in ms. Default {@link WORKER_SAMPLE_INTERVAL_MS}.
   */
  constructor(startedAtMs: number, intervalMs = WORKER_SAMPLE_INTERVAL_MS) {
    this.#startedAtMs = startedAtMs;
    this.#intervalMs = intervalMs;
  }

  /** Starts a pass at `nowMs`; returns whether this pass samples (the first one of a new slot). */
  begin(nowMs: number): boolean {
    const slot = Math.floor(nowMs / this.#intervalMs);
    if (slot === this.#slot) {
      this.#batch = undefined;
      return false;
    }
    this.#slot = slot;
    this.#batch = {
      atMs: nowMs,
      workerIds: [],
      states: [],
      steps: [],
      epochs: [],
      stepRates: [],
      cpuPercents: [],
      memoryUsedBytes: [],
      gpuUtilizationPercents: [],
    };
    return true;
  }

  /** Takes in one worker of a sampling pass (does nothing otherwise, or for a worker not alive). */
  note(w: WorkerReading, stepRate: number | null): void {
    const b = this.#batch;
    if (b === undefined || !isLiveWorkerState(w.state) || w.lastHeartbeatMs < this.#startedAtMs) {
      return;
    }
    const resources = w.resources;
    let gpu: number | null = null;
    if (resources !== undefined && resources.gpus.length > 0) {
      let sum = 0;
      for (const g of resources.gpus) sum += g.utilizationPercent;
      gpu = sum / resources.gpus.length;
    }
    b.workerIds.push(w.workerId);
    b.states.push(w.state);
    b.steps.push(w.currentStep);
    b.epochs.push(w.currentEpoch);
    b.stepRates.push(stepRate);
    b.cpuPercents.push(resources?.cpuPercent ?? null);
    b.memoryUsedBytes.push(resources?.memoryUsedBytes ?? null);
    b.gpuUtilizationPercents.push(gpu);
  }

  /** Ends the pass: the batch when it sampled (possibly empty: no live worker), else undefined. */
  end(): WorkerSampleBatch | undefined {
    const b = this.#batch;
    this.#batch = undefined;
    return b;
  }
}
