import type { ApiEvent, EventLevel } from "@strata/coordinator/api";

/** The events page's filters (empty string: any). */
export interface EventFilterValues {
  q: string;
  type: string;
  level: string;
  worker: string;
  task: string;
}

const LEVEL_RANK: Record<EventLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Whether an event passes the filters: `type`, `worker`, `task` exact; `level` the lowest level
 * shown; `q` a case-insensitive substring of the message. The rules the coordinator applies to
 * stored events, so live ones join the list consistently.
 */
export function matchesEventFilters(event: ApiEvent, filters: EventFilterValues): boolean {
  if (filters.type !== "" && event.type !== filters.type) return false;
  if (filters.worker !== "" && event.worker_id !== filters.worker) return false;
  if (filters.task !== "" && event.task_id !== filters.task) return false;
  if (
    filters.level !== "" &&
    LEVEL_RANK[event.level] < (LEVEL_RANK[filters.level as EventLevel] ?? 0)
  ) {
    return false;
  }
  const q = filters.q.trim().toLowerCase();
  if (q === "") return true;
  return event.message.toLowerCase().includes(q);
}

/**
 * Joins stored pages and live events into one list, newest first, each seq once, then filters.
 */
export function mergeEvents(
  pages: readonly (readonly ApiEvent[])[],
  live: readonly ApiEvent[],
  filters: EventFilterValues,
): ApiEvent[] {
  const bySeq = new Map<number, ApiEvent>();
  for (const page of pages) for (const event of page) bySeq.set(event.seq, event);
  for (const event of live) bySeq.set(event.seq, event);
  return [...bySeq.values()]
    .filter((e) => matchesEventFilters(e, filters))
    .sort((a, b) => b.seq - a.seq);
}
