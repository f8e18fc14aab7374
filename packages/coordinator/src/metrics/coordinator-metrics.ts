import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { FastCounter, FastHistogram } from "./fast-metrics.js";

/** Point-in-time figures the metrics read from the engine at scrape time. */
export interface MetricsSnapshot {
  workersRegistered: number;
  workersLive: number;
  workersDead: number;
  datasets: number;
  membershipVersion: number;
  barrierWaiters: number;
}

/** The coordinator's Prometheus metrics, in their own registry (so several coordinators can share a process). */
export interface CoordinatorMetrics {
  readonly registry: Registry;
  /** Labels: `transport` (unary, stream). Hot path: hold the cells. */
  readonly heartbeats: FastCounter;
  readonly heartbeatSeconds: FastHistogram;
  /** Labels: `method`, `code` (gRPC status name). */
  readonly rpcs: FastCounter;
  /** Labels: `method`. */
  readonly rpcSeconds: FastHistogram;
  readonly barrierReleases: Counter;
  readonly barrierAborts: Counter<"reason">;
  readonly barrierReleaseSeconds: Histogram;
  readonly checkpointsRecorded: Counter;
  readonly checkpointStepsComplete: Counter;
  readonly shardMoves: Counter;
  readonly workersDeclaredDead: Counter;
  readonly rateLimited: Counter;
  readonly authFailures: Counter<"transport">;
}

// Latency buckets from 100 µs to 10 s: heartbeats sit at the low end, barriers anywhere.
const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Creates the metrics; `snapshot` is called on every scrape for the gauges. */
export function createCoordinatorMetrics(snapshot: () => MetricsSnapshot): CoordinatorMetrics {
  const registry = new Registry();
  // Process CPU, memory, GC and event-loop lag (nodejs_eventloop_lag_*): a stalled loop delays
  // every heartbeat, so operators need to see it.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const gauge = (name: string, help: string, pick: (s: MetricsSnapshot) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(pick(snapshot()));
      },
    });
  gauge(
    "strata_workers_registered",
    "Workers the coordinator knows (live and dead).",
    (s) => s.workersRegistered,
  );
  gauge("strata_workers_live", "Live workers (members).", (s) => s.workersLive);
  gauge("strata_workers_dead", "Workers declared dead and not yet returned.", (s) => s.workersDead);
  gauge("strata_datasets", "Registered datasets.", (s) => s.datasets);
  gauge("strata_membership_version", "Current membership version.", (s) => s.membershipVersion);
  gauge("strata_barrier_waiters", "Workers waiting at a barrier now.", (s) => s.barrierWaiters);
  return {
    registry,
    heartbeats: new FastCounter(
      "strata_heartbeats_total",
      "Heartbeats recorded, by transport (unary or stream).",
      registry,
    ),
    heartbeatSeconds: new FastHistogram(
      "strata_heartbeat_duration_seconds",
      "Time to handle one heartbeat inside the coordinator (validation, engine, metrics), in seconds.",
      LATENCY_BUCKETS,
      registry,
    ),
    rpcs: new FastCounter(
      "strata_rpc_total",
      "RPCs handled, by method and gRPC status code name.",
      registry,
    ),
    rpcSeconds: new FastHistogram(
      "strata_rpc_duration_seconds",
      "RPC handling time by method, in seconds (WaitBarrier includes the wait).",
      LATENCY_BUCKETS,
      registry,
    ),
    barrierReleases: new Counter({
      name: "strata_barrier_releases_total",
      help: "Barriers released.",
      registers: [registry],
    }),
    barrierAborts: new Counter({
      name: "strata_barrier_aborts_total",
      help: "Barriers that failed, by reason (member_died, timeout, canceled).",
      labelNames: ["reason"],
      registers: [registry],
    }),
    barrierReleaseSeconds: new Histogram({
      name: "strata_barrier_release_latency_seconds",
      help: "Time from the last arrival at a barrier to its release, in seconds.",
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    checkpointsRecorded: new Counter({
      name: "strata_checkpoints_recorded_total",
      help: "Checkpoint parts recorded (one per rank per step).",
      registers: [registry],
    }),
    checkpointStepsComplete: new Counter({
      name: "strata_checkpoint_steps_complete_total",
      help: "Checkpoint steps that became complete (every rank reported).",
      registers: [registry],
    }),
    shardMoves: new Counter({
      name: "strata_shard_moves_total",
      help: "Shards that moved to another worker after a membership change.",
      registers: [registry],
    }),
    workersDeclaredDead: new Counter({
      name: "strata_workers_declared_dead_total",
      help: "Workers declared dead after missing heartbeats.",
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: "strata_rate_limited_total",
      help: "Requests refused with RESOURCE_EXHAUSTED by the per-client rate limit.",
      registers: [registry],
    }),
    authFailures: new Counter({
      name: "strata_auth_failures_total",
      help: "Requests refused for a missing or wrong bearer token, by transport (grpc or http).",
      labelNames: ["transport"],
      registers: [registry],
    }),
  };
}
