import { useSearchParams } from "react-router";

/** The time windows a chart can show, in ms. */
export const CHART_WINDOWS = [
  { id: "5m", label: "5 minutes", ms: 5 * 60_000 },
  { id: "15m", label: "15 minutes", ms: 15 * 60_000 },
  { id: "1h", label: "1 hour", ms: 60 * 60_000 },
  { id: "6h", label: "6 hours", ms: 6 * 60 * 60_000 },
  { id: "24h", label: "24 hours", ms: 24 * 60 * 60_000 },
  { id: "7d", label: "7 days", ms: 7 * 24 * 60 * 60_000 },
] as const;

/** The chart window chosen in the URL (`?window=1h`, default 15 minutes), and a setter. */
export function useChartWindow(): { id: string; ms: number; set(id: string): void } {
  const [params, setParams] = useSearchParams();
  const chosen = CHART_WINDOWS.find((w) => w.id === params.get("window")) ?? CHART_WINDOWS[1];
  return {
    id: chosen.id,
    ms: chosen.ms,
    set(id) {
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          next.set("window", id);
          return next;
        },
        { replace: true },
      );
    },
  };
}

/** A labelled select of {@link CHART_WINDOWS}, kept in the URL so a link shows the same view. */
export function WindowSelect() {
  const window = useChartWindow();
  return (
    <div className="flex items-center gap-2">
      <label htmlFor="chart-window" className="text-sm muted">
        Window
      </label>
      <select
        id="chart-window"
        className="input w-auto py-1"
        value={window.id}
        onChange={(event) => window.set(event.target.value)}
      >
        {CHART_WINDOWS.map((w) => (
          <option key={w.id} value={w.id}>
            Last {w.label}
          </option>
        ))}
      </select>
    </div>
  );
}
