import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link, useParams } from "react-router";
import { useApi } from "../api/api-context.js";
import { taskLogsQuery, tasksQuery, workersQuery } from "../api/query-options.js";
import { DefinitionGrid } from "../components/definition-grid.js";
import { LEVEL_TONE } from "../components/event-list.js";
import { PageHeader } from "../components/page-header.js";
import { ProgressBar } from "../components/progress-bar.js";
import { EmptyState, QueryStatus } from "../components/query-status.js";
import { RelativeTime } from "../components/relative-time.js";
import { StateBadge } from "../components/state-badge.js";
import { StopTaskButton } from "../components/stop-task-button.js";
import { isStoppable, TaskStatusBadge } from "../components/task-status-badge.js";
import { ToneBadge } from "../components/tone-badge.js";
import { formatCount, formatDurationMs, formatTimestamp } from "../format.js";
import { useServerNow } from "../live/use-live.js";
import { taskDurationMs } from "./tasks-page.js";

/** Follows one task: status, progress, its workers' live state, its logs; stop it from here. */
export function TaskDetailPage() {
  const { id = "" } = useParams();
  const api = useApi();
  const tasks = useQuery(tasksQuery(api));
  const logs = useQuery(taskLogsQuery(api, id));
  const workers = useQuery(workersQuery(api));
  const now = useServerNow();
  const byId = useMemo(() => new Map((workers.data ?? []).map((w) => [w.id, w])), [workers.data]);
  const task = tasks.data?.find((t) => t.id === id);
  return (
    <div>
      <PageHeader
        title={
          <span className="flex items-center gap-3">
            {task?.name ?? <span className="font-mono">{id}</span>}
            {task ? <TaskStatusBadge status={task.status} /> : null}
          </span>
        }
        description={
          <Link className="link" to="/tasks">
            ← All tasks
          </Link>
        }
        actions={
          task && isStoppable(task.status) ? (
            <StopTaskButton taskId={task.id} taskName={task.name} />
          ) : undefined
        }
      />
      <QueryStatus query={tasks} loadingLabel="Loading task…">
        {() =>
          task === undefined ? (
            <EmptyState title={`No task ${id}`}>
              <Link className="link" to="/tasks">
                See every task
              </Link>
            </EmptyState>
          ) : (
            <div className="space-y-4">
              <section className="card p-4" aria-label="Task">
                <div className="mb-3">
                  <ProgressBar
                    value={task.progress}
                    label={
                      task.total_steps === null
                        ? `step ${formatCount(task.current_step)} (no total_steps in the config)`
                        : `${task.progress}% · step ${formatCount(task.current_step)} of ${formatCount(task.total_steps)}`
                    }
                  />
                </div>
                <DefinitionGrid
                  items={[
                    [
                      "Id",
                      <span key="id" className="font-mono">
                        {task.id}
                      </span>,
                    ],
                    ["Type", task.type],
                    ["Dataset", task.dataset_id || "—"],
                    ["Workers", `${task.worker_ids.length} of ${task.worker_count} requested`],
                    ["Created", <RelativeTime key="c" ms={task.created_at} absolute />],
                    [
                      "Duration",
                      task.status === "pending"
                        ? "not started"
                        : formatDurationMs(taskDurationMs(task, now)),
                    ],
                    [
                      "Ended",
                      (task.completed_at ?? task.stopped_at)
                        ? formatTimestamp((task.completed_at ?? task.stopped_at) as number)
                        : "—",
                    ],
                    ["Error", task.error ?? "none"],
                  ]}
                />
                <pre className="mt-3 overflow-x-auto rounded bg-zinc-100 p-2 font-mono text-xs dark:bg-zinc-800">
                  {JSON.stringify(task.config, null, 2)}
                </pre>
              </section>
              <section className="card p-4" aria-label="Task workers">
                <h2 className="mb-2 text-sm font-semibold">Workers</h2>
                {task.worker_ids.length === 0 ? (
                  <p className="text-sm muted">
                    No worker has been handed this task yet (it waits for idle workers).
                  </p>
                ) : (
                  <ul className="grid gap-1 text-sm sm:grid-cols-2 xl:grid-cols-4">
                    {task.worker_ids.map((workerId) => {
                      const w = byId.get(workerId);
                      return (
                        <li key={workerId} className="flex items-center gap-2">
                          <Link className="link" to={`/workers/${encodeURIComponent(workerId)}`}>
                            {workerId}
                          </Link>
                          {w ? <StateBadge state={w.state} left={w.left} /> : null}
                          {w && w.current_task === task.id ? (
                            <span className="text-xs tabular-nums muted">
                              step {formatCount(w.current_step)}
                            </span>
                          ) : null}
                        </li>
                      );
                    })}
                  </ul>
                )}
              </section>
              <section className="card p-4" aria-label="Task logs">
                <h2 className="mb-2 text-sm font-semibold">Logs, newest first</h2>
                <QueryStatus query={logs} loadingLabel="Loading logs…">
                  {(lines) =>
                    lines.length === 0 ? (
                      <p className="text-sm muted">No log lines yet.</p>
                    ) : (
                      <ol
                        className="max-h-96 overflow-auto font-mono text-xs"
                        data-testid="task-logs"
                      >
                        {[...lines]
                          .sort((a, b) => b.timestamp - a.timestamp)
                          .map((line) => (
                            <li key={line.id} className="flex gap-2 py-0.5">
                              <span className="muted">{formatTimestamp(line.timestamp)}</span>
                              <ToneBadge tone={LEVEL_TONE[line.level]}>{line.level}</ToneBadge>
                              <span className="whitespace-pre-wrap">{line.message}</span>
                            </li>
                          ))}
                      </ol>
                    )
                  }
                </QueryStatus>
              </section>
            </div>
          )
        }
      </QueryStatus>
    </div>
  );
}
