import { z } from "zod";
import { count, epochMs, workerStateSchema } from "./common.js";

/**
 * How often the coordinator records one sample of every live worker, in ms. Ten seconds, not one
 * (the cluster series' resolution): 10,000 workers then cost at most 1,000 rows a second,
 * written in batches on the history's writer thread, and a worker's step and resources change
 * slowly enough that a finer trace adds rows rather than insight. The live stream fills in
 * between samples on the dashboard.
 */
export const WORKER_SAMPLE_INTERVAL_MS = 10_000;

/**
 * `GET /api/workers/:id/history?from=&to=&step_ms=`: `from`/`to` are ms since the epoch
 * (default the last hour, `from` before `to`); `step_ms` the resolution, at least
 * {@link WORKER_SAMPLE_INTERVAL_MS} (default chosen so that at most 2,000 points come back; at
 * most 20,000 points per answer). A bad value is 400 naming the field; a worker the coordinator
 * never knew (no record, no stored sample, no stored event) is 404. A dead, departed or forgotten
 * worker still has its history: that is what this route is for.
 */
export const workerHistoryQuerySchema = z.object({
  from: epochMs,
  to: epochMs,
  step_ms: z.number().int().min(WORKER_SAMPLE_INTERVAL_MS).max(86_400_000),
});
/** A validated worker history query. */
export type WorkerHistoryQuery = z.infer<typeof workerHistoryQuerySchema>;

/**
 * One worker's samples in columns (what chart libraries such as uPlot take), like
 * `/api/history`: `timestamps[i]` is the start of step i in ms, and every other array holds that
 * step's value, null where nothing was recorded (the worker was not alive, or not known yet).
 * Per step, `step`, `epoch` and `state` are the latest sample's; the rates, resources and
 * utilisation are means over the step's samples. Samples older than the history's full
 * resolution (`--history-full-resolution-ms`, default 6 h) were rolled up into 10-minute rows
 * (last step, epoch and state; mean rates and resources).
 */
export const workerHistoryResponseSchema = z.object({
  worker_id: z.string(),
  from: epochMs,
  to: epochMs,
  step_ms: count,
  /** The first and the newest stored sample of this worker (ms), null when none is stored. */
  first_sample_at: epochMs.nullable(),
  last_sample_at: epochMs.nullable(),
  timestamps: z.array(epochMs),
  /** The training step the worker reported. */
  step: z.array(count.nullable()),
  epoch: z.array(count.nullable()),
  state: z.array(workerStateSchema.nullable()),
  /** Steps per second over the worker's last ~10 s of heartbeats (null until two were seen). */
  step_rate: z.array(z.number().nonnegative().nullable()),
  /** CPU use, 0 to 100 per core summed (as `top` shows it); null without a resource report. */
  cpu_percent: z.array(z.number().nonnegative().nullable()),
  /** Memory in use, bytes; null without a resource report. */
  memory_used_bytes: z.array(count.nullable()),
  /** Mean utilisation of the worker's GPUs, 0 to 100; null without GPUs. */
  gpu_utilization_percent: z.array(z.number().nonnegative().nullable()),
});
/** `GET /api/workers/:id/history`. */
export type WorkerHistoryResponse = z.infer<typeof workerHistoryResponseSchema>;
