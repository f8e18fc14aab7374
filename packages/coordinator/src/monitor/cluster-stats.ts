import { isLiveWorkerState, type WorkerState } from "@strata/runtime-core";
import type { HistorySeries } from "../api/history.js";
import type { EngineSnapshot, WorkerReading } from "../engine/types.js";
import type { CoordinatorMetrics } from "../metrics/coordinator-metrics.js";
import type { BarrierTracker } from "./barrier-tracker.js";
import type { CheckpointTracker } from "./checkpoint-tracker.js";
import { RateWindow } from "./rate-window.js";
import type { WorkerRates } from "./worker-rates.js";

/** Rates are taken over this window, in ms. */
const RATE_WINDOW_MS = 10_000;
/** Checkpoint throughput is taken over this window, in ms (checkpoints are rare and bursty). */
const CHECKPOINT_WINDOW_MS = 60_000;
/** gRPC methods whose handling time is the "shard assignment time". */
const SHARD_METHODS = new Set(["GetShardAssignments", "GetDataShard"]);

/** States that count as active: working, or idle and ready for work. */
const ACTIVE: ReadonlySet<WorkerState> = new Set([
  "idle",
  "loading_data",
  "training",
  "checkpointing",
  "recovering",
]);

/** Worker counts of one pass (see `ClusterStats.count`). */
export interface WorkerCounts {
  total: number;
  live: number;
  /** Workers that deregistered (left cleanly): neither live nor dead. */
  left: number;
  active: number;
  /** Sum of live workers' step rates, steps per second. */
  steps: number;
}

/** The cluster's measured figures at one instant (what `/api/metrics` and the history samples show). */
export interface ClusterFigures {
  atMs: number;
  liveWorkers: number;
  deadWorkers: number;
  activeWorkers: number;
  totalWorkers: number;
  heartbeatsPerSecond: number;
  /** gRPC calls per second, heartbeat stream messages included. */
  rpcPerSecond: number;
  stepsPerSecond: number;
  samplesPerSecond: number;
  checkpointBytesPerSecond: number;
  /** Null before the first release. */
  barrierP50Ms: number | null;
  barrierP99Ms: number | null;
  /** Mean handling time of shard assignment RPCs over the window (all time when none in it); 0 before any. */
  shardAssignmentMs: number;
}

/**
 * Turns the engine's counters, the Prometheus metrics and the trackers into rates, once a
 * second: heartbeats/s and RPCs/s from cumulative counters, steps/s from the workers' step
 * rates, checkpoint bytes/s from recorded sizes, barrier percentiles from release waits.
 */
export class ClusterStats {
  readonly #heartbeats = new RateWindow(RATE_WINDOW_MS);
  readonly #rpcs = new RateWindow(RATE_WINDOW_MS);
  readonly #samples = new RateWindow(RATE_WINDOW_MS);
  readonly #checkpointBytes = new RateWindow(CHECKPOINT_WINDOW_MS);
  readonly #shardSeconds = new RateWindow(RATE_WINDOW_MS);
  readonly #shardCalls = new RateWindow(RATE_WINDOW_MS);
  #shardTotals = { seconds: 0, calls: 0 };
  #last: ClusterFigures;

