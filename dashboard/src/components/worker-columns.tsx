import type { WorkerResponse } from "@strata/coordinator/api";
import { type ColumnDef, createColumnHelper } from "@tanstack/react-table";
import { formatBytes, formatCount, formatDecimal, formatPercent } from "../format.js";
import { HeartbeatAge } from "./heartbeat-age.js";
import { RouteAnchor } from "./route-anchor.js";
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
      size: 70,
      header: "Rank",
      cell: (info) =>
        info.row.original.alive ? (
          info.getValue()
        ) : (
          <span className="muted">{info.getValue()}</span>
        ),
    }),
    column.accessor("id", {
      size: 170,
      header: "Worker",
      cell: (info) => (
        <RouteAnchor
          className="link font-medium"
          href={`/workers/${encodeURIComponent(info.getValue())}`}
        >
          {info.getValue()}
        </RouteAnchor>
      ),
    }),
    column.accessor("state", {
      size: 130,
      header: "State",
      cell: (info) => <StateBadge state={info.getValue()} left={info.row.original.left} />,
    }),
    column.accessor("last_heartbeat", {
      size: 110,
      header: "Heartbeat",
      // Sorts by age: ascending puts the freshest heartbeat first.
      meta: { sortValue: (w) => -w.last_heartbeat },
      cell: (info) => (
        <HeartbeatAge
          lastHeartbeat={info.getValue()}
          alive={info.row.original.alive}
          timeoutMs={timeoutMs}
        />
      ),
    }),
    column.accessor("current_step", {
      size: 100,
      header: "Step",
      cell: (info) => formatCount(info.getValue()),
    }),
    column.accessor("current_epoch", { size: 80, header: "Epoch" }),
    column.accessor((w) => w.step_rate ?? -1, {
      id: "step_rate",
      size: 90,
      header: "Steps/s",
      cell: (info) => formatDecimal(info.row.original.step_rate),
    }),
    column.accessor("assigned_shards", {
      size: 80,
      header: "Shards",
      cell: (info) => formatCount(info.getValue()),
    }),
    column.accessor((w) => w.resources?.cpu_percent ?? -1, {
      id: "cpu",
      size: 80,
      header: "CPU",
      cell: (info) => formatPercent(info.row.original.resources?.cpu_percent),
    }),
    column.accessor((w) => w.resources?.memory_used_bytes ?? -1, {
      id: "memory",
      size: 170,
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
    column.accessor("gpu_count", {
      size: 90,
      header: "GPUs",
      cell: (info) => gpuSummary(info.row.original),
    }),
    column.accessor("hostname", { size: 140, header: "Host" }),
    column.accessor("current_task", {
      size: 170,
      header: "Task",
      cell: (info) =>
        info.getValue() === "" ? (
          <span className="muted">—</span>
        ) : (
          <RouteAnchor className="link" href={`/tasks/${encodeURIComponent(info.getValue())}`}>
            {info.getValue()}
          </RouteAnchor>
        ),
    }),
  ] as ColumnDef<WorkerResponse, unknown>[];
}
