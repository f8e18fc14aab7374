import type { HistorySeries } from "@strata/coordinator/api";
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { useApi } from "../api/api-context.js";
import { historyQuery } from "../api/query-options.js";
import { useLiveContext } from "../live/live-context.js";
import type { LiveSamples } from "../live/live-store.js";
import { useLiveSamples, useServerNow } from "../live/use-live.js";
import { ErrorNotice } from "./query-status.js";
import { type ChartData, type ChartMarker, TimeSeriesChart } from "./time-series-chart.js";

/** One history series on a chart. */
export interface HistoryChartSeries {
  name: HistorySeries;
  label: string;
  color: string;
  /** Maps a stored value to the value drawn (e.g. bytes/s to MiB/s); default identity. */
  transform?: (value: number) => number;
  format?: (value: number) => string;
  fill?: boolean;
}

/**
 * Joins stored history (`GET /api/history` columns) with the live samples received since: live
 * samples newer than the last stored point are appended, and points older than `from` dropped.
 * Pure, so tests can check that a restarted coordinator's history is kept.
 */
export function mergeHistory(
  history:
    | {
        timestamps: readonly number[];
        series: Readonly<Record<string, readonly (number | null)[]>>;
      }
    | undefined,
  live: LiveSamples,
  names: readonly string[],
  from: number,
): { x: number[]; ys: (number | null)[][] } {
  const x: number[] = [];
  const ys: (number | null)[][] = names.map(() => []);
  let lastAt = Number.NEGATIVE_INFINITY;
  if (history !== undefined) {
    for (let i = 0; i < history.timestamps.length; i++) {
      const at = history.timestamps[i] as number;
      if (at < from) continue;
      x.push(at);
      names.forEach((name, s) => {
        ys[s]?.push(history.series[name]?.[i] ?? null);
      });
      lastAt = at;
    }
  }
  for (let i = 0; i < live.at.length; i++) {
    const at = live.at[i] as number;
    if (at <= lastAt || at < from) continue;
    x.push(at);
    names.forEach((name, s) => {
      ys[s]?.push(live.series[name]?.[i] ?? null);
    });
  }
  return { x, ys };
}

/**
 * A chart of history series over the last `windowMs`: the stored history first (so a finished
 * job or a restarted coordinator still shows its past), then the live ticks as they arrive.
 */
export function HistoryChart({
  title,
  series,
  windowMs,
  height,
  markers,
  yFormat,
  yIncrements,
  noValuesText,
}: {
  title: string;
  series: readonly HistoryChartSeries[];
  windowMs: number;
  height?: number;
  markers?: readonly ChartMarker[];
  yFormat?: (value: number) => string;
  /** Tick increments of the y axis (see `TimeSeriesChart`). */
  yIncrements?: readonly number[];
  /** Shown when the window has samples but all of them are empty. */
  noValuesText?: string;
}) {
  const api = useApi();
  const names = useMemo(() => series.map((s) => s.name), [series]);
  const { store } = useLiveContext();
  const history = useQuery(historyQuery(api, names, windowMs, store.serverNow));
  const live = useLiveSamples();
  const now = useServerNow();
  // Recomputed when history or a tick arrives (live is a new object per tick), and every 5 s of
  // the clock so the window slides when nothing arrives; not on every clock tick.
  const fromKey = Math.floor((now - windowMs) / 5_000);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `now` is sampled through fromKey on purpose.
  const { data, range } = useMemo(() => {
    const from = now - windowMs;
    const merged = mergeHistory(history.data, live, names, from);
    const ys = merged.ys.map((column, i) => {
      const transform = series[i]?.transform;
      return transform === undefined
        ? column
        : column.map((v) => (v === null ? null : transform(v)));
    });
    const lastAt = merged.x[merged.x.length - 1] ?? now;
    return {
      data: { x: merged.x, ys } satisfies ChartData,
      range: { from, to: Math.max(now, lastAt) },
    };
  }, [history.data, live, names, series, fromKey, windowMs]);
  return (
    <section className="card p-3" aria-label={title}>
      <h2 className="mb-1 text-sm font-semibold">{title}</h2>
      {history.isError && history.data === undefined ? (
        <ErrorNotice error={history.error} onRetry={() => void history.refetch()} />
      ) : null}
      <TimeSeriesChart
        title={title}
        series={series}
        data={data}
        range={range}
        {...(height === undefined ? {} : { height })}
        {...(markers === undefined ? {} : { markers })}
        {...(yFormat === undefined ? {} : { yFormat })}
        {...(yIncrements === undefined ? {} : { yIncrements })}
        {...(noValuesText === undefined ? {} : { noValuesText })}
        emptyText={history.isPending ? "Loading history…" : "No samples in this window"}
      />
    </section>
  );
}