  constructor(
    private readonly metrics: CoordinatorMetrics,
    private readonly rates: WorkerRates,
    private readonly barriers: BarrierTracker,
    private readonly checkpoints: CheckpointTracker,
    nowMs: number,
  ) {
    this.#last = {
      atMs: nowMs,
      liveWorkers: 0,
      deadWorkers: 0,
      activeWorkers: 0,
      totalWorkers: 0,
      heartbeatsPerSecond: 0,
      rpcPerSecond: 0,
      stepsPerSecond: 0,
      samplesPerSecond: 0,
      checkpointBytesPerSecond: 0,
      barrierP50Ms: null,
      barrierP99Ms: null,
      shardAssignmentMs: 0,
    };
  }

  /**
   * Counts one worker of the current pass into `counts` (after `WorkerRates.note` saw it), so the
   * monitor walks the workers once for everything.
   */
  count(w: Pick<WorkerReading, "workerId" | "state" | "status">, counts: WorkerCounts): void {
    counts.total++;
    if (w.status === "left") counts.left++;
    if (!isLiveWorkerState(w.state)) return;
    counts.live++;
    if (ACTIVE.has(w.state)) counts.active++;
    counts.steps += Math.max(0, this.rates.stepRate(w.workerId) ?? 0);
  }

  /** Takes in one snapshot and the pass's worker counts, and returns the new figures. */
  observe(snapshot: EngineSnapshot, counts: WorkerCounts): ClusterFigures {
    const now = snapshot.atMs;
    const { live, active, steps } = counts;
    this.#heartbeats.observe(now, snapshot.counters.heartbeats);
    this.#rpcs.observe(now, this.#rpcTotal());
    this.#samples.observe(now, this.rates.samplesTotal);
    this.#checkpointBytes.observe(now, this.checkpoints.bytesTotal);
    this.#readShardTimes();
    this.#shardSeconds.observe(now, this.#shardTotals.seconds);
    this.#shardCalls.observe(now, this.#shardTotals.calls);
    const recentCalls = this.#shardCalls.delta();
    const shardAssignmentMs =
      recentCalls > 0
        ? (this.#shardSeconds.delta() / recentCalls) * 1_000
        : this.#shardTotals.calls > 0
          ? (this.#shardTotals.seconds / this.#shardTotals.calls) * 1_000
          : 0;
    this.#last = {
      atMs: now,
      liveWorkers: live,
      deadWorkers: counts.total - live - counts.left,
      activeWorkers: active,
      totalWorkers: counts.total,
      heartbeatsPerSecond: this.#heartbeats.perSecond(),
      rpcPerSecond: this.#rpcs.perSecond(),
      stepsPerSecond: steps,
      samplesPerSecond: this.#samples.perSecond(),
      checkpointBytesPerSecond: this.#checkpointBytes.perSecond(),
      barrierP50Ms: this.barriers.waitPercentile(50),
      barrierP99Ms: this.barriers.waitPercentile(99),
      shardAssignmentMs,
    };
    return this.#last;
  }

  /** The figures of the latest `observe`. */
  get last(): ClusterFigures {
    return this.#last;
  }

  /** The figures as one history sample (series names of `/api/history`). */
  static sampleOf(figures: ClusterFigures): Record<HistorySeries, number | null> {
    return {
      workers_alive: figures.liveWorkers,
      workers_dead: figures.deadWorkers,
      steps_per_second: figures.stepsPerSecond,
      samples_per_second: figures.samplesPerSecond,
      checkpoint_bytes_per_second: figures.checkpointBytesPerSecond,
      barrier_p50_ms: figures.barrierP50Ms,
      barrier_p99_ms: figures.barrierP99Ms,
      heartbeats_per_second: figures.heartbeatsPerSecond,
      rpc_per_second: figures.rpcPerSecond,
    };
  }

  /** Every RPC handled (stream heartbeats count at the stream's end) plus every stream heartbeat message. */
  #rpcTotal(): number {
    let total = 0;
    for (const v of this.metrics.rpcs.get().values) total += v.value;
    for (const v of this.metrics.heartbeats.get().values) {
      if (v.labels.transport === "stream") total += v.value;
    }
    return total;
  }

  #readShardTimes(): void {
    let seconds = 0;
    let calls = 0;
    const name = this.metrics.rpcSeconds.name;
    for (const v of this.metrics.rpcSeconds.get().values) {
      if (!SHARD_METHODS.has(String(v.labels.method))) continue;
      if (v.metricName === `${name}_sum`) seconds += v.value;
      else if (v.metricName === `${name}_count`) calls += v.value;
    }
    this.#shardTotals = { seconds, calls };
  }
}
