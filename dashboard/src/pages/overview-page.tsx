import { useQuery } from "@tanstack/react-query";
import { useApi } from "../api/api-context.js";
import { metricsQuery, workersQuery } from "../api/query-options.js";
import { HistoryChart, type HistoryChartSeries } from "../components/history-chart.js";
import { MembershipTimeline } from "../components/membership-timeline.js";
import { PageHeader } from "../components/page-header.js";
import { ErrorNotice } from "../components/query-status.js";
import { StatCard } from "../components/stat-card.js";
import { BINARY_INCREMENTS } from "../components/time-series-chart.js";
import { useChartWindow, WindowSelect } from "../components/window-select.js";
import { formatBytesPerSecond, formatCount, formatDecimal } from "../format.js";
import { useLatestSample } from "../live/use-live.js";

const STEPS: HistoryChartSeries[] = [
  {
    name: "steps_per_second",
    label: "Steps/s",
    color: "#0d9488",
    format: formatDecimal,
    fill: true,
  },
];
const SAMPLES: HistoryChartSeries[] = [
  {
    name: "samples_per_second",
    label: "Samples/s",
    color: "#4f46e5",
    format: formatDecimal,
    fill: true,
  },
];
const CHECKPOINT: HistoryChartSeries[] = [
  {
    name: "checkpoint_bytes_per_second",
    label: "Checkpoint bytes/s",
    color: "#d97706",
    format: formatBytesPerSecond,
    fill: true,
  },
];
const BARRIER: HistoryChartSeries[] = [
  {
    name: "barrier_p50_ms",
    label: "p50 ms",
    color: "#0284c7",
    format: (v) => `${formatDecimal(v)} ms`,
  },
  {
    name: "barrier_p99_ms",
    label: "p99 ms",
    color: "#be123c",
    format: (v) => `${formatDecimal(v)} ms`,
  },
];

/**
 * The overview: headline cards from the latest tick (or `/api/metrics` before the first), the
 * throughput charts over a chosen window (history first, then live), and the membership timeline.
 */
export function OverviewPage() {
  const api = useApi();
  const metrics = useQuery(metricsQuery(api));
  const workers = useQuery(workersQuery(api));
  const latest = useLatestSample();
  const window = useChartWindow();
  const m = metrics.data;
  const value = (name: string, fallback: number | undefined): number | null => {
    const v = latest?.values[name];
    if (v !== undefined) return v;
    return fallback ?? null;
  };
  const alive =
    workers.data?.filter((w) => w.alive).length ?? value("workers_alive", m?.live_workers);
  const dead =
    workers.data?.filter((w) => w.state === "dead" && !w.left).length ??
    value("workers_dead", m?.dead_workers);
  const total = workers.data?.length ?? m?.total_workers;
  const checkpointRate = value("checkpoint_bytes_per_second", m?.checkpoint_throughput);
  // `/api/metrics` says 0 before any barrier was released; the tick says null. Both mean "none".
  const p99 = value(
    "barrier_p99_ms",
    m?.barrier_latency_p99 === 0 ? undefined : m?.barrier_latency_p99,
  );
  return (
    <div>
      <PageHeader
        title="Overview"
        description="The cluster now, and its history since the coordinator began recording it."
        actions={<WindowSelect />}
      />
      {metrics.isError && metrics.data === undefined ? <ErrorNotice error={metrics.error} /> : null}
      <div className="mb-4 grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-5">
        <StatCard
          label="Live workers"
          value={alive === null || alive === undefined ? "—" : formatCount(alive)}
          detail={
            total === undefined
              ? undefined
              : `${formatCount(total)} known · ${dead === null || dead === undefined ? "—" : formatCount(dead)} dead`
          }
          detailTone={dead !== null && dead !== undefined && dead > 0 ? "bad" : "neutral"}
        />
        <StatCard
          label="Steps/s"
          value={formatDecimal(value("steps_per_second", m?.steps_per_second))}
          detail="sum over live workers"
        />
        <StatCard
          label="Samples/s"
          value={formatDecimal(value("samples_per_second", m?.samples_per_second))}
          detail="reported consumed"
        />
        <StatCard
          label="Checkpoint throughput"
          value={checkpointRate === null ? "—" : formatBytesPerSecond(checkpointRate)}
          detail={
            m === undefined
              ? "bytes recorded, last 60 s"
              : `${formatCount(m.checkpoint_steps_complete)} ${m.checkpoint_steps_complete === 1 ? "step" : "steps"} complete`
          }
        />
        <StatCard
          label="Barrier p99"
          value={p99 === null ? "—" : `${formatDecimal(p99)} ms`}
          detail={
            m === undefined ? "first arrival to release" : `${formatCount(m.open_barriers)} open`
          }
        />
      </div>
      <div className="grid gap-3 xl:grid-cols-2">
        <HistoryChart title="Steps per second" series={STEPS} windowMs={window.ms} />
        <HistoryChart title="Samples per second" series={SAMPLES} windowMs={window.ms} />
        <HistoryChart
          title="Checkpoint throughput"
          series={CHECKPOINT}
          windowMs={window.ms}
          yIncrements={BINARY_INCREMENTS}
        />
        <HistoryChart
          title="Barrier wait"
          series={BARRIER}
          windowMs={window.ms}
          noValuesText="No barrier released in this window"
        />
      </div>
      <div className="mt-3">
        <MembershipTimeline windowMs={window.ms} />
      </div>
    </div>
  );
}
