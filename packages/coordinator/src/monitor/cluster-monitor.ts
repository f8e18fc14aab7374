import {
  type Clock,
  isLiveWorkerState,
  type Logger,
  systemClock,
  type TimerHandle,
} from "@strata/runtime-core";
import type { StreamTick, WorkerTick } from "../api/events.js";
import type { CoordinatorEngine, WorkerReading } from "../engine/types.js";
import type { History } from "../history/history.js";
import type { CoordinatorMetrics } from "../metrics/coordinator-metrics.js";
import type { TaskManager } from "../tasks/task-manager.js";
import { BarrierTracker } from "./barrier-tracker.js";
import { CheckpointTracker } from "./checkpoint-tracker.js";
import { ClusterStats, type WorkerCounts } from "./cluster-stats.js";
import { WorkerRates } from "./worker-rates.js";
import { WorkerSampler } from "./worker-sampler.js";

/** Options for {@link ClusterMonitor}. */
export interface ClusterMonitorOptions {
  engine: CoordinatorEngine;
  history: History;
  metrics: CoordinatorMetrics;
  tasks: TaskManager;
  clock?: Clock;
  logger: Logger;
  /** Sampling interval in ms. Default 1,000 (the history's resolution). */
  intervalMs?: number;
  /** Receives every tick, after its sample was written to history. */
  onTick: (tick: StreamTick) => void;
  /**
   * Whether anyone listens to ticks (an event-stream client): the changed workers are only worked
   * out then. Default: always.
   */
  wantsTicks?: () => boolean;
}

/**
 * The coordinator's once-a-second loop over the engine: derives worker step rates and cluster
 * rates, reconciles tasks with what workers report, warns (as `log` events) about workers whose
 * heartbeats are late, records a metric sample in history (and every 10 s a sample of each live
 * worker), flushes history, and publishes the tick (the sample plus the workers whose live
 * values changed) to the event stream.
 */
