import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatClockTime } from "../format.js";
import { useThemeContext } from "../theme/theme-context.js";

/** One line of a {@link TimeSeriesChart}. */
export interface ChartSeries {
  label: string;
  /** A CSS colour. */
  color: string;
  /** Formats a value for the legend (default: 2 significant decimals). */
  format?: (value: number) => string;
  /** Fill under the line (default false). */
  fill?: boolean;
}

/** A vertical marker (a join, a death, a rebalance) at a time. */
export interface ChartMarker {
  /** ms since the epoch. */
  at: number;
  color: string;
  label: string;
}

/** Columns: `x` in ms since the epoch, one `y` column per series (null: no sample). */
export interface ChartData {
  x: readonly number[];
  ys: readonly (readonly (number | null)[])[];
}

/** Props of {@link TimeSeriesChart}. */
export interface TimeSeriesChartProps {
  /** Names the chart for screen readers (with the latest values). */
  title: string;
  series: readonly ChartSeries[];
  data: ChartData;
  /** Height in CSS pixels (default 180). The width follows the container. */
  height?: number;
  /** Formats the y axis ticks (default: the first series' format). */
  yFormat?: (value: number) => string;
  /** Tick increments of the y axis (e.g. {@link BINARY_INCREMENTS} for bytes); default uPlot's decimal ones. */
  yIncrements?: readonly number[];
  markers?: readonly ChartMarker[];
  /** The x range shown, ms since the epoch; default the data's own range. */
  range?: { from: number; to: number };
  /** Shown over a chart without samples (default "No samples in this window"). */
  emptyText?: string;
  /** Shown over a chart whose samples are all empty (default "Nothing recorded in this window"). */
  noValuesText?: string;
}

/** Tick increments for byte quantities: 1, 2, 4 … 512 of each binary unit, so ticks read "256 KiB", "1.0 MiB". */
export const BINARY_INCREMENTS: readonly number[] = Array.from({ length: 6 }, (_, unit) =>
  Array.from({ length: 10 }, (_, i) => 2 ** i * 1024 ** unit),
).flat();

/** Width of the y axis in CSS px: the longest tick label at ~7 px a character, plus the ticks. */
function axisSize(_u: uPlot, values: string[] | null): number {
  const longest = Math.max(3, ...(values ?? []).map((v) => v.length));
  return Math.ceil(longest * 7 + 18);
}

const defaultFormat = (value: number): string =>
  Math.abs(value) >= 100
    ? value.toFixed(0)
    : Math.abs(value) >= 10
      ? value.toFixed(1)
      : value.toFixed(2);

function markerPlugin(getMarkers: () => readonly ChartMarker[]): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u;
          const { left, top, width, height } = u.bbox;
          ctx.save();
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          for (const marker of getMarkers()) {
            const x = Math.round(u.valToPos(marker.at, "x", true));
            if (x < left || x > left + width) continue;
            ctx.strokeStyle = marker.color;
            ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
          }
          ctx.restore();
        },
      ],
    },
  };
}

/**
 * A time-series line chart drawn by uPlot (canvas; fast with thousands of points). Created once
 * per theme and series set; new data is handed to the same plot with `setData`, so a once-a-
 * second update costs one redraw. The container carries `data-points`, `data-first-at` (ms) and
 * `data-peak` (the first series' largest value) for tests, and an accessible name with the latest
 * values.
 */
