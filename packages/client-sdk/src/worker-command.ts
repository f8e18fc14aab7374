/**
 * A `start_task` command: the job a user created with `POST /api/tasks`, handed to this worker.
 * Field names are the wire's (snake_case JSON).
 */
export interface TaskSpec {
  task_id: string;
  name: string;
  type: string;
  /** A registered dataset id, or "" for none. */
  dataset_id: string;
  /** Every worker the task was given to. */
  worker_ids: string[];
  /** The creator's free-form JSON (`total_steps` makes progress measurable). */
  config: Record<string, unknown>;
}

/**
 * A command from the coordinator, delivered once through a heartbeat response's
 * `pending_commands` (formats in proto/README.md). Unknown names arrive as `unknown`, so a newer
 * coordinator's commands never break an older worker.
 */
export type WorkerCommand =
  | { type: "membership_changed"; raw: string }
  | { type: "checkpoint"; raw: string }
  | { type: "stop"; raw: string }
  | { type: "start_task"; task: TaskSpec; raw: string }
  | { type: "stop_task"; taskId: string; raw: string }
  | { type: "unknown"; name: string; payload: unknown; raw: string };

/**
 * Parses one pending command: a name, optionally followed by `:` and a JSON object. A
 * `start_task`/`stop_task` whose JSON is malformed becomes `unknown` (with the raw text), since
 * acting on half a task is worse than ignoring it.
 */
export function parseWorkerCommand(raw: string): WorkerCommand {
  const colon = raw.indexOf(":");
  const name = colon < 0 ? raw : raw.slice(0, colon);
  let payload: unknown;
  if (colon >= 0) {
    try {
      payload = JSON.parse(raw.slice(colon + 1));
    } catch {
      return { type: "unknown", name, payload: raw.slice(colon + 1), raw };
    }
  }
  switch (name) {
    case "membership_changed":
    case "checkpoint":
    case "stop":
      return { type: name, raw };
    case "start_task": {
      const task = asTask(payload);
      return task === undefined
        ? { type: "unknown", name, payload, raw }
        : { type: name, task, raw };
    }
    case "stop_task": {
      const id = isObject(payload) ? payload.task_id : undefined;
      return typeof id === "string" && id !== ""
        ? { type: name, taskId: id, raw }
        : { type: "unknown", name, payload, raw };
    }
    default:
      return { type: "unknown", name, payload, raw };
  }
}

function asTask(value: unknown): TaskSpec | undefined {
  if (!isObject(value)) return undefined;
  const { task_id, name, type, dataset_id, worker_ids, config } = value;
  if (typeof task_id !== "string" || task_id === "") return undefined;
  return {
    task_id,
    name: typeof name === "string" ? name : task_id,
    type: typeof type === "string" ? type : "train",
    dataset_id: typeof dataset_id === "string" ? dataset_id : "",
    worker_ids: Array.isArray(worker_ids)
      ? worker_ids.filter((w): w is string => typeof w === "string")
      : [],
    config: isObject(config) ? config : {},
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
