import {
  type Clock,
  isLiveWorkerState,
  type Logger,
  systemClock,
  type TimerHandle,
} from "@strata/runtime-core";
import type { StreamTick, WorkerTick } from "../api/events.js";
import type { CoordinatorEngine, WorkerView } from "../engine/types.js";
import type { History } from "../history/history.js";
import type { CoordinatorMetrics } from "../metrics/coordinator-metrics.js";
import type { TaskManager } from "../tasks/task-manager.js";
import { BarrierTracker } from "./barrier-tracker.js";
import { CheckpointTracker } from "./checkpoint-tracker.js";
import { ClusterStats } from "./cluster-stats.js";
import { WorkerRates } from "./worker-rates.js";

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
}

/**
 * The coordinator's once-a-second loop over the engine: derives worker step rates and cluster
 * rates, reconciles tasks with what workers report, warns (as `log` events) about workers whose
 * heartbeats are late, records a metric sample in history, flushes history, and publishes the
 * tick (the sample plus the workers whose live values changed) to the event stream.
 */
export class ClusterMonitor {
  readonly rates = new WorkerRates();
  readonly barriers = new BarrierTracker();
  readonly checkpoints = new CheckpointTracker();
  readonly stats: ClusterStats;
  readonly #o: ClusterMonitorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #startedAtMs: number;
  readonly #previous = new Map<string, WorkerTick>();
  /** Workers (id and incarnation) already warned about for the current silence. */
  readonly #late = new Set<string>();
  readonly #unsubscribe: () => void;
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(options: ClusterMonitorOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger.child({ component: "monitor" });
    this.#startedAtMs = this.#clock.now();
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
    const snapshot = engine.snapshot();
    this.barriers.noteOpen(snapshot.barriers);
    this.rates.observe(snapshot.workers);
    const figures = this.stats.observe(snapshot);
    if (engine.ready) {
      this.#o.tasks
        .reconcile(snapshot)
        .catch((error: unknown) => this.#log.warn({ err: error }, "task reconcile failed"));
    }
    this.#warnLate(snapshot.workers, snapshot.atMs, snapshot.heartbeatTimeoutMs);
    const sample = ClusterStats.sampleOf(figures);
    history.addSample({ atMs: snapshot.atMs, values: sample });
    history.flush();
    this.#o.onTick({ at: snapshot.atMs, sample, workers: this.#changedWorkers(snapshot.workers) });
  }

  #changedWorkers(workers: readonly WorkerView[]): WorkerTick[] {
    const changed: WorkerTick[] = [];
    const seen = new Set<string>();
    for (const w of workers) {
      seen.add(w.workerId);
      const tick: WorkerTick = {
        id: w.workerId,
        state: w.state,
        alive: isLiveWorkerState(w.state),
        last_heartbeat: w.lastHeartbeatMs,
        current_step: w.currentStep,
        current_epoch: w.currentEpoch,
        current_task: w.currentTask,
        step_rate: this.rates.stepRate(w.workerId),
        samples_consumed: w.samplesConsumed,
        cpu_percent: w.resources?.cpuPercent ?? null,
        memory_used_bytes: w.resources?.memoryUsedBytes ?? null,
      };
      const before = this.#previous.get(w.workerId);
      if (before === undefined || !sameTick(before, tick)) {
        changed.push(tick);
        this.#previous.set(w.workerId, tick);
      }
    }
    for (const id of this.#previous.keys()) if (!seen.has(id)) this.#previous.delete(id);
    return changed;
  }

  /** One `log` warning per silence longer than half the heartbeat timeout. */
  #warnLate(workers: readonly WorkerView[], nowMs: number, timeoutMs: number): void {
    for (const w of workers) {
      const key = `${w.workerId}\u0000${w.incarnation}`;
      const ageMs = nowMs - w.lastHeartbeatMs;
      const late =
        isLiveWorkerState(w.state) &&
        ageMs > timeoutMs / 2 &&
        // Workers restored after a restart have not heartbeated to this process yet.
        w.lastHeartbeatMs >= this.#startedAtMs;
      if (!late) {
        this.#late.delete(key);
        continue;
      }
      if (this.#late.has(key)) continue;
      this.#late.add(key);
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
    if (this.#late.size > 100_000) this.#late.clear();
  }
}

function sameTick(a: WorkerTick, b: WorkerTick): boolean {
  return (
    a.state === b.state &&
    a.alive === b.alive &&
    a.last_heartbeat === b.last_heartbeat &&
    a.current_step === b.current_step &&
    a.current_epoch === b.current_epoch &&
    a.current_task === b.current_task &&
    a.step_rate === b.step_rate &&
    a.samples_consumed === b.samples_consumed &&
    a.cpu_percent === b.cpu_percent &&
    a.memory_used_bytes === b.memory_used_bytes
  );
}
