import { z } from "zod";
import { count, epochMs } from "./common.js";

/**
 * Series kept in history, one sample per second (downsampled with age): the coordinator stores
 * them in its own database, so they outlive the job and a restart.
 */
export const HISTORY_SERIES = [
  "workers_alive",
  "workers_dead",
  "steps_per_second",
  "samples_per_second",
  "checkpoint_bytes_per_second",
  "barrier_p50_ms",
  "barrier_p99_ms",
  "heartbeats_per_second",
  "rpc_per_second",
] as const;
/** A series name. */
export type HistorySeries = (typeof HISTORY_SERIES)[number];

/**
 * `GET /api/history?series=a,b&from=&to=&step_ms=`: `series` is a comma-separated list of
 * {@link HISTORY_SERIES} names (default all; an unknown name is 400 naming `series`); `from`/`to`
 * are ms since the epoch (default the last hour); `step_ms` the resolution (default chosen so
 * that at most 2,000 points come back; at least 1,000). Points are averaged per step.
 */
export const historyQuerySchema = z.object({
  series: z.array(z.enum(HISTORY_SERIES)).min(1),
  from: epochMs,
  to: epochMs,
  step_ms: z.number().int().min(1_000).max(86_400_000),
});
/** A validated history query. */
export type HistoryQuery = z.infer<typeof historyQuerySchema>;

/**
 * The answer, in columns (what chart libraries such as uPlot take): `timestamps[i]` is the start
 * of step i in ms; `series[name][i]` its value, null where nothing was recorded.
 */
export const historyResponseSchema = z.object({
  from: epochMs,
  to: epochMs,
  step_ms: count,
  timestamps: z.array(epochMs),
  series: z.record(z.string(), z.array(z.number().nullable())),
});
/** `GET /api/history`. */
export type HistoryResponse = z.infer<typeof historyResponseSchema>;
