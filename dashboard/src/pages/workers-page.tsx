import type { WorkerResponse } from "@strata/coordinator/api";
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { useApi } from "../api/api-context.js";
import { statusQuery, workersQuery } from "../api/query-options.js";
import { DataTable } from "../components/data-table.js";
import { PageHeader } from "../components/page-header.js";
import { EmptyState, QueryStatus } from "../components/query-status.js";
import { workerColumns } from "../components/worker-columns.js";
import { formatCount } from "../format.js";
import { WORKER_STATE_STYLE } from "../worker-state-style.js";

/** Filters the workers list by a search text (id, host, task) and a state filter. */
export function filterWorkers(
  workers: readonly WorkerResponse[],
  query: string,
  state: string,
): WorkerResponse[] {
  const q = query.trim().toLowerCase();
  return workers.filter((w) => {
    if (state === "alive" && !w.alive) return false;
    if (state === "gone" && w.alive) return false;
    if (state !== "" && state !== "alive" && state !== "gone" && w.state !== state) return false;
    if (q === "") return true;
    return (
      w.id.toLowerCase().includes(q) ||
      w.hostname.toLowerCase().includes(q) ||
      w.ip.toLowerCase().includes(q) ||
      w.current_task.toLowerCase().includes(q)
    );
  });
}

/**
 * Every worker in a sortable, filterable, virtualised table that follows the live stream: state,
 * heartbeat age (ticking), step, step rate, shards, CPU, memory and GPUs. Dead workers are
 * tinted red. Filters live in the URL (`?q=&state=`).
 */
export function WorkersPage() {
  const api = useApi();
  const workers = useQuery(workersQuery(api));
  const status = useQuery(statusQuery(api));
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const state = params.get("state") ?? "";
  const setParam = (key: string, value: string) =>
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        if (value === "") next.delete(key);
        else next.set(key, value);
        return next;
      },
      { replace: true },
    );
  const timeoutMs = status.data?.heartbeat_timeout_ms;
  const columns = useMemo(() => workerColumns(timeoutMs), [timeoutMs]);
  const rows = useMemo(() => filterWorkers(workers.data ?? [], q, state), [workers.data, q, state]);
  const alive = workers.data?.filter((w) => w.alive).length ?? 0;
  const dead = workers.data?.filter((w) => w.state === "dead" && !w.left).length ?? 0;

  return (
    <div>
      <PageHeader
        title="Workers"
        description={
          workers.data === undefined
            ? "Every worker the coordinator knows."
            : `${formatCount(alive)} live · ${formatCount(dead)} dead · ${formatCount(workers.data.length)} known`
        }
      />
      <div className="mb-3 flex flex-wrap items-end gap-3">
        <div>
          <label htmlFor="worker-search" className="label">
            Search
          </label>
          <input
            id="worker-search"
            type="search"
            className="input w-64"
            placeholder="Worker id, host or task"
            value={q}
            onChange={(event) => setParam("q", event.target.value)}
          />
        </div>
        <div>
          <label htmlFor="worker-state" className="label">
            State
          </label>
          <select
            id="worker-state"
            className="input w-48"
            value={state}
            onChange={(event) => setParam("state", event.target.value)}
          >
            <option value="">All</option>
            <option value="alive">Alive</option>
            <option value="gone">Dead or departed</option>
            {Object.entries(WORKER_STATE_STYLE).map(([id, style]) => (
              <option key={id} value={id}>
                {style.label}
              </option>
            ))}
          </select>
        </div>
        <p className="pb-1.5 text-sm muted" aria-live="polite">
          Showing {formatCount(rows.length)}
          {workers.data === undefined ? "" : ` of ${formatCount(workers.data.length)}`}
        </p>
      </div>
      <QueryStatus query={workers} loadingLabel="Loading workers…">
        {(data) =>
          data.length === 0 ? (
            <EmptyState title="No workers yet">
              Workers appear here as soon as they register with the coordinator.
            </EmptyState>
          ) : (
            <DataTable
              caption="Workers"
              testId="workers-table"
              fixedLayout
              data={rows}
              columns={columns}
              getRowId={(w) => w.id}
              onRowClick={(w) => navigate(`/workers/${encodeURIComponent(w.id)}`)}
              rowClassName={(w) =>
                w.state === "dead" && !w.left
                  ? "bg-red-50 text-red-900 dark:bg-red-950/50 dark:text-red-200"
                  : !w.alive
                    ? "text-zinc-500"
                    : ""
              }
            />
          )
        }
      </QueryStatus>
    </div>
  );
}
