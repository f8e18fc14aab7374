import { rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Logger, RuntimeError, type SampleRange, sleep } from "@strata/runtime-core";
import { normalizePosition, positionToJson } from "../data-position.js";
import type { EpochSamples, EpochSamplesOptions, Sample } from "../epoch-samples.js";
import { connectWorker, type DatasetHandle, type StrataWorker } from "../strata-worker.js";
import { openWorkerCheckpoints, type WorkerCheckpoints } from "../worker-checkpoints.js";
import type { TaskSpec, WorkerCommand } from "../worker-command.js";
import { LogisticRegression } from "./logistic-regression.js";
import { ensureSyntheticDataset, type SyntheticDataset } from "./synthetic-dataset.js";
import type { WorkerOutput } from "./worker-output.js";

/** Everything `strata-worker` was told (validated by the CLI). */
export interface TrainingConfig {
  workerId: string;
  coordinator: string[];
  authToken?: string;
  tls?: boolean | { caPem: Uint8Array };
  /** Where the generated dataset lives (shared by workers on one machine). */
  dataDir: string;
  /** Checkpoint storage URI or path. */
  storage: string;
  jobId: string;
  datasetId: string;
  samples: number;
  shardSize: number;
  features: number;
  seed: number;
  /** Epochs to train; 0 trains until stopped. */
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Steps per coordinated checkpoint round. */
  checkpointEvery: number;
  /** Extra time per step, in ms (stands in for an accelerator's work). */
  stepDelayMs: number;
  /** `job`: the whole job restarts (restore the data position); `rejoin`: this worker re-joins. */
  resume: "rejoin" | "job";
  /** With `resume: "job"`: how many workers must be live before the resume barrier. */
  minWorkers: number;
  /** Stay idle until a `start_task` command arrives. */
  waitForTask: boolean;
  heartbeatIntervalMs?: number;
  /** A file rewritten every 2 s with the worker's liveness (for container health checks). */
  healthFile?: string;
  /** Log every accepted progress report (`consumed` events). */
  logSamples: boolean;
  barrierTimeoutMs?: number;
}

/** The outcome of a run. */
export type RunOutcome = "finished" | "stopped";

/**
 * Runs one worker until its epochs are done, a `stop` command or `signal` (SIGINT/SIGTERM)
 * ends it. Always deregisters on the way out.
 */
export async function runTraining(
  config: TrainingConfig,
  output: WorkerOutput,
  logger: Logger,
  signal: AbortSignal,
): Promise<RunOutcome> {
  const worker = await connectWorker(
    {
      addresses: config.coordinator,
      workerId: config.workerId,
      authToken: config.authToken,
      tls: config.tls,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      logger,
      metadata: { program: "strata-worker", job: config.jobId },
    },
    { signal },
  );
  const run = new TrainingRun(config, worker, output, signal);
  const stopHealth =
    config.healthFile === undefined ? () => undefined : writeHealth(worker, config.healthFile);
  try {
    return config.waitForTask ? await run.serveTasks() : await run.trainJob();
  } finally {
    stopHealth();
    await worker.close();
  }
}

/**
 * Rewrites `file` every 2 s (atomically) with `{ workerId, pid, state, step, epoch, task,
 * lastHeartbeatMs, writtenAtMs }`. A health check passes while `lastHeartbeatMs` is recent.
 */
