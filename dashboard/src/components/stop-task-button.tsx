import type { StopTaskResponse } from "@strata/coordinator/api";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useApi } from "../api/api-context.js";
import { queryKeys } from "../api/query-keys.js";
import { Icon } from "./icons.js";

/**
 * Stops a task after a confirmation step in place (no browser dialog): `POST /api/tasks/:id/stop`,
 * then the task list refetches; the workers receive `stop_task` with their next heartbeat.
 */
export function StopTaskButton({ taskId, taskName }: { taskId: string; taskName: string }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const stop = useMutation({
    mutationFn: () =>
      api.send<StopTaskResponse>("POST", `/api/tasks/${encodeURIComponent(taskId)}/stop`),
    onSettled: () => queryClient.invalidateQueries({ queryKey: queryKeys.tasks.all }),
    onSuccess: () => setConfirming(false),
  });
  if (!confirming) {
    return (
      <button
        type="button"
        className="btn"
        aria-label={`Stop task ${taskName}`}
        onClick={(event) => {
          event.stopPropagation();
          setConfirming(true);
        }}
      >
        <Icon name="stop" width={14} height={14} /> Stop
      </button>
    );
  }
  return (
    <span className="inline-flex flex-wrap items-center gap-2">
      <button
        type="button"
        className="btn btn-danger"
        disabled={stop.isPending}
        onClick={(event) => {
          event.stopPropagation();
          stop.mutate();
        }}
      >
        {stop.isPending ? "Stopping…" : `Confirm stop`}
      </button>
      <button
        type="button"
        className="btn"
        onClick={(event) => {
          event.stopPropagation();
          setConfirming(false);
        }}
      >
        Cancel
      </button>
      {stop.isError ? (
        <span role="alert" className="text-sm text-red-700 dark:text-red-400">
          {(stop.error as Error).message}
        </span>
      ) : null}
    </span>
  );
}
