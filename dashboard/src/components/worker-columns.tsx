import type { WorkerResponse } from "@strata/coordinator/api";
import { type ColumnDef, createColumnHelper } from "@tanstack/react-table";
import { Link } from "react-router";
import { formatBytes, formatCount, formatDecimal, formatPercent } from "../format.js";
import { HeartbeatAge } from "./heartbeat-age.js";
import { StateBadge } from "./state-badge.js";

const column = createColumnHelper<WorkerResponse>();

/** GPUs as `"4 · 87%"`: the count and, once reported, their mean utilisation. */
export function gpuSummary(worker: WorkerResponse): string {
  const gpus = worker.resources?.gpus ?? [];
  if (gpus.length === 0) return String(worker.gpu_count);
  const mean = gpus.reduce((sum, gpu) => sum + gpu.utilization_percent, 0) / gpus.length;
  return `${worker.gpu_count} · ${formatPercent(mean)}`;
}

/** The workers table's columns; `timeoutMs` colours late heartbeats. */
export function workerColumns(timeoutMs: number | undefined): ColumnDef<WorkerResponse, unknown>[] {
  return [
    column.accessor("rank", {
      header: "Rank",
      cell: (info) =>
        info.row.original.alive ? (
          info.getValue()
        ) : (
          <span className="muted">{info.getValue()}</span>
        ),
    }),
    column.accessor("id", {
      header: "Worker",
      cell: (info) => (
        <Link
          className="link font-medium"
          to={`/workers/${encodeURIComponent(info.getValue())}`}
          onClick={(event) => event.stopPropagation()}
        >
          {info.getValue()}
        </Link>
      ),
    }),
    column.accessor("state", {
      header: "State",
      cell: (info) => <StateBadge state={info.getValue()} />,
    }),
    column.accessor("last_heartbeat", {
      header: "Heartbeat",
      // Oldest heartbeat first when sorted ascending by age.
      sortingFn: (a, b) => b.original.last_heartbeat - a.original.last_heartbeat,
      cell: (info) => (
        <HeartbeatAge
          lastHeartbeat={info.getValue()}
          alive={info.row.original.alive}
          timeoutMs={timeoutMs}
        />
      ),
    }),
    column.accessor("current_step", {
      header: "Step",
      cell: (info) => formatCount(info.getValue()),
    }),
    column.accessor("current_epoch", { header: "Epoch" }),
    column.accessor((w) => w.step_rate ?? -1, {
      id: "step_rate",
      header: "Steps/s",
      cell: (info) => formatDecimal(info.row.original.step_rate),
    }),
    column.accessor("assigned_shards", {
      header: "Shards",
      cell: (info) => formatCount(info.getValue()),
    }),
    column.accessor((w) => w.resources?.cpu_percent ?? -1, {
      id: "cpu",
      header: "CPU",
      cell: (info) => formatPercent(info.row.original.resources?.cpu_percent),
    }),
    column.accessor((w) => w.resources?.memory_used_bytes ?? -1, {
      id: "memory",
      header: "Memory",
      cell: (info) => {
        const w = info.row.original;
        const used = w.resources?.memory_used_bytes;
        if (used === undefined)
          return w.memory_bytes > 0 ? `— / ${formatBytes(w.memory_bytes)}` : "—";
        return w.memory_bytes > 0
          ? `${formatBytes(used)} / ${formatBytes(w.memory_bytes)}`
          : formatBytes(used);
      },
    }),
    column.accessor("gpu_count", { header: "GPUs", cell: (info) => gpuSummary(info.row.original) }),
    column.accessor("hostname", { header: "Host" }),
    column.accessor("current_task", {
      header: "Task",
      cell: (info) =>
        info.getValue() === "" ? (
          <span className="muted">—</span>
        ) : (
          <Link
            className="link"
            to={`/tasks/${encodeURIComponent(info.getValue())}`}
            onClick={(e) => e.stopPropagation()}
          >
            {info.getValue()}
          </Link>
        ),
    }),
  ] as ColumnDef<WorkerResponse, unknown>[];
}
