import type { CreateTaskRequest, JsonValue } from "@strata/coordinator/api";

/** What the new-task form holds, as typed. */
export interface TaskFormValues {
  name: string;
  type: string;
  datasetId: string;
  workerCount: string;
  totalSteps: string;
  /** Extra config as a JSON object text; empty for none. */
  config: string;
}

/** The form's fields, for error messages. */
export type TaskFormField = keyof TaskFormValues;

/** Outcome of {@link validateTaskForm}: the request to send, or a message per bad field. */
export type TaskFormResult =
  | { ok: true; request: CreateTaskRequest }
  | { ok: false; errors: Partial<Record<TaskFormField, string>> };

/**
 * Checks the new-task form the way `POST /api/tasks` will (name 1–128 characters, type 1–64,
 * worker count a whole number from 1, config a JSON object) and builds the request; every message
 * names its field. `total_steps`, when given, goes into `config.total_steps` so progress is
 * measurable.
 */
export function validateTaskForm(values: TaskFormValues): TaskFormResult {
  const errors: Partial<Record<TaskFormField, string>> = {};
  const name = values.name.trim();
  if (name === "") errors.name = "Name: required";
  else if (name.length > 128) errors.name = "Name: at most 128 characters";
  const type = values.type.trim();
  if (type === "") errors.type = "Type: required";
  else if (type.length > 64) errors.type = "Type: at most 64 characters";
  const workerCount = Number(values.workerCount);
  if (
    !/^\d+$/.test(values.workerCount.trim()) ||
    !Number.isSafeInteger(workerCount) ||
    workerCount < 1
  ) {
    errors.workerCount = "Workers: a whole number, at least 1";
  }
  let config: Record<string, JsonValue> = {};
  if (values.config.trim() !== "") {
    try {
      const parsed: unknown = JSON.parse(values.config);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        errors.config = 'Config: must be a JSON object, like {"lr": 0.001}';
      } else {
        config = parsed as Record<string, JsonValue>;
      }
    } catch (error) {
      errors.config = `Config: not valid JSON (${(error as Error).message})`;
    }
  }
  if (values.totalSteps.trim() !== "") {
    const steps = Number(values.totalSteps);
    if (!/^\d+$/.test(values.totalSteps.trim()) || !Number.isSafeInteger(steps) || steps < 1) {
      errors.totalSteps = "Total steps: a whole number, at least 1 (or empty)";
    } else {
      config = { ...config, total_steps: steps };
    }
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    request: { name, type, dataset_id: values.datasetId, worker_count: workerCount, config },
  };
}

/** Maps an API validation error's `field` to the form field showing it. */
export function formFieldOf(apiField: string | null): TaskFormField | null {
  switch (apiField) {
    case "name":
      return "name";
    case "type":
      return "type";
    case "dataset_id":
      return "datasetId";
    case "worker_count":
      return "workerCount";
    case "config":
    case "config.total_steps":
      return apiField === "config" ? "config" : "totalSteps";
    default:
      return null;
  }
}
