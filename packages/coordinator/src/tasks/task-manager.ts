import { randomBytes } from "node:crypto";
import {
  type Clock,
  Code,
  isLiveWorkerState,
  type Logger,
  RuntimeError,
  systemClock,
} from "@strata/runtime-core";
import type { ApiEvent, EventLevel } from "../api/events.js";
import type { CreateTaskRequest, TaskResponse } from "../api/tasks.js";
import type { CoordinatorEngine, EngineSnapshot, WorkerView } from "../engine/types.js";
import type { History } from "../history/history.js";
import { eventToLogLine } from "../views/engine-event-to-api.js";
import { deriveTaskStatus } from "./derive-task-status.js";
import {
  type StoredTask,
  storedTaskSchema,
  TASK_RECORD_KIND,
  TERMINAL_TASK_STATUSES,
  toTaskResponse,
} from "./stored-task.js";

/** Log lines shown on a task (`TaskResponse.logs`). */
const TASK_LOG_LINES = 100;

/** Options for {@link TaskManager}. */
export interface TaskManagerOptions {
  engine: CoordinatorEngine;
  history: History;
  clock?: Clock;
  logger: Logger;
  /** Most tasks kept; the oldest finished ones are forgotten first. Default 1,000. */
  maxTasks?: number;
}

/**
 * Tasks are real jobs. Creating one records its spec (an engine record, durable before anything
 * else happens), then hands `start_task:{json}` to idle live workers through their heartbeats'
 * `pending_commands`; stopping records the stop, then sends `stop_task:{json}` the same way
 * (formats in proto/README.md). Status and progress come from what the workers report
 * ({@link deriveTaskStatus}), reconciled once a second; a task's log is its real events.
 * Every change is written before it is acted on, and after a restart start (or stop) commands
 * are sent again to workers that have not acted on them yet.
 */
export class TaskManager {
  readonly #engine: CoordinatorEngine;
  readonly #history: History;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #maxTasks: number;
  readonly #tasks = new Map<string, StoredTask>();
  /** Recent log lines per task, filled from history on first use and kept up to date. */
  readonly #logLines = new Map<string, string[]>();
  /** The non-final task each worker was given. */
  readonly #taskOfWorker = new Map<string, string>();
  #chain: Promise<unknown> = Promise.resolve();