export class ClusterMonitor {
  readonly rates = new WorkerRates();
  readonly barriers = new BarrierTracker();
  readonly checkpoints = new CheckpointTracker();
  readonly stats: ClusterStats;
  readonly #sampler: WorkerSampler;
  readonly #o: ClusterMonitorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #startedAtMs: number;
  readonly #previous = new Map<string, WorkerTick>();
  /** Workers already warned about for the current silence, with the incarnation warned about. */
  readonly #late = new Map<string, number>();
  readonly #unsubscribe: () => void;
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(options: ClusterMonitorOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger.child({ component: "monitor" });
    this.#startedAtMs = this.#clock.now();
    this.#sampler = new WorkerSampler(this.#startedAtMs);
    this.stats = new ClusterStats(
      options.metrics,
      this.rates,
      this.barriers,
      this.checkpoints,
      this.#startedAtMs,
    );
    // What happened before this process: finished barrier generations and checkpoint parts.
    // (Arrivals of unfinished generations are not replayed: a restart ends those generations.)
    for (const event of options.history
      .query({ types: ["barrier_released", "barrier_aborted"], limit: 5_000 })
      .reverse()) {
      this.barriers.observe(event);
    }
    for (const event of options.history
      .query({ types: ["checkpoint_recorded", "checkpoint_completed"], limit: 20_000 })
      .reverse()) {
      this.checkpoints.observe(event, false);
    }
    this.#unsubscribe = options.history.subscribe((event) => {
      this.barriers.observe(event);
      this.checkpoints.observe(event, true);
    });
  }

  /** Starts the loop (the first tick runs at once). */
  start(): void {
    this.tick();
  }

  /** Stops the loop. Idempotent. */
  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
  }

  /** One pass of the loop (also what tests and the bench call directly). */
  tick(): void {
    if (this.#stopped) return;
    try {
      this.#tick();
    } catch (error) {
      this.#log.error({ err: error }, "monitor tick failed");
    }
    this.#timer = this.#clock.setTimeout(() => this.tick(), this.#o.intervalMs ?? 1_000, {
      unref: true,
    });
  }

  #tick(): void {
    const { engine, history } = this.#o;
    // Counters, barriers, datasets and checkpoints; the workers are walked once, without copies.
    const snapshot = engine.snapshot({ workers: false });
    const now = snapshot.atMs;
    const timeoutMs = snapshot.heartbeatTimeoutMs;
    this.barriers.noteOpen(snapshot.barriers);
    const counts: WorkerCounts = { total: 0, live: 0, left: 0, active: 0, steps: 0 };
    const changed: WorkerTick[] = [];
    const wantTicks = this.#o.wantsTicks?.() ?? true;
    this.rates.begin();
    const sampling = this.#sampler.begin(now);
    engine.forEachWorker((w) => {
      this.rates.note(w);
      this.stats.count(w, counts);
      this.#warnLate(w, now, timeoutMs);
      if (sampling) this.#sampler.note(w, this.rates.stepRate(w.workerId));
      if (wantTicks) this.#noteChange(w, changed);
    });
    this.rates.end();
    const workerSamples = this.#sampler.end();
    if (this.#previous.size > counts.total) this.#forgetGone();
    if (this.#late.size > counts.total) this.#forgetLate();
    const figures = this.stats.observe(snapshot, counts);
    if (engine.ready && this.#o.tasks.unfinished > 0) {
      // Only while a task is unfinished: it needs the workers' reports, copied once.
      this.#o.tasks
        .reconcile(engine.snapshot())
        .catch((error: unknown) => this.#log.warn({ err: error }, "task reconcile failed"));
    }
    const sample = ClusterStats.sampleOf(figures);
    history.addSample({ atMs: now, values: sample });
    if (workerSamples !== undefined) history.addWorkerSamples(workerSamples);
    history.flush();
    this.#o.onTick({ at: now, sample, workers: changed });
  }

  /** Adds `w` to `changed` when its live values differ from the last tick's. */
  #noteChange(w: WorkerReading, changed: WorkerTick[]): void {
    const before = this.#previous.get(w.workerId);
    const stepRate = this.rates.stepRate(w.workerId);
    const alive = isLiveWorkerState(w.state);
    const cpu = w.resources?.cpuPercent ?? null;
    const memory = w.resources?.memoryUsedBytes ?? null;
    if (
      before !== undefined &&
      before.state === w.state &&
      before.alive === alive &&
      before.last_heartbeat === w.lastHeartbeatMs &&
      before.current_step === w.currentStep &&
      before.current_epoch === w.currentEpoch &&
      before.current_task === w.currentTask &&
      before.step_rate === stepRate &&
      before.samples_consumed === w.samplesConsumed &&
      before.cpu_percent === cpu &&
      before.memory_used_bytes === memory
    ) {
      return;
    }
    const tick: WorkerTick = {
      id: w.workerId,
      state: w.state,
      alive,
      last_heartbeat: w.lastHeartbeatMs,
      current_step: w.currentStep,
      current_epoch: w.currentEpoch,
      current_task: w.currentTask,
      step_rate: stepRate,
      samples_consumed: w.samplesConsumed,
      cpu_percent: cpu,
      memory_used_bytes: memory,
    };
    changed.push(tick);
    this.#previous.set(w.workerId, tick);
  }

  #forgetGone(): void {
    const known = new Set<string>();
    this.#o.engine.forEachWorker((w) => known.add(w.workerId));
    for (const id of this.#previous.keys()) if (!known.has(id)) this.#previous.delete(id);
  }

  #forgetLate(): void {
    const known = new Set<string>();
    this.#o.engine.forEachWorker((w) => known.add(w.workerId));
    for (const id of this.#late.keys()) if (!known.has(id)) this.#late.delete(id);
  }

  /** One `log` warning per silence longer than half the heartbeat timeout. */
  #warnLate(w: WorkerReading, nowMs: number, timeoutMs: number): void {
    const ageMs = nowMs - w.lastHeartbeatMs;
    const late =
      isLiveWorkerState(w.state) &&
      ageMs > timeoutMs / 2 &&
      // Workers restored after a restart have not heartbeated to this process yet.
      w.lastHeartbeatMs >= this.#startedAtMs;
    if (!late) {
      if (this.#late.size > 0) this.#late.delete(w.workerId);
      return;
    }
    if (this.#late.get(w.workerId) === w.incarnation) return;
    this.#late.set(w.workerId, w.incarnation);
    this.#o.history.append({
      type: "log",
      at: nowMs,
      level: "warn",
      message: `worker ${w.workerId} heartbeat delayed: silent for ${ageMs} ms (declared dead after ${timeoutMs} ms)`,
      source: "heartbeat",
      worker_id: w.workerId,
      task_id: this.#o.tasks.taskOfWorker(w.workerId),
      dataset_id: null,
      barrier_id: null,
      job_id: null,
      data: { silent_for_ms: ageMs, heartbeat_timeout_ms: timeoutMs },
    });
  }
}
