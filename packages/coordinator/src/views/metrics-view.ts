import type { MetricsResponse } from "../api/metrics.js";
import type { EngineSnapshot } from "../engine/types.js";
import type { ClusterFigures } from "../monitor/cluster-stats.js";

/** Rounds a measured rate to 3 decimals (JSON stays short; nothing real is lost). */
function round(value: number): number {
  return Math.round(value * 1_000) / 1_000;
}

/** `/api/metrics`: the latest measured figures plus counts from the snapshot. */
export function toMetricsResponse(
  figures: ClusterFigures,
  snapshot: EngineSnapshot,
  eventSeq: number,
): MetricsResponse {
  let complete = 0;
  for (const step of snapshot.checkpoints) if (step.complete) complete++;
  return {
    checkpoint_throughput: round(figures.checkpointBytesPerSecond),
    coordinator_rps: round(figures.rpcPerSecond),
    active_workers: figures.activeWorkers,
    total_workers: snapshot.workers.length,
    barrier_latency_p99: round(figures.barrierP99Ms ?? 0),
    shard_assignment_time: round(figures.shardAssignmentMs),
    barrier_latency_p50: round(figures.barrierP50Ms ?? 0),
    live_workers: figures.liveWorkers,
    dead_workers: figures.deadWorkers,
    heartbeats_per_second: round(figures.heartbeatsPerSecond),
    steps_per_second: round(figures.stepsPerSecond),
    samples_per_second: round(figures.samplesPerSecond),
    membership_version: snapshot.membershipVersion,
    open_barriers: snapshot.barriers.length,
    checkpoint_steps_complete: complete,
    event_seq: eventSeq,
  };
}