export function TimeSeriesChart(props: TimeSeriesChartProps) {
  const { title, series, data, height = 180, markers = [], range } = props;
  const containerRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const markersRef = useRef(markers);
  markersRef.current = markers;
  const rangeRef = useRef(range);
  rangeRef.current = range;
  const { dark } = useThemeContext();
  const seriesKey = series.map((s) => `${s.label}:${s.color}`).join("|");
  const yFormat = props.yFormat ?? series[0]?.format ?? defaultFormat;
  const formatRef = useRef(yFormat);
  formatRef.current = yFormat;

  // biome-ignore lint/correctness/useExhaustiveDependencies: recreate only when the look changes; data flows through setData below.
  useEffect(() => {
    const container = containerRef.current;
    if (container === null) return;
    const axisColor = dark ? "#a1a1aa" : "#52525b";
    const gridColor = dark ? "rgba(255,255,255,0.08)" : "rgba(0,0,0,0.07)";
    const opts: uPlot.Options = {
      width: Math.max(200, container.clientWidth),
      height,
      ms: 1,
      cursor: { drag: { x: false, y: false } },
      legend: { show: true, live: true },
      scales: {
        x: {
          time: true,
          range: (_u, min, max) => {
            const r = rangeRef.current;
            return r === undefined ? [min, max] : [r.from, r.to];
          },
        },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        {
          stroke: axisColor,
          grid: { stroke: gridColor },
          ticks: { stroke: gridColor },
          values: (_u, ticks) => ticks.map((t) => formatClockTime(t)),
        },
        {
          stroke: axisColor,
          grid: { stroke: gridColor },
          ticks: { stroke: gridColor },
          size: axisSize,
          ...(props.yIncrements === undefined ? {} : { incrs: [...props.yIncrements] }),
          values: (_u, ticks) => ticks.map((t) => formatRef.current(t)),
        },
      ],
      series: [
        { label: "Time", value: (_u, v) => (v === null ? "—" : formatClockTime(v)) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          spanGaps: false,
          points: { show: false },
          ...(s.fill ? { fill: `${s.color}22` } : {}),
          value: (_u: uPlot, v: number | null) =>
            v === null ? "—" : (s.format ?? defaultFormat)(v),
        })),
      ],
      plugins: [markerPlugin(() => markersRef.current)],
    };
    const plot = new uPlot(opts, toAligned(data, series.length), container);
    plotRef.current = plot;
    const observer =
      typeof ResizeObserver === "undefined"
        ? undefined
        : new ResizeObserver(() => {
            const width = Math.max(200, container.clientWidth);
            if (width !== plot.width) plot.setSize({ width, height });
          });
    observer?.observe(container);
    return () => {
      observer?.disconnect();
      plot.destroy();
      plotRef.current = null;
    };
  }, [dark, seriesKey, height, props.yIncrements]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: markers and range are read through refs at draw time; a change redraws.
  useEffect(() => {
    plotRef.current?.setData(toAligned(data, series.length));
  }, [data, markers, range?.from, range?.to, series.length]);

  const points = data.x.length;
  let peak = Number.NEGATIVE_INFINITY;
  for (const v of data.ys[0] ?? []) if (v !== null && v > peak) peak = v;
  // Points whose every series is null (e.g. no barrier released) draw nothing: say so.
  const anyValue = data.ys.some((column) => column.some((v) => v !== null));
  const latest = series
    .map((s, i) => {
      const column = data.ys[i] ?? [];
      const value = lastValue(column);
      return `${s.label} ${value === null ? "no data" : (s.format ?? defaultFormat)(value)}`;
    })
    .join(", ");
  return (
    <div className="relative">
      <div
        ref={containerRef}
        role="img"
        aria-label={`${title}: ${points === 0 ? "no samples" : `latest ${latest}`}`}
        data-points={points}
        data-first-at={data.x[0] ?? ""}
        data-peak={Number.isFinite(peak) ? peak : ""}
        data-testid={`chart-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`}
        className="w-full"
        style={{ minHeight: height }}
      />
      {points === 0 || !anyValue ? (
        <p className="pointer-events-none absolute inset-x-0 top-1/3 text-center text-sm muted">
          {points === 0
            ? (props.emptyText ?? "No samples in this window")
            : (props.noValuesText ?? "Nothing recorded in this window")}
        </p>
      ) : null}
    </div>
  );
}

function lastValue(column: readonly (number | null)[]): number | null {
  for (let i = column.length - 1; i >= 0; i--) {
    const v = column[i];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}

function toAligned(data: ChartData, seriesCount: number): uPlot.AlignedData {
  const ys: (number | null)[][] = [];
  for (let i = 0; i < seriesCount; i++) ys.push((data.ys[i] ?? []) as (number | null)[]);
  return [data.x as number[], ...ys] as uPlot.AlignedData;
}
