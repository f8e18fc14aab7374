import type { ApiEvent, ApiEventType } from "@strata/coordinator/api";
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link } from "react-router";
import { useApi } from "../api/api-context.js";
import { eventsQuery } from "../api/query-options.js";
import { formatClockTime } from "../format.js";
import { useLiveEvents } from "../live/use-live.js";
import { HistoryChart, type HistoryChartSeries } from "./history-chart.js";
import type { ChartMarker } from "./time-series-chart.js";

/** The membership changes the timeline marks, with their colours and legend labels. */
export const MEMBERSHIP_MARKS: Partial<Record<ApiEventType, { color: string; label: string }>> = {
  worker_registered: { color: "#059669", label: "Join" },
  worker_dead: { color: "#dc2626", label: "Death" },
  worker_deregistered: { color: "#71717a", label: "Leave" },
  shards_reassigned: { color: "#d97706", label: "Rebalance" },
};

const MEMBERSHIP_TYPES = Object.keys(MEMBERSHIP_MARKS).join(",");

const SERIES: HistoryChartSeries[] = [
  {
    name: "workers_alive",
    label: "Live workers",
    color: "#0d9488",
    format: (v) => v.toFixed(0),
    fill: true,
  },
  { name: "workers_dead", label: "Dead workers", color: "#dc2626", format: (v) => v.toFixed(0) },
];

/**
 * The membership timeline: live and dead worker counts over the window, with a dashed line at
 * every join (green), death (red), leave (grey) and rebalance (amber), and the latest of them
 * listed below. Stored events first (`/api/events/recent`), then live ones.
 */
export function MembershipTimeline({ windowMs }: { windowMs: number }) {
  const api = useApi();
  const stored = useQuery(eventsQuery(api, { type: MEMBERSHIP_TYPES, limit: "1000" }));
  const live = useLiveEvents();
  const events = useMemo(() => {
    const bySeq = new Map<number, ApiEvent>();
    for (const event of stored.data?.events ?? []) bySeq.set(event.seq, event);
    for (const event of live) if (event.type in MEMBERSHIP_MARKS) bySeq.set(event.seq, event);
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }, [stored.data, live]);
  const markers = useMemo<ChartMarker[]>(
    () =>
      events.flatMap((event) => {
        const mark = MEMBERSHIP_MARKS[event.type];
        return mark === undefined ? [] : [{ at: event.at, color: mark.color, label: mark.label }];
      }),
    [events],
  );
  const latest = events.slice(-8).reverse();
  return (
    <div className="space-y-2">
      <HistoryChart
        title="Membership timeline"
        series={SERIES}
        windowMs={windowMs}
        markers={markers}
        yFormat={(v) => v.toFixed(0)}
      />
      <div className="card p-3">
        <div className="mb-2 flex flex-wrap items-center gap-3 text-xs">
          <h3 className="text-sm font-semibold">Membership changes</h3>
          {Object.values(MEMBERSHIP_MARKS).map((mark) => (
            <span key={mark.label} className="inline-flex items-center gap-1 muted">
              <span
                className="inline-block h-3 w-0.5"
                style={{ background: mark.color }}
                aria-hidden="true"
              />
              {mark.label}
            </span>
          ))}
        </div>
        {latest.length === 0 ? (
          <p className="text-sm muted">No joins, deaths or rebalances recorded yet.</p>
        ) : (
          <ul className="space-y-1 text-sm" aria-label="Latest membership changes">
            {latest.map((event) => (
              <li key={event.seq} className="flex gap-2">
                <span className="font-mono text-xs tabular-nums muted">
                  {formatClockTime(event.at)}
                </span>
                <span
                  className="mt-1.5 inline-block h-2 w-2 shrink-0 rounded-full"
                  style={{ background: MEMBERSHIP_MARKS[event.type]?.color }}
                  aria-hidden="true"
                />
                <span className="min-w-0 truncate">
                  {event.worker_id !== null ? (
                    <Link className="link" to={`/workers/${encodeURIComponent(event.worker_id)}`}>
                      {event.message}
                    </Link>
                  ) : (
                    event.message
                  )}
                </span>
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