function writeHealth(worker: StrataWorker, file: string): () => void {
  const write = async () => {
    const s = worker.status;
    const body = JSON.stringify({
      workerId: worker.workerId,
      pid: process.pid,
      state: s.state,
      step: s.step,
      epoch: s.epoch,
      task: s.task,
      lastHeartbeatMs: worker.lastHeartbeatMs,
      writtenAtMs: Date.now(),
    });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${body}\n`);
    await rename(tmp, file);
  };
  const tick = () => void write().catch(() => undefined);
  tick();
  const timer = setInterval(tick, 2_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    tick();
  };
}

class TrainingRun {
  readonly #c: TrainingConfig;
  readonly #worker: StrataWorker;
  readonly #out: WorkerOutput;
  readonly #signal: AbortSignal;
  #stopRequested = false;
  #checkpointRequested = false;

  constructor(
    config: TrainingConfig,
    worker: StrataWorker,
    output: WorkerOutput,
    signal: AbortSignal,
  ) {
    this.#c = config;
    this.#worker = worker;
    this.#out = output;
    this.#signal = signal;
    worker.on("membership", (e) => output.event("membership", { ...e }));
    worker.on("connectivity", ({ connected }) =>
      output.event(connected ? "reconnected" : "disconnected"),
    );
    worker.on("reregistered", (e) => output.event("reregistered", { ...e }));
    worker.on("command", (command) => this.#onCommand(command));
  }

  #onCommand(command: WorkerCommand): void {
    if (command.type === "stop") this.#stopRequested = true;
    if (command.type === "checkpoint") this.#checkpointRequested = true;
    if (command.type !== "membership_changed") this.#out.event("command", { command: command.raw });
  }

  #stopping(): boolean {
    return this.#stopRequested || this.#signal.aborted;
  }

  async #prepareData(
    datasetId: string,
  ): Promise<{ data: SyntheticDataset; handle: DatasetHandle }> {
    const c = this.#c;
    this.#worker.setStatus({ state: "loading_data" });
    const dir = path.join(c.dataDir, "datasets", c.datasetId);
    const data = await ensureSyntheticDataset(
      dir,
      {
        datasetId: c.datasetId,
        totalSamples: c.samples,
        shardSize: c.shardSize,
        features: c.features,
        seed: c.seed,
      },
      (written, total) => {
        if (written === total || written % 50 === 0)
          this.#out.event("dataset_written", { written, total, dir });
      },
    );
    const handle = await this.#worker.registerDataset(
      {
        datasetId,
        path: dir,
        format: "strata-f32-rows-v1",
        totalSamples: c.samples,
        shardSize: c.shardSize,
        shuffle: true,
        seed: BigInt(c.seed),
      },
      { signal: this.#signal },
    );
    return { data, handle };
  }

  /**
   * With `--log-samples`: a `reporting` line before each progress report and a `consumed` line
   * after the coordinator accepted it (positions per shard, and the step they belong to).
   */
  #ledger(stepRef: () => number): Pick<EpochSamplesOptions, "onReport" | "onReporting"> {
    if (!this.#c.logSamples) return {};
    const line = (
      event: string,
      r: { datasetId: string; epoch: number; shardId: number; ranges: SampleRange[] },
    ) =>
      this.#out.event(event, {
        datasetId: r.datasetId,
        epoch: r.epoch,
        shardId: r.shardId,
        ranges: r.ranges.map((x) => [x.start, x.end]),
        step: stepRef(),
      });
    return { onReporting: (r) => line("reporting", r), onReport: (r) => line("consumed", r) };
  }

  async #trainBatch(
    model: LogisticRegression,
    data: SyntheticDataset,
    batch: Sample[],
  ): Promise<number> {
    const rows: Float32Array[] = [];
    const labels: number[] = [];
    for (const s of batch) {
      const { features, label } = await data.sample(s.index);
      rows.push(features);
      labels.push(label);
    }
    const loss = model.trainStep(rows, labels);
    if (this.#c.stepDelayMs > 0)
      await sleep(this.#c.stepDelayMs, this.#signal).catch(() => undefined);
    return loss;
  }

  /**
   * Data-parallel training where every live worker takes part: each trains its replica on its own
   * shards; every `checkpointEvery` steps all meet in a coordinated checkpoint round.
   */
  async trainJob(): Promise<RunOutcome> {
    const c = this.#c;
    const worker = this.#worker;
    const { data, handle } = await this.#prepareData(c.datasetId);
    const checkpoints = await openWorkerCheckpoints(worker, {
      storage: c.storage,
      jobId: c.jobId,
      stepInterval: c.checkpointEvery,
    });
    try {
      const model = new LogisticRegression(c.features, { learningRate: c.learningRate });
      worker.setStatus({ state: "recovering" });
      const resumed = await checkpoints.resume({
        restoreDataPosition: c.resume === "job",
        datasets: [{ datasetId: c.datasetId, totalShards: handle.totalShards, epoch: 0 }],
        barrierTimeoutMs: c.barrierTimeoutMs,
        minWorldSize: c.minWorkers,
        signal: this.#signal,
      });
      let step = 0;
      let epoch = 0;
      if (resumed !== undefined) {
        model.restore(resumed.buffers, resumed.metadata);
        step = resumed.step;
        const position = resumed.dataPosition?.datasets.find((d) => d.datasetId === c.datasetId);
        epoch = position === undefined ? resumed.epoch : normalizePosition(position).epoch;
        this.#out.event("resumed", {
          step,
          epoch,
          loss: model.lossEma,
          fromWorkerId: resumed.fromWorkerId,
          restored: resumed.restored,
          rank: worker.rank,
          worldSize: worker.worldSize,
        });
      } else {
        this.#out.event("started", {
          rank: worker.rank,
          worldSize: worker.worldSize,
          jobId: c.jobId,
        });
      }
      if (c.resume === "rejoin") epoch = await this.#currentEpoch(handle, epoch);
      // A re-joining worker meets the others at their next checkpoint round before training.
      let needSync = c.resume === "rejoin";
      const ledger = this.#ledger(() => step);
      let epochConsumed = 0;
      outer: while (c.epochs === 0 || epoch < c.epochs) {
        let samples: EpochSamples = worker.samples(handle, epoch, {
          reportEvery: c.batchSize * 8,
          ...ledger,
        });
        let batches = samples.batches(c.batchSize);
        let exhausted = false;
        let roundSteps = 0;
        let localSamples = 0;
        for (;;) {
          if (this.#stopping()) {
            await batches.return?.();
            break outer;
          }
          if (
            needSync ||
            exhausted ||
            this.#checkpointRequested ||
            roundSteps >= c.checkpointEvery
          ) {
            worker.setStatus({ state: "checkpointing" });
            const state = model.state();
            const round = await checkpoints.checkpoint(
              { epoch, buffers: state.buffers, metadata: state.metadata, data: [samples] },
              { signal: this.#signal },
            );
            needSync = false;
            this.#checkpointRequested = false;
            roundSteps = 0;
            localSamples = 0;
            step = round.step;
            const position = round.positions[0];
            epochConsumed = position?.consumedSamples ?? 0;
            worker.setStatus({ state: "training", step, epoch });
            if (round.saved) {
              const savedStep = round.step;
              this.#out.event("checkpoint", {
                step: savedStep,
                epoch,
                part: round.rank,
                parts: round.worldSize,
                loss: model.lossEma,
              });
              round.committed.then(
                ({ ack }) =>
                  this.#out.event("checkpoint_committed", {
                    step: savedStep,
                    complete: ack?.complete ?? null,
                  }),
                (error: unknown) =>
                  this.#out.event("checkpoint_failed", { step: savedStep, error: String(error) }),
              );
            }
            if (position !== undefined && position.epoch > epoch) {
              this.#out.event("epoch_done", { epoch, step, loss: model.lossEma });
              epoch = position.epoch;
              await batches.return?.();
              continue outer;
            }
            if (exhausted) {
              // Nothing left here this epoch, but shards may still move here (a peer died).
              if (!round.saved) await this.#waitForMembershipChange(250);
              await batches.return?.();
              samples = worker.samples(handle, epoch, { reportEvery: c.batchSize * 8, ...ledger });
              batches = samples.batches(c.batchSize);
              exhausted = false;
            }
            continue;
          }
          const next = await batches.next();
          if (next.done) {
            exhausted = true;
            continue;
          }
          const loss = await this.#trainBatch(model, data, next.value);
          step++;
          roundSteps++;
          localSamples += next.value.length;
          worker.setStatus({ state: "training", step, epoch });
          this.#out.progress({
            epoch,
            step,
            loss: model.lossEma,
            epochSamples: epochConsumed + localSamples * Math.max(1, worker.worldSize),
            epochTotal: c.samples,
            batchLoss: loss,
          });
        }
      }
      // Every save is committed and recorded before the run says it is over.
      await checkpoints.flush();
      const finished = !this.#stopping();
      worker.setStatus({ state: "idle", step });
      this.#out.event(finished ? "done" : "stopped", { step, epoch, loss: model.lossEma });
      return finished ? "finished" : "stopped";
    } finally {
      await checkpoints.close();
    }
  }

  /** A re-joining worker's epoch: the first one the coordinator does not have complete. */
  async #currentEpoch(handle: DatasetHandle, from: number): Promise<number> {
    let epoch = from;
    for (;;) {
      const position = normalizePosition(
        positionToJson(
          await this.#worker.dataPosition(handle.spec.datasetId, epoch, { signal: this.#signal }),
        ),
      );
      if (position.epoch === epoch) return epoch;
      epoch = position.epoch;
    }
  }

  #waitForMembershipChange(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#worker.off("membership", done);
        resolve();
      };
      const timer = setTimeout(done, maxMs);
      this.#worker.on("membership", done);
    });
  }

  /**
   * Task mode: reports IDLE until a `start_task` command arrives, trains that task (reporting
   * it as `current_task`), and stops it on `stop_task`, `stop` or its `total_steps`; then IDLE
   * with the task id (finished) or ERROR with the task id (failed). A `stop` ends the process.
   */
  async serveTasks(): Promise<RunOutcome> {
    const worker = this.#worker;
    worker.setStatus({ state: "idle", task: "" });
    this.#out.event("waiting_for_task", { rank: worker.rank, worldSize: worker.worldSize });
    const commands = worker.commands({ signal: this.#signal });
    const queued: TaskSpec[] = [];
    let stopTask: string | undefined;
    worker.on("command", (command) => {
      if (command.type === "stop_task") stopTask = command.taskId;
    });
    for (;;) {
      const task = queued.shift() ?? (await this.#nextTask(commands));
      if (task === undefined || this.#stopping()) break;
      stopTask = undefined;
      try {
        const steps = await this.#runTask(
          task,
          () => stopTask === task.task_id || this.#stopping(),
        );
        worker.setStatus({ state: "idle", task: task.task_id, step: steps });
        this.#out.event("task_done", {
          taskId: task.task_id,
          step: steps,
          stopped: stopTask === task.task_id,
        });
      } catch (thrown) {
        const error = RuntimeError.from(thrown);
        if (this.#signal.aborted) break;
        worker.setStatus({ state: "error", task: task.task_id });
        this.#out.event("task_failed", { taskId: task.task_id, error: error.message });
      }
      if (this.#stopping()) break;
    }
    await commands.return?.();
    this.#out.event("stopped", {});
    return "stopped";
  }

  async #nextTask(commands: AsyncIterator<WorkerCommand>): Promise<TaskSpec | undefined> {
    for (;;) {
      const next = await commands.next();
      if (next.done) return undefined;
      if (next.value.type === "stop") return undefined;
      if (next.value.type === "start_task") return next.value.task;
    }
  }

  async #runTask(task: TaskSpec, shouldStop: () => boolean): Promise<number> {
    const c = this.#c;
    const worker = this.#worker;
    const totalSteps = positiveIntOr(task.config.total_steps, undefined);
    // Without total_steps or epochs a task runs the worker's --epochs (at least one).
    const epochs =
      positiveIntOr(task.config.epochs, undefined) ??
      (totalSteps === undefined ? Math.max(1, c.epochs) : 0);
    const datasetId = task.dataset_id !== "" ? task.dataset_id : c.datasetId;
    this.#out.event("task_started", {
      taskId: task.task_id,
      name: task.name,
      datasetId,
      totalSteps,
      epochs,
    });
    worker.setStatus({ state: "loading_data", task: task.task_id, step: 0 });
    const { data, handle } = await this.#prepareData(datasetId);
    // Tasks may run on some of the workers only, so they checkpoint on their own (no barriers).
    const checkpoints: WorkerCheckpoints = await openWorkerCheckpoints(worker, {
      storage: c.storage,
      jobId: `${sanitizeJobId(task.task_id)}.${sanitizeJobId(worker.workerId)}`,
      stepInterval: c.checkpointEvery,
    });
    try {
      const model = new LogisticRegression(c.features, { learningRate: c.learningRate });
      const resumed = await checkpoints.resume({ signal: this.#signal });
      let step = 0;
      let epoch = 0;
      if (resumed !== undefined) {
        model.restore(resumed.buffers, resumed.metadata);
        step = resumed.step;
        epoch = resumed.epoch;
      }
      worker.setStatus({ state: "training", task: task.task_id, step, epoch });
      const ledger = this.#ledger(() => step);
      while (epochs === 0 || epoch < epochs) {
        const samples = worker.samples(handle, epoch, { reportEvery: c.batchSize * 8, ...ledger });
        for await (const batch of samples.batches(c.batchSize)) {
          const loss = await this.#trainBatch(model, data, batch);
          step++;
          worker.setStatus({ state: "training", task: task.task_id, step, epoch });
          this.#out.progress({
            epoch,
            step,
            loss: model.lossEma,
            epochSamples: samples.deliveredSamples,
            epochTotal: c.samples,
            batchLoss: loss,
          });
          const done = shouldStop() || (totalSteps !== undefined && step >= totalSteps);
          if (done || step % c.checkpointEvery === 0) {
            await samples.flush({ signal: this.#signal });
            const state = model.state();
            const saved = await checkpoints.save({
              step,
              epoch,
              buffers: state.buffers,
              metadata: state.metadata,
            });
            this.#out.event("checkpoint", {
              step,
              epoch,
              taskId: task.task_id,
              loss: model.lossEma,
            });
            await saved.committed.catch(() => undefined);
          }
          if (done) return step;
        }
        epoch++;
      }
      return step;
    } finally {
      await checkpoints.close();
    }
  }
}

function positiveIntOr(value: unknown, fallback: number | undefined): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

/** A task or worker id as a checkpoint job id (`A-Z a-z 0-9 . _ -`, starting with a letter or digit). */
export function sanitizeJobId(id: string): string {
  const cleaned = id.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[^A-Za-z0-9]+/, "");
  return cleaned === "" ? "job" : cleaned.slice(0, 60);
}
