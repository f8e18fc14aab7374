import { z } from "zod";
import { count, rate } from "./common.js";

/**
 * `GET /api/metrics` (the original's `MetricsResponse`, every value measured, plus additive
 * fields). Rates are per second over the last 10 s unless noted; latencies are milliseconds.
 */
export const metricsResponseSchema = z.object({
  /** Checkpoint bytes recorded per second (sizes workers reported), over the last 60 s. */
  checkpoint_throughput: rate,
  /** gRPC calls per second (all methods, heartbeat stream messages included). */
  coordinator_rps: rate,
  /** Live workers in a working state (training, loading data, checkpointing, recovering) or idle. */
  active_workers: count,
  /** Every worker the coordinator knows, dead and departed included. */
  total_workers: count,
  /** 99th percentile barrier wait (first arrival to release) over the last 100 releases; 0 before any. */
  barrier_latency_p99: rate,
  /** Mean handling time of GetShardAssignments/GetDataShard over the last 10 s; 0 before any. */
  shard_assignment_time: rate,
  // --- additive ---
  barrier_latency_p50: rate,
  live_workers: count,
  dead_workers: count,
  heartbeats_per_second: rate,
  /** Sum over live workers of their step rate. */
  steps_per_second: rate,
  /** Samples reported consumed per second. */
  samples_per_second: rate,
  membership_version: count,
  open_barriers: count,
  checkpoint_steps_complete: count,
  /** The newest event seq. */
  event_seq: count,
});
/** `GET /api/metrics`. */
export type MetricsResponse = z.infer<typeof metricsResponseSchema>;