  constructor(options: TaskManagerOptions) {
    this.#engine = options.engine;
    this.#history = options.history;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger.child({ component: "tasks" });
    this.#maxTasks = options.maxTasks ?? 1_000;
    this.#history.subscribe((event) => {
      if (event.task_id === null) return;
      const lines = this.#logLines.get(event.task_id);
      if (lines === undefined) return;
      lines.push(eventToLogLine(event));
      if (lines.length > TASK_LOG_LINES) lines.shift();
    });
  }

  /**
   * Loads the stored tasks (after the engine started) and sends start commands again for tasks
   * still waiting on workers, stop commands for tasks still stopping: queued commands do not
   * survive a coordinator restart.
   */
  load(): void {
    for (const record of this.#engine.records(TASK_RECORD_KIND)) {
      let task: StoredTask;
      try {
        task = storedTaskSchema.parse(JSON.parse(record.json));
      } catch (error) {
        this.#log.warn(
          { err: error, taskId: record.id },
          "skipping a task record that does not parse",
        );
        continue;
      }
      this.#tasks.set(task.id, task);
      this.#index(task);
    }
    const live = new Set(this.#engine.membership().workers.map((w) => w.workerId));
    for (const task of this.#tasks.values()) {
      if (TERMINAL_TASK_STATUSES.has(task.status)) continue;
      const targets = task.worker_ids.filter(
        (id) => live.has(id) && (task.status === "stopping" || !task.reported_ids.includes(id)),
      );
      if (targets.length === 0) continue;
      this.#send(task, targets, task.status === "stopping" ? "stop" : "start");
      this.#event(
        task,
        "info",
        `${task.status === "stopping" ? "stop" : "start"} command sent again after a coordinator restart to ${targets.join(", ")}`,
        {
          worker_ids: targets,
        },
      );
    }
  }

  /** How many tasks are not final yet (the monitor reconciles only while there are some). */
  get unfinished(): number {
    let n = 0;
    for (const task of this.#tasks.values()) if (!TERMINAL_TASK_STATUSES.has(task.status)) n++;
    return n;
  }

  /** The non-final task a worker was given, if any (to attribute its events to the task). */
  taskOfWorker(workerId: string): string | null {
    return this.#taskOfWorker.get(workerId) ?? null;
  }

  /** Every task, newest first. */
  list(): TaskResponse[] {
    return [...this.#tasks.values()]
      .sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1))
      .map((task) => toTaskResponse(task, this.#lines(task.id)));
  }

  /** One task; NOT_FOUND when unknown. */
  get(taskId: string): TaskResponse {
    return toTaskResponse(this.#require(taskId), this.#lines(taskId));
  }

  /** The task's events (its log), oldest first, at most `limit`. NOT_FOUND when unknown. */
  logs(taskId: string, limit: number): ApiEvent[] {
    this.#require(taskId);
    return this.#history.query({ taskId, limit }).reverse();
  }

  /**
   * Records a new task and sends its start command to up to `worker_count` idle live workers
   * (more are picked as workers become idle). `dataset_id` must be registered (or empty).
   */
  create(request: CreateTaskRequest): Promise<TaskResponse> {
    return this.#exclusive(async () => {
      const snapshot = this.#engine.snapshot();
      if (
        request.dataset_id !== "" &&
        !snapshot.datasets.some((d) => d.spec.datasetId === request.dataset_id)
      ) {
        throw new RuntimeError(`dataset_id: dataset "${request.dataset_id}" is not registered`, {
          code: Code.InvalidArgument,
          details: { field: "dataset_id" },
        });
      }
      await this.#makeRoom();
      let id: string;
      do id = `task_${randomBytes(4).toString("hex")}`;
      while (this.#tasks.has(id));
      const now = this.#clock.now();
      const picked = this.#idleWorkers(snapshot, request.worker_count);
      const task: StoredTask = {
        v: 1,
        id,
        name: request.name,
        type: request.type,
        dataset_id: request.dataset_id,
        worker_count: request.worker_count,
        config: request.config,
        worker_ids: picked,
        status: "pending",
        created_at: now,
        started_at: null,
        completed_at: null,
        stopped_at: null,
        error: null,
        current_step: 0,
        reported_ids: [],
        finished_ids: [],
      };
      await this.#save(task);
      this.#logLines.set(id, []);
      const waiting = request.worker_count - picked.length;
      this.#event(
        task,
        "info",
        `task ${id} "${task.name}" (${task.type}) created; start sent to ${picked.length === 0 ? "no worker yet" : picked.join(", ")}${waiting > 0 ? `; waiting for ${waiting} more idle worker${waiting === 1 ? "" : "s"}` : ""}`,
        {
          name: task.name,
          task_type: task.type,
          worker_count: task.worker_count,
          worker_ids: picked,
        },
        "task_created",
      );
      this.#send(task, picked, "start");
      return toTaskResponse(task, this.#lines(id));
    });
  }

  /**
   * Records a stop, then sends `stop_task` to the task's live workers. A final task stays as it
   * is (the call still succeeds). NOT_FOUND when unknown.
   */
  stop(taskId: string): Promise<void> {
    return this.#exclusive(async () => {
      const task = this.#require(taskId);
      if (TERMINAL_TASK_STATUSES.has(task.status) || task.status === "stopping") return;
      const from = task.status;
      const next: StoredTask = { ...task, status: "stopping", stopped_at: this.#clock.now() };
      await this.#save(next);
      this.#changed(next, from, "stop requested");
      const live = new Set(this.#engine.membership().workers.map((w) => w.workerId));
      this.#send(
        next,
        next.worker_ids.filter((id) => live.has(id)),
        "stop",
      );
    });
  }

  /**
   * Brings every unfinished task up to date with the workers' reports in `snapshot`: status and
   * progress, and start commands to newly idle workers for tasks that still lack some.
   */
  reconcile(snapshot: EngineSnapshot): Promise<void> {
    return this.#exclusive(async () => {
      const workers = new Map<string, WorkerView>();
      for (const w of snapshot.workers) workers.set(w.workerId, w);
      for (const task of [...this.#tasks.values()]) {
        if (TERMINAL_TASK_STATUSES.has(task.status)) continue;
        const derived = deriveTaskStatus(task, workers);
        let next: StoredTask = {
          ...task,
          status: derived.status,
          reported_ids: derived.reportedIds,
          finished_ids: derived.finishedIds,
          current_step: derived.currentStep,
          error: derived.error,
        };
        if (next.status === "running" && next.started_at === null) next.started_at = snapshot.atMs;
        if (TERMINAL_TASK_STATUSES.has(next.status)) next.completed_at = snapshot.atMs;
        let added: string[] = [];
        if (
          (next.status === "pending" || next.status === "running") &&
          next.worker_ids.length < next.worker_count
        ) {
          added = this.#idleWorkers(snapshot, next.worker_count - next.worker_ids.length);
          if (added.length > 0) next = { ...next, worker_ids: [...next.worker_ids, ...added] };
        }
        const durableChange =
          next.status !== task.status ||
          next.worker_ids.length !== task.worker_ids.length ||
          next.reported_ids.length !== task.reported_ids.length ||
          next.finished_ids.length !== task.finished_ids.length;
        if (!durableChange) {
          // Progress moves every second; it is kept in memory and written with the next change.
          task.current_step = next.current_step;
          continue;
        }
        await this.#save(next);
        if (next.status !== task.status) {
          this.#changed(next, task.status, next.error ?? "reported by its workers");
        }
        if (added.length > 0) {
          this.#event(next, "info", `start sent to ${added.join(", ")} (now idle)`, {
            worker_ids: added,
          });
          this.#send(next, added, "start");
        }
      }
    });
  }

  // ---------------------------------------------------------------- internals

  #require(taskId: string): StoredTask {
    const task = this.#tasks.get(taskId);
    if (task === undefined) {
      throw new RuntimeError(`task "${taskId}" not found`, {
        code: Code.NotFound,
        details: { taskId },
      });
    }
    return task;
  }

  /** Idle live workers not given an unfinished task, by rank, at most `count`. */
  #idleWorkers(snapshot: EngineSnapshot, count: number): string[] {
    const out: string[] = [];
    for (const w of snapshot.workers) {
      if (out.length >= count) break;
      if (!isLiveWorkerState(w.state) || w.state !== "idle") continue;
      if (this.#taskOfWorker.has(w.workerId)) continue;
      out.push(w.workerId);
    }
    return out;
  }

  /** Writes the task (durable), then makes it the current state. */
  async #save(task: StoredTask): Promise<void> {
    await this.#engine.putRecord(TASK_RECORD_KIND, task.id, JSON.stringify(task));
    const previous = this.#tasks.get(task.id);
    if (previous !== undefined) this.#unindex(previous);
    this.#tasks.set(task.id, task);
    this.#index(task);
  }

  #index(task: StoredTask): void {
    if (TERMINAL_TASK_STATUSES.has(task.status)) return;
    for (const id of task.worker_ids) this.#taskOfWorker.set(id, task.id);
  }

  #unindex(task: StoredTask): void {
    for (const id of task.worker_ids) {
      if (this.#taskOfWorker.get(id) === task.id) this.#taskOfWorker.delete(id);
    }
  }

  /** Forgets the oldest final tasks beyond `maxTasks - 1`; RESOURCE_EXHAUSTED when all are unfinished. */
  async #makeRoom(): Promise<void> {
    if (this.#tasks.size < this.#maxTasks) return;
    const finals = [...this.#tasks.values()]
      .filter((t) => TERMINAL_TASK_STATUSES.has(t.status))
      .sort((a, b) => a.created_at - b.created_at);
    const excess = this.#tasks.size - this.#maxTasks + 1;
    if (finals.length < excess) {
      throw new RuntimeError(`too many unfinished tasks (${this.#maxTasks}); stop some first`, {
        code: Code.ResourceExhausted,
        details: { maxTasks: this.#maxTasks },
      });
    }
    for (const task of finals.slice(0, excess)) {
      await this.#engine.deleteRecord(TASK_RECORD_KIND, task.id);
      this.#tasks.delete(task.id);
      this.#logLines.delete(task.id);
    }
  }

  #send(task: StoredTask, workerIds: readonly string[], kind: "start" | "stop"): void {
    const command =
      kind === "start"
        ? `start_task:${JSON.stringify({
            task_id: task.id,
            name: task.name,
            type: task.type,
            dataset_id: task.dataset_id,
            worker_ids: task.worker_ids,
            config: task.config,
          })}`
        : `stop_task:${JSON.stringify({ task_id: task.id })}`;
    for (const workerId of workerIds) {
      try {
        this.#engine.queueCommand(workerId, command);
      } catch (error) {
        // The worker died or left since it was picked; the status derivation sees that.
        this.#event(
          task,
          "warn",
          `${kind} command not delivered to ${workerId}: ${RuntimeError.from(error).rawMessage}`,
          {
            worker_id: workerId,
          },
        );
      }
    }
  }

  #changed(task: StoredTask, from: StoredTask["status"], reason: string): void {
    const level: EventLevel = task.status === "failed" ? "error" : "info";
    this.#event(
      task,
      level,
      `task ${task.id} "${task.name}": ${from} → ${task.status} (${reason})`,
      { from, to: task.status, reason, progress: toTaskResponse(task, []).progress },
      "task_status_changed",
    );
  }

  #event(
    task: StoredTask,
    level: EventLevel,
    message: string,
    data: Record<string, unknown>,
    type: "task_created" | "task_status_changed" | "log" = "log",
  ): void {
    this.#history.append({
      type,
      at: this.#clock.now(),
      level,
      message,
      source: "tasks",
      worker_id: typeof data.worker_id === "string" ? data.worker_id : null,
      task_id: task.id,
      dataset_id: task.dataset_id === "" ? null : task.dataset_id,
      barrier_id: null,
      job_id: null,
      data,
    });
  }

  #lines(taskId: string): string[] {
    let lines = this.#logLines.get(taskId);
    if (lines === undefined) {
      lines = this.#history.query({ taskId, limit: TASK_LOG_LINES }).reverse().map(eventToLogLine);
      this.#logLines.set(taskId, lines);
    }
    return lines;
  }

  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(work, work);
    this.#chain = run.catch(() => undefined);
    return run;
  }
}
