import type { ApiEvent, EventLevel } from "@strata/coordinator/api";
import { Link } from "react-router";
import { formatTimestamp } from "../format.js";
import { type Tone, ToneBadge } from "./tone-badge.js";

/** The badge tone of an event level. */
export const LEVEL_TONE: Record<EventLevel, Tone> = {
  debug: "neutral",
  info: "info",
  warn: "warn",
  error: "bad",
};

/** A compact list of events, newest first: time, level, type, message, links to what they concern. */
export function EventList({ events, label }: { events: readonly ApiEvent[]; label: string }) {
  return (
    <ol className="divide-y divide-zinc-100 text-sm dark:divide-zinc-800" aria-label={label}>
      {events.map((event) => (
        <li key={event.seq} className="flex flex-wrap items-baseline gap-x-3 gap-y-1 py-1.5">
          <time
            className="font-mono text-xs tabular-nums muted"
            dateTime={new Date(event.at).toISOString()}
          >
            {formatTimestamp(event.at, { withMs: true })}
          </time>
          <ToneBadge tone={LEVEL_TONE[event.level]}>{event.level}</ToneBadge>
          <span className="font-mono text-xs muted">{event.type}</span>
          <span className="min-w-0 flex-1">{event.message}</span>
          {event.task_id !== null ? (
            <Link className="link text-xs" to={`/tasks/${encodeURIComponent(event.task_id)}`}>
              task {event.task_id}
            </Link>
          ) : null}
        </li>
      ))}
    </ol>
  );
}
