import { z } from "zod";
import { createTaskRequestSchema, type TaskResponse, taskStatusSchema } from "../api/tasks.js";

/**
 * A task as the coordinator keeps it, one engine record of kind {@link TASK_RECORD_KIND} per
 * task (durable, and replicated with the rest of the state). Validated when loaded: a record
 * that does not parse is skipped with a warning, never trusted.
 */
export const storedTaskSchema = z.object({
  v: z.literal(1),
  id: z.string(),
  name: z.string(),
  type: z.string(),
  dataset_id: z.string(),
  worker_count: z.number().int().min(1),
  config: createTaskRequestSchema.shape.config,
  /** The workers the start command went to, in the order they were picked. */
  worker_ids: z.array(z.string()),
  status: taskStatusSchema,
  created_at: z.number().int(),
  started_at: z.number().int().nullable(),
  completed_at: z.number().int().nullable(),
  stopped_at: z.number().int().nullable(),
  error: z.string().nullable(),
  current_step: z.number().int().min(0),
  /** Workers that reported the task at least once (they got the start command). */
  reported_ids: z.array(z.string()),
  /** Workers that finished it (IDLE with the task id, or `total_steps` reached). */
  finished_ids: z.array(z.string()),
});
/** A stored task. */
export type StoredTask = z.infer<typeof storedTaskSchema>;

/** The engine record kind tasks are kept under. */
export const TASK_RECORD_KIND = "task";

/** Statuses a task never leaves. */
export const TERMINAL_TASK_STATUSES: ReadonlySet<StoredTask["status"]> = new Set([
  "completed",
  "stopped",
  "failed",
]);

/** `config.total_steps` when it is a positive integer, else null. */
export function totalStepsOf(task: Pick<StoredTask, "config">): number | null {
  const value = task.config.total_steps;
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : null;
}

/** The API form of a task; `logs` are its recent log lines, oldest first. */
export function toTaskResponse(task: StoredTask, logs: readonly string[]): TaskResponse {
  const totalSteps = totalStepsOf(task);
  const progress =
    task.status === "completed"
      ? 100
      : totalSteps === null
        ? 0
        : Math.min(100, Math.floor((task.current_step / totalSteps) * 100));
  return {
    id: task.id,
    name: task.name,
    type: task.type,
    status: task.status,
    worker_ids: [...task.worker_ids],
    dataset_id: task.dataset_id,
    started_at: task.started_at ?? task.created_at,
    completed_at: task.completed_at,
    progress,
    logs: [...logs],
    created_at: task.created_at,
    stopped_at: task.stopped_at,
    worker_count: task.worker_count,
    config: task.config,
    current_step: task.current_step,
    total_steps: totalSteps,
    error: task.error,
  };
}
