import { z } from "zod";
import { count, epochMs } from "./common.js";

/** A JSON value (the task `config` is free-form JSON). */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };
const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValue),
    z.record(z.string(), jsonValue),
  ]),
);

/**
 * `POST /api/tasks` body (the original's `CreateTaskRequest`, every field required as there).
 * The task becomes a job handed to `worker_count` idle live workers through heartbeat
 * `pending_commands` (`start_task:{...}`, see proto/README.md). `config` is passed through to the
 * workers; `config.total_steps` (a positive integer), when given, makes `progress` measurable.
 */
export const createTaskRequestSchema = z.object({
  name: z.string().min(1).max(128),
  type: z.string().min(1).max(64),
  /** A registered dataset id, or "" for none. */
  dataset_id: z.string().max(128),
  worker_count: z.number().int().min(1).max(1_000_000),
  config: z.record(z.string(), jsonValue),
});
/** `POST /api/tasks` body. */
export type CreateTaskRequest = z.infer<typeof createTaskRequestSchema>;

/** `POST /api/tasks` answer (201). */
export const createTaskResponseSchema = z.object({ task_id: z.string() });
/** `POST /api/tasks` answer. */
export type CreateTaskResponse = z.infer<typeof createTaskResponseSchema>;

/** `POST /api/tasks/:id/stop` answer: `success` is true once the stop was recorded (404 for an unknown task). */
export const stopTaskResponseSchema = z.object({ success: z.boolean() });
/** `POST /api/tasks/:id/stop` answer. */
export type StopTaskResponse = z.infer<typeof stopTaskResponseSchema>;

/**
 * A task's life cycle. `pending`: recorded, start commands queued, no worker has reported it yet
 * (or not enough idle workers were free). `running`: a worker reports it. `stopping`: stop sent,
 * workers still report it. `completed`: every worker reported it finished (IDLE with the task id)
 * or reached `config.total_steps`. `stopped`: stopped by a user. `failed`: a worker reported ERROR
 * with the task id, or every worker of it died.
 */
export const taskStatusSchema = z.enum([
  "pending",
  "running",
  "stopping",
  "completed",
  "stopped",
  "failed",
]);
/** A task's life-cycle status. */
export type TaskStatus = z.infer<typeof taskStatusSchema>;

/** A task (the original's `TaskResponse`, every value real, plus additive fields). */
export const taskResponseSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  status: taskStatusSchema,
  /** The workers the start command went to. */
  worker_ids: z.array(z.string()),
  dataset_id: z.string(),
  /** When the first worker reported it running; `created_at` while pending. */
  started_at: epochMs,
  completed_at: epochMs.nullable(),
  /** 0 to 100: `current_step / total_steps` when the config gives `total_steps`, else 0 until done (100). */
  progress: z.number().int().min(0).max(100),
  /** The task's recent log lines as text, oldest first (at most 100). */
  logs: z.array(z.string()),
  // --- additive ---
  created_at: epochMs,
  stopped_at: epochMs.nullable(),
  worker_count: count,
  config: z.record(z.string(), jsonValue),
  /** The lowest step its running workers report. */
  current_step: count,
  total_steps: count.nullable(),
  /** Why it failed, when it did. */
  error: z.string().nullable(),
});
/** A task. */
export type TaskResponse = z.infer<typeof taskResponseSchema>;

/** `GET /api/tasks`: newest first. */
export const tasksResponseSchema = z.array(taskResponseSchema);
/** `GET /api/tasks`. */
export type TasksResponse = z.infer<typeof tasksResponseSchema>;
