import type { CheckpointResponse } from "@strata/coordinator/api";
import { useQuery } from "@tanstack/react-query";
import { type ColumnDef, createColumnHelper } from "@tanstack/react-table";
import { useMemo } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { useApi } from "../api/api-context.js";
import { checkpointsQuery } from "../api/query-options.js";
import { DataTable } from "../components/data-table.js";
import { PageHeader } from "../components/page-header.js";
import { ProgressBar } from "../components/progress-bar.js";
import { EmptyState, QueryStatus } from "../components/query-status.js";
import { RelativeTime } from "../components/relative-time.js";
import { RouteAnchor } from "../components/route-anchor.js";
import { ToneBadge } from "../components/tone-badge.js";
import { formatBytes, formatCount, formatDurationMs, formatTimestamp } from "../format.js";

const column = createColumnHelper<CheckpointResponse>();

/** The checkpoint table's columns: newest first by default, sizes in binary units. */
export const checkpointColumns = [
  column.accessor("job_id", {
    header: "Job",
    cell: (info) => (
      <RouteAnchor
        className="link font-medium"
        href={`/checkpoints/${encodeURIComponent(info.getValue())}/${info.row.original.step}`}
      >
        {info.getValue() || "(no job)"}
      </RouteAnchor>
    ),
  }),
  column.accessor("step", { header: "Step", cell: (info) => formatCount(info.getValue()) }),
  column.accessor("epoch", { header: "Epoch" }),
  column.accessor((c) => c.ranks_reported / Math.max(1, c.ranks_expected), {
    id: "ranks",
    header: "Ranks",
    cell: (info) => {
      const c = info.row.original;
      return (
        <div className="w-40">
          <ProgressBar
            value={c.ranks_reported}
            max={Math.max(1, c.ranks_expected)}
            label={`${c.ranks_reported} of ${c.ranks_expected}`}
            tone={c.status === "completed" ? "teal" : "amber"}
          />
        </div>
      );
    },
  }),
  column.accessor("status", {
    header: "Status",
    cell: (info) => {
      const c = info.row.original;
      return c.status === "completed" ? (
        <span className="inline-flex items-center gap-2">
          <ToneBadge tone="good">complete</ToneBadge>
          {c.completed_at === null ? null : (
            <span className="text-xs muted" title="first rank reported → last rank reported">
              {formatDurationMs(c.completed_at - c.created_at)} after first report
            </span>
          )}
        </span>
      ) : (
        <ToneBadge tone="warn">reported, waiting for ranks</ToneBadge>
      );
    },
  }),
  column.accessor("size", { header: "Size", cell: (info) => formatBytes(info.getValue()) }),
  column.accessor("created_at", {
    header: "Created",
    sortDescFirst: true,
    cell: (info) => (
      <span title={formatTimestamp(info.getValue())}>
        <RelativeTime ms={info.getValue()} />
      </span>
    ),
  }),
  column.accessor("path", {
    header: "Path (rank 0)",
    cell: (info) => (
      <span className="block max-w-xs truncate font-mono text-xs" title={info.getValue()}>
        {info.getValue()}
      </span>
    ),
  }),
] as ColumnDef<CheckpointResponse, unknown>[];

/**
 * Checkpoints, newest first, one row per job and step: how many ranks reported out of those
 * expected, when it became complete, and its true total size.
 */
export function CheckpointsPage() {
  const api = useApi();
  const [params, setParams] = useSearchParams();
  const job = params.get("job") ?? "";
  const checkpoints = useQuery(checkpointsQuery(api, job));
  const all = useQuery(checkpointsQuery(api, ""));
  const navigate = useNavigate();
  const jobs = useMemo(
    () => [...new Set((all.data ?? []).map((c) => c.job_id))].sort(),
    [all.data],
  );
  return (
    <div>
      <PageHeader title="Checkpoints" description="Newest first, per job and step." />
      <div className="mb-3 flex flex-wrap items-end gap-3">
        <div>
          <label htmlFor="checkpoint-job" className="label">
            Job
          </label>
          <select
            id="checkpoint-job"
            className="input w-56"
            value={job}
            onChange={(event) =>
              setParams(event.target.value === "" ? {} : { job: event.target.value }, {
                replace: true,
              })
            }
          >
            <option value="">All jobs</option>
            {jobs.map((j) => (
              <option key={j} value={j}>
                {j || "(no job)"}
              </option>
            ))}
          </select>
        </div>
        {checkpoints.data === undefined ? null : (
          <p className="pb-1.5 text-sm muted">
            {formatCount(checkpoints.data.length)} steps ·{" "}
            {formatBytes(checkpoints.data.reduce((sum, c) => sum + c.size, 0))} in all
          </p>
        )}
      </div>
      <QueryStatus query={checkpoints} loadingLabel="Loading checkpoints…">
        {(data) =>
          data.length === 0 ? (
            <EmptyState title="No checkpoints yet">
              A checkpoint appears as soon as a worker reports it with <code>NotifyCheckpoint</code>
              .
            </EmptyState>
          ) : (
            <DataTable
              caption="Checkpoints, newest first"
              testId="checkpoints-table"
              data={data}
              columns={checkpointColumns}
              getRowId={(c) => c.id}
              initialSorting={[{ id: "created_at", desc: true }]}
              onRowClick={(c) => navigate(`/checkpoints/${encodeURIComponent(c.job_id)}/${c.step}`)}
            />
          )
        }
      </QueryStatus>
    </div>
  );
}
