import type { TaskResponse } from "@strata/coordinator/api";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { useApi } from "../api/api-context.js";
import { tasksQuery } from "../api/query-options.js";
import { CreateTaskForm } from "../components/create-task-form.js";
import { PageHeader } from "../components/page-header.js";
import { ProgressBar } from "../components/progress-bar.js";
import { EmptyState, QueryStatus } from "../components/query-status.js";
import { RelativeTime } from "../components/relative-time.js";
import { StopTaskButton } from "../components/stop-task-button.js";
import { isStoppable, TaskStatusBadge } from "../components/task-status-badge.js";
import { formatDurationMs } from "../format.js";
import { useServerNow } from "../live/use-live.js";

/** How long a task has run: until it ended, or until now. */
export function taskDurationMs(task: TaskResponse, now: number): number {
  const end = task.completed_at ?? task.stopped_at ?? now;
  return Math.max(0, end - task.started_at);
}

function TaskRow({ task }: { task: TaskResponse }) {
  const now = useServerNow();
  return (
    <tr
      className="border-t border-zinc-100 dark:border-zinc-800"
      data-testid={`task-row-${task.id}`}
    >
      <td className="px-3 py-2">
        <Link className="link font-medium" to={`/tasks/${encodeURIComponent(task.id)}`}>
          {task.name}
        </Link>
        <div className="font-mono text-xs muted">{task.id}</div>
      </td>
      <td className="px-3 py-2">{task.type}</td>
      <td className="px-3 py-2">
        <TaskStatusBadge status={task.status} />
      </td>
      <td className="w-48 px-3 py-2">
        <ProgressBar
          value={task.progress}
          label={task.total_steps === null ? `step ${task.current_step}` : `${task.progress}%`}
        />
      </td>
      <td className="px-3 py-2 tabular-nums">
        {task.worker_ids.length} of {task.worker_count}
      </td>
      <td className="px-3 py-2">{task.dataset_id || <span className="muted">—</span>}</td>
      <td className="px-3 py-2">
        <RelativeTime ms={task.created_at} />
      </td>
      <td className="px-3 py-2 tabular-nums">
        {task.status === "pending" ? "—" : formatDurationMs(taskDurationMs(task, now))}
      </td>
      <td className="px-3 py-2">
        {isStoppable(task.status) ? <StopTaskButton taskId={task.id} taskName={task.name} /> : null}
      </td>
    </tr>
  );
}

/** Tasks (jobs handed to workers): create one, follow them live, stop them. */
export function TasksPage() {
  const api = useApi();
  const tasks = useQuery(tasksQuery(api));
  return (
    <div>
      <PageHeader
        title="Tasks"
        description="Jobs started from here reach idle workers with their next heartbeat."
      />
      <div className="grid gap-4 xl:grid-cols-[1fr_22rem]">
        <div className="min-w-0 xl:order-1">
          <QueryStatus query={tasks} loadingLabel="Loading tasks…">
            {(data) =>
              data.length === 0 ? (
                <EmptyState title="No tasks yet">
                  Create one with the form; it is handed to idle workers.
                </EmptyState>
              ) : (
                <div className="card overflow-x-auto">
                  <table className="w-full text-left text-sm" data-testid="tasks-table">
                    <caption className="sr-only">Tasks, newest first</caption>
                    <thead className="bg-zinc-100 text-xs tracking-wide uppercase muted dark:bg-zinc-800">
                      <tr>
                        <th scope="col" className="px-3 py-2">
                          Task
                        </th>
                        <th scope="col" className="px-3 py-2">
                          Type
                        </th>
                        <th scope="col" className="px-3 py-2">
                          Status
                        </th>
                        <th scope="col" className="px-3 py-2">
                          Progress
                        </th>
                        <th scope="col" className="px-3 py-2">
                          Workers
                        </th>
                        <th scope="col" className="px-3 py-2">
                          Dataset
                        </th>
                        <th scope="col" className="px-3 py-2">
                          Created
                        </th>
                        <th scope="col" className="px-3 py-2">
                          Duration
                        </th>
                        <th scope="col" className="px-3 py-2">
                          <span className="sr-only">Actions</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {data.map((task) => (
                        <TaskRow key={task.id} task={task} />
                      ))}
                    </tbody>
                  </table>
                </div>
              )
            }
          </QueryStatus>
        </div>
        <div className="xl:order-2">
          <CreateTaskForm />
        </div>
      </div>
    </div>
  );
}
