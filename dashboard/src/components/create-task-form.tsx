import type { CreateTaskResponse } from "@strata/coordinator/api";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { useNavigate } from "react-router";
import { useApi } from "../api/api-context.js";
import { ApiRequestError } from "../api/api-request-error.js";
import { queryKeys } from "../api/query-keys.js";
import { datasetsQuery, workersQuery } from "../api/query-options.js";
import { formatCount } from "../format.js";
import {
  formFieldOf,
  type TaskFormField,
  type TaskFormValues,
  validateTaskForm,
} from "./task-form-validation.js";

const EMPTY: TaskFormValues = {
  name: "",
  type: "train",
  datasetId: "",
  workerCount: "1",
  totalSteps: "",
  config: "",
};

function Field({
  id,
  label,
  error,
  hint,
  children,
}: {
  id: string;
  label: string;
  error: string | undefined;
  hint?: string | undefined;
  children: React.ReactNode;
}) {
  return (
    <div>
      <label htmlFor={id} className="label">
        {label}
      </label>
      {children}
      {error !== undefined ? (
        <p id={`${id}-error`} className="mt-1 text-sm text-red-700 dark:text-red-400">
          {error}
        </p>
      ) : hint !== undefined ? (
        <p id={`${id}-hint`} className="mt-1 text-xs muted">
          {hint}
        </p>
      ) : null}
    </div>
  );
}

/**
 * The new-task form: name, type, dataset, how many workers, total steps (optional, makes progress
 * measurable) and extra config JSON. Validated before sending, with the API's own field errors
 * shown next to the field; on success it opens the task's page to follow it.
 */
export function CreateTaskForm() {
  const api = useApi();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const datasets = useQuery(datasetsQuery(api));
  const workers = useQuery(workersQuery(api));
  const [values, setValues] = useState<TaskFormValues>(EMPTY);
  const [errors, setErrors] = useState<Partial<Record<TaskFormField, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const baseId = useId();
  const idOf = (field: TaskFormField) => `${baseId}-${field}`;
  const idle = workers.data?.filter(
    (w) => w.alive && w.state === "idle" && w.current_task === "",
  ).length;
  const create = useMutation({
    mutationFn: (request: Parameters<typeof api.send>[2]) =>
      api.send<CreateTaskResponse>("POST", "/api/tasks", request),
    onSuccess: async ({ task_id }) => {
      await queryClient.invalidateQueries({ queryKey: queryKeys.tasks.all });
      setValues(EMPTY);
      navigate(`/tasks/${encodeURIComponent(task_id)}`);
    },
    onError: (error) => {
      const field = error instanceof ApiRequestError ? formFieldOf(error.field) : null;
      if (field !== null) setErrors({ [field]: error.message });
      else setFormError(error.message);
    },
  });
  const set = (field: TaskFormField) => (event: { target: { value: string } }) =>
    setValues((v) => ({ ...v, [field]: event.target.value }));
  const described = (field: TaskFormField, hint: boolean) =>
    errors[field] !== undefined ? `${idOf(field)}-error` : hint ? `${idOf(field)}-hint` : undefined;
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    setFormError(null);
    const result = validateTaskForm(values);
    if (!result.ok) {
      setErrors(result.errors);
      return;
    }
    setErrors({});
    create.mutate(result.request);
  };
  return (
    <form className="card space-y-3 p-4" onSubmit={onSubmit} noValidate aria-label="New task">
      <h2 className="text-sm font-semibold">New task</h2>
      <Field id={idOf("name")} label="Name" error={errors.name}>
        <input
          id={idOf("name")}
          className="input"
          value={values.name}
          onChange={set("name")}
          maxLength={200}
          aria-invalid={errors.name !== undefined}
          aria-describedby={described("name", false)}
          placeholder="resnet-50"
        />
      </Field>
      <Field id={idOf("type")} label="Type" error={errors.type} hint="Passed to the workers as is.">
        <input
          id={idOf("type")}
          className="input"
          list={`${baseId}-types`}
          value={values.type}
          onChange={set("type")}
          aria-invalid={errors.type !== undefined}
          aria-describedby={described("type", true)}
        />
        <datalist id={`${baseId}-types`}>
          <option value="train" />
          <option value="image_classification" />
          <option value="object_detection" />
          <option value="nlp_training" />
          <option value="custom" />
        </datalist>
      </Field>
      <Field id={idOf("datasetId")} label="Dataset" error={errors.datasetId}>
        <select
          id={idOf("datasetId")}
          className="input"
          value={values.datasetId}
          onChange={set("datasetId")}
          aria-invalid={errors.datasetId !== undefined}
          aria-describedby={described("datasetId", false)}
        >
          <option value="">None</option>
          {(datasets.data ?? []).map((d) => (
            <option key={d.id} value={d.id}>
              {d.name} ({formatCount(d.total_samples)} samples)
            </option>
          ))}
        </select>
      </Field>
      <div className="grid grid-cols-2 gap-3">
        <Field
          id={idOf("workerCount")}
          label="Workers"
          error={errors.workerCount}
          hint={
            idle === undefined
              ? undefined
              : `${formatCount(idle)} idle now; the task waits for more.`
          }
        >
          <input
            id={idOf("workerCount")}
            className="input"
            inputMode="numeric"
            value={values.workerCount}
            onChange={set("workerCount")}
            aria-invalid={errors.workerCount !== undefined}
            aria-describedby={described("workerCount", idle !== undefined)}
          />
        </Field>
        <Field
          id={idOf("totalSteps")}
          label="Total steps"
          error={errors.totalSteps}
          hint="Optional."
        >
          <input
            id={idOf("totalSteps")}
            className="input"
            inputMode="numeric"
            value={values.totalSteps}
            onChange={set("totalSteps")}
            aria-invalid={errors.totalSteps !== undefined}
            aria-describedby={described("totalSteps", true)}
            placeholder="1000"
          />
        </Field>
      </div>
      <Field
        id={idOf("config")}
        label="Config (JSON object)"
        error={errors.config}
        hint={'Optional, e.g. {"lr": 0.001}.'}
      >
        <textarea
          id={idOf("config")}
          className="input font-mono"
          rows={3}
          value={values.config}
          onChange={set("config")}
          aria-invalid={errors.config !== undefined}
          aria-describedby={described("config", true)}
          placeholder='{"batch_size": 32}'
        />
      </Field>
      {formError === null ? null : (
        <p role="alert" className="text-sm text-red-700 dark:text-red-400">
          {formError}
        </p>
      )}
      <button type="submit" className="btn btn-primary" disabled={create.isPending}>
        {create.isPending ? "Creating…" : "Create task"}
      </button>
    </form>
  );
}
