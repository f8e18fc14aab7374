import { isLiveWorkerState, type WorkerState } from "@strata/runtime-core";
import type { WorkerView } from "../engine/types.js";
import { type StoredTask, TERMINAL_TASK_STATUSES, totalStepsOf } from "./stored-task.js";

/** States in which a worker that reports a task is running it. */
const RUNNING: ReadonlySet<WorkerState> = new Set([
  "loading_data",
  "training",
  "checkpointing",
  "recovering",
]);

/** What the workers' reports say about a task now. */
export interface DerivedTask {
  status: StoredTask["status"];
  reportedIds: string[];
  finishedIds: string[];
  /** The lowest step its running workers report (the stored one when none runs). */
  currentStep: number;
  /** Why it failed, when it fails now. */
  error: string | null;
}

/**
 * Derives a task's status from what its workers report in heartbeats (proto/README.md): a worker
 * running it reports `current_task` = the task id in a working state; IDLE with the task id means
 * it finished; ERROR with the task id means it failed.
 *
 * - pending → running when a worker reports it;
 * - pending/running → completed when every worker finished it (or reached `config.total_steps`);
 * - pending/running → failed when a worker reports ERROR, or when none of its workers is alive
 *   and unfinished while some never finished (they died);
 * - stopping → stopped once no worker runs it any more;
 * - completed, stopped and failed are final.
 *
 * Pure: `workers` is the engine snapshot's workers by id.
 */
export function deriveTaskStatus(
  task: StoredTask,
  workers: ReadonlyMap<string, WorkerView>,
): DerivedTask {
  const reported = new Set(task.reported_ids);
  const finished = new Set(task.finished_ids);
  const totalSteps = totalStepsOf(task);
  let running = 0;
  let minStep = Number.POSITIVE_INFINITY;
  let errored: string | undefined;
  const dead: string[] = [];
  let aliveUnfinished = false;
  for (const id of task.worker_ids) {
    const w = workers.get(id);
    const alive = w !== undefined && isLiveWorkerState(w.state);
    if (alive && w.currentTask === task.id) {
      reported.add(id);
      if (w.state === "error") errored ??= id;
      else if (w.state === "idle") finished.add(id);
      else if (RUNNING.has(w.state)) {
        running++;
        minStep = Math.min(minStep, w.currentStep);
        if (totalSteps !== null && w.currentStep >= totalSteps) finished.add(id);
      }
    }
    if (!alive && !finished.has(id)) dead.push(id);
    if (alive && !finished.has(id)) aliveUnfinished = true;
  }
  const currentStep = running > 0 ? minStep : task.current_step;
  const base = {
    reportedIds: [...reported],
    finishedIds: [...finished],
    currentStep,
    error: task.error,
  };
  if (TERMINAL_TASK_STATUSES.has(task.status)) return { ...base, status: task.status };
  if (task.status === "stopping") return { ...base, status: running > 0 ? "stopping" : "stopped" };
  if (errored !== undefined) {
    return { ...base, status: "failed", error: `worker ${errored} reported ERROR` };
  }
  if (task.worker_ids.length > 0 && finished.size >= task.worker_ids.length) {
    return { ...base, status: "completed" };
  }
  if (task.worker_ids.length > 0 && !aliveUnfinished) {
    return {
      ...base,
      status: "failed",
      error: `its workers died before finishing: ${dead.join(", ")}`,
    };
  }
  return { ...base, status: reported.size > 0 ? "running" : "pending" };
}
