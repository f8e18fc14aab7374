import type { WorkerState } from "@strata/runtime-core";
import type { WorkerHistoryQuery, WorkerHistoryResponse } from "../api/worker-history.js";
import { stepStarts } from "./history-database.js";

/** One step of a worker's history, as a database aggregates it (see `WorkerHistoryResponse`). */
export interface WorkerStepRow {
  /** Which step of the answer: `floor((at − from) / step_ms)`. */
  index: number;
  /** The latest sample's values in the step. */
  state: WorkerState;
  step: number;
  epoch: number;
  /** Means over the step's samples (null when none had a value). */
  stepRate: number | null;
  cpuPercent: number | null;
  memoryUsedBytes: number | null;
  gpuUtilizationPercent: number | null;
}

/**
 * Lays a worker's aggregated steps out in the answer's columns: one entry per step start in
 * [from, to), null where no row fell. Memory is rounded to whole bytes (a mean of byte counts).
 */
export function toWorkerHistoryResponse(
  workerId: string,
  query: WorkerHistoryQuery,
  rows: readonly WorkerStepRow[],
  span: { first: number; last: number } | undefined,
): WorkerHistoryResponse {
  const timestamps = stepStarts(query);
  const column = <T>() => timestamps.map((): T | null => null);
  const out: WorkerHistoryResponse = {
    worker_id: workerId,
    from: query.from,
    to: query.to,
    step_ms: query.step_ms,
    first_sample_at: span?.first ?? null,
    last_sample_at: span?.last ?? null,
    timestamps,
    step: column<number>(),
    epoch: column<number>(),
    state: column<WorkerState>(),
    step_rate: column<number>(),
    cpu_percent: column<number>(),
    memory_used_bytes: column<number>(),
    gpu_utilization_percent: column<number>(),
  };
  for (const row of rows) {
    const i = row.index;
    if (i < 0 || i >= timestamps.length) continue;
    out.step[i] = row.step;
    out.epoch[i] = row.epoch;
    out.state[i] = row.state;
    out.step_rate[i] = row.stepRate;
    out.cpu_percent[i] = row.cpuPercent;
    out.memory_used_bytes[i] =
      row.memoryUsedBytes === null ? null : Math.round(row.memoryUsedBytes);
    out.gpu_utilization_percent[i] = row.gpuUtilizationPercent;
  }
  return out;
}
