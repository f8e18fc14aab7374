import type { ApiEvent, WorkerHistoryResponse, WorkerResponse } from "@strata/coordinator/api";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { useApi } from "../api/api-context.js";
import { statusQuery, workerHistoryQuery } from "../api/query-options.js";
import { formatBytes, formatDecimal, formatPercent } from "../format.js";
import { useLiveContext } from "../live/live-context.js";
import { useServerNow } from "../live/use-live.js";
import { MEMBERSHIP_MARKS } from "./membership-timeline.js";
import { ErrorNotice } from "./query-status.js";
import {
  BINARY_INCREMENTS,
  type ChartMarker,
  type ChartSeries,
  TimeSeriesChart,
} from "./time-series-chart.js";
import { useChartWindow, WindowSelect } from "./window-select.js";

/** The coordinator samples each live worker this often (its `WORKER_SAMPLE_INTERVAL_MS`), in ms. */
const SAMPLE_INTERVAL_MS = 10_000;
/** The heartbeat timeout assumed when `/api/status` cannot be read, in ms (the coordinator's default). */
const DEFAULT_HEARTBEAT_TIMEOUT_MS = 15_000;
/** Most live points kept (an hour of once-a-second updates). */
const MAX_LIVE_POINTS = 3_600;

/** A worker's live values, one entry per update the stream brought while the page was open. */
export interface WorkerTrace {
  /** The coordinator time each entry describes (the worker's last heartbeat), ms since the epoch. */
  at: number[];
  stepRate: (number | null)[];
  cpu: (number | null)[];
  memory: (number | null)[];
}

/** A worker's charted columns: stored samples, then live values. */
export interface WorkerColumns {
  x: number[];
  stepRate: (number | null)[];
  cpu: (number | null)[];
  /** From stored samples only: the live stream does not carry GPU use. */
  gpu: (number | null)[];
  memory: (number | null)[];
}

/**
 * Joins a worker's stored history (`GET /api/workers/:id/history` columns) with the live values
 * received since: history points from `from` up to its newest stored sample (the empty steps
 * after it were not sampled yet, or the worker is gone), then live values newer than that (so
 * nothing is drawn twice and x only grows). Where more than `gapMs` passes without a value (a
 * restart, a disconnection), a null point breaks the line rather than draw across the gap. Pure,
 * so tests can check that the past before a restart or a death is kept.
 */
export function mergeWorkerHistory(
  history: WorkerHistoryResponse | undefined,
  live: WorkerTrace,
  from: number,
  gapMs: number,
): WorkerColumns {
  const out: WorkerColumns = { x: [], stepRate: [], cpu: [], gpu: [], memory: [] };
  const push = (
    at: number,
    stepRate: number | null,
    cpu: number | null,
    gpu: number | null,
    memory: number | null,
  ) => {
    out.x.push(at);
    out.stepRate.push(stepRate);
    out.cpu.push(cpu);
    out.gpu.push(gpu);
    out.memory.push(memory);
  };
  let lastAt = Number.NEGATIVE_INFINITY;
  const newest = history?.last_sample_at ?? null;
  if (history !== undefined && newest !== null) {
    history.timestamps.forEach((at, i) => {
      if (at < from || at > newest) return;
      push(
        at,
        history.step_rate[i] ?? null,
        history.cpu_percent[i] ?? null,
        history.gpu_utilization_percent[i] ?? null,
        history.memory_used_bytes[i] ?? null,
      );
    });
    lastAt = newest;
  }
  live.at.forEach((at, i) => {
    if (at <= lastAt || at < from) return;
    if (out.x.length > 0 && at - lastAt > gapMs) push(lastAt + 1, null, null, null, null);
    push(at, live.stepRate[i] ?? null, live.cpu[i] ?? null, null, live.memory[i] ?? null);
    lastAt = at;
  });
  return out;
}

/** Collects the live values of `worker` each time the stream updates it (its detail query). */
function useWorkerTrace(worker: WorkerResponse): WorkerTrace {
  const trace = useRef<WorkerTrace>({ at: [], stepRate: [], cpu: [], memory: [] });
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const t = trace.current;
    const at = worker.last_heartbeat;
    if (t.at.length > 0 && at <= (t.at[t.at.length - 1] ?? 0)) return;
    t.at.push(at);
    t.stepRate.push(worker.step_rate);
    t.cpu.push(worker.resources?.cpu_percent ?? null);
    t.memory.push(worker.resources?.memory_used_bytes ?? null);
    if (t.at.length > MAX_LIVE_POINTS) {
      for (const column of [t.at, t.stepRate, t.cpu, t.memory]) column.shift();
    }
    setVersion((v) => v + 1);
  }, [worker]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: version marks a change of the mutable trace.
  return useMemo(() => {
    const t = trace.current;
    return { at: [...t.at], stepRate: [...t.stepRate], cpu: [...t.cpu], memory: [...t.memory] };
  }, [version]);
}

const STEP_RATE: ChartSeries[] = [{ label: "Steps/s", color: "#0d9488", format: formatDecimal }];
const UTILISATION: ChartSeries[] = [
  { label: "CPU %", color: "#7c3aed", format: (v) => formatPercent(v) },
  { label: "GPU %", color: "#d97706", format: (v) => formatPercent(v) },
];
const MEMORY: ChartSeries[] = [
  { label: "Memory", color: "#0284c7", format: formatBytes, fill: true },
];

/**
 * A worker's step rate, CPU and GPU use and memory over the chosen window: the coordinator's
 * stored 10-second samples first (so a dead worker, or one on a restarted coordinator, still
 * shows its past), then the live values as the stream brings them. A live worker's window slides
 * with the coordinator's clock; a dead or departed worker's ends when it was declared dead.
 * Joins, deaths and departures from its events are marked on the step rate chart.
 */
export function WorkerHistoryCharts({
  worker,
  events,
}: {
  worker: WorkerResponse;
  /** The worker's events (its detail's), for the markers. */
  events: readonly ApiEvent[];
}) {
  const api = useApi();
  const { store } = useLiveContext();
  const chartWindow = useChartWindow();
  const now = useServerNow();
  const status = useQuery(statusQuery(api));
  const timeoutMs =
    status.data?.heartbeat_timeout_ms ?? (status.isError ? DEFAULT_HEARTBEAT_TIMEOUT_MS : null);
  // A dead worker is sampled until it is declared dead: at most the heartbeat timeout after its
  // last heartbeat, plus one sample interval. Its window waits for the timeout (one fetch).
  const endMs = worker.alive
    ? null
    : timeoutMs === null
      ? undefined
      : worker.last_heartbeat + timeoutMs + SAMPLE_INTERVAL_MS;
  const history = useQuery({
    ...workerHistoryQuery(api, worker.id, chartWindow.ms, endMs ?? null, store.serverNow),
    enabled: endMs !== undefined,
  });
  const trace = useWorkerTrace(worker);
  // Recomputed when history or a live value arrives, and every 5 s of the clock so a live
  // worker's window slides when nothing arrives; not on every clock tick.
  const fromKey = Math.floor(((endMs ?? now) - chartWindow.ms) / 5_000);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `now` is sampled through fromKey on purpose.
  const { columns, range } = useMemo(() => {
    const to = endMs ?? now;
    const from = to - chartWindow.ms;
    // A worker silent longer than the heartbeat timeout is dead: a longer gap is a real one.
    const gapMs = Math.max(2 * SAMPLE_INTERVAL_MS, timeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS);
    const merged = mergeWorkerHistory(history.data, trace, from, gapMs);
    const lastAt = merged.x[merged.x.length - 1] ?? to;
    return { columns: merged, range: { from, to: Math.max(to, lastAt) } };
  }, [history.data, trace, fromKey, endMs, chartWindow.ms, timeoutMs]);
  const markers = useMemo(
    (): ChartMarker[] =>
      events.flatMap((e) => {
        const mark = MEMBERSHIP_MARKS[e.type];
        return mark === undefined ? [] : [{ at: e.at, color: mark.color, label: mark.label }];
      }),
    [events],
  );
  const emptyText = history.isPending ? "Loading history…" : "No samples in this window";
  // How many stored samples the window holds (for tests: the charts' own counts include live values).
  const stored = history.data?.step.filter((v) => v !== null).length ?? 0;
  return (
    <section className="card space-y-3 p-3" aria-label="History" data-stored-samples={stored}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div>
          <h2 className="text-sm font-semibold">History</h2>
          <p className="text-xs muted">
            Samples the coordinator stored every 10 s
            {worker.alive ? ", then live values as they arrive" : " until the worker stopped"}. GPU
            use comes from the stored samples only.
          </p>
        </div>
        <WindowSelect />
      </div>
      {history.isError && history.data === undefined ? (
        <ErrorNotice error={history.error} onRetry={() => void history.refetch()} />
      ) : null}
      <TimeSeriesChart
        title="Step rate"
        series={STEP_RATE}
        data={{ x: columns.x, ys: [columns.stepRate] }}
        range={range}
        markers={markers}
        height={150}
        emptyText={emptyText}
      />
      <TimeSeriesChart
        title="CPU and GPU use"
        series={UTILISATION}
        data={{ x: columns.x, ys: [columns.cpu, columns.gpu] }}
        range={range}
        height={150}
        emptyText={emptyText}
      />
      <TimeSeriesChart
        title="Memory used"
        series={MEMORY}
        data={{ x: columns.x, ys: [columns.memory] }}
        range={range}
        height={150}
        yIncrements={BINARY_INCREMENTS}
        emptyText={emptyText}
      />
    </section>
  );
}
