import type { ApiEvent, ApiEventType, EventsResponse, LogResponse } from "@strata/coordinator/api";
import { useQuery } from "@tanstack/react-query";
import { type ColumnDef, createColumnHelper } from "@tanstack/react-table";
import { useEffect, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import { useApi } from "../api/api-context.js";
import { eventsQuery, logsQuery } from "../api/query-options.js";
import { type EventFilterValues, mergeEvents } from "../components/event-filters.js";
import { LEVEL_TONE } from "../components/event-list.js";
import { ExportableTable } from "../components/exportable-table.js";
import { PageHeader } from "../components/page-header.js";
import { QueryStatus } from "../components/query-status.js";
import { RouteAnchor } from "../components/route-anchor.js";
import { ToneBadge } from "../components/tone-badge.js";
import { formatCount, formatTimestamp } from "../format.js";
import { useLiveEvents } from "../live/use-live.js";

/** Every event type, for the filter (typed against the API's, so a new type fails to compile). */
const EVENT_TYPE_FILTERS: Record<ApiEventType, true> = {
  worker_registered: true,
  worker_state_changed: true,
  worker_dead: true,
  worker_deregistered: true,
  membership_changed: true,
  barrier_arrived: true,
  barrier_released: true,
  barrier_aborted: true,
  dataset_registered: true,
  shards_reassigned: true,
  shard_progress: true,
  checkpoint_recorded: true,
  checkpoint_completed: true,
  progress_restored: true,
  task_created: true,
  task_status_changed: true,
  log: true,
};
const EVENT_TYPES = Object.keys(EVENT_TYPE_FILTERS) as ApiEventType[];

const eventColumn = createColumnHelper<ApiEvent>();
const eventColumns = [
  eventColumn.accessor("at", {
    header: "Time",
    sortDescFirst: true,
    cell: (info) => (
      <span className="font-mono text-xs">
        {formatTimestamp(info.getValue(), { withMs: true })}
      </span>
    ),
  }),
  eventColumn.accessor("level", {
    header: "Level",
    cell: (info) => <ToneBadge tone={LEVEL_TONE[info.getValue()]}>{info.getValue()}</ToneBadge>,
  }),
  eventColumn.accessor("type", {
    header: "Type",
    cell: (info) => <span className="font-mono text-xs">{info.getValue()}</span>,
  }),
  eventColumn.accessor("message", {
    header: "Message",
    cell: (info) => (
      <span className="block max-w-[36rem] truncate" title={info.getValue()}>
        {info.getValue()}
      </span>
    ),
  }),
  eventColumn.accessor("worker_id", {
    header: "Worker",
    cell: (info) => {
      const id = info.getValue();
      return id === null ? null : (
        <RouteAnchor className="link" href={`/workers/${encodeURIComponent(id)}`}>
          {id}
        </RouteAnchor>
      );
    },
  }),
  eventColumn.accessor("task_id", {
    header: "Task",
    cell: (info) => {
      const id = info.getValue();
      return id === null ? null : (
        <RouteAnchor className="link" href={`/tasks/${encodeURIComponent(id)}`}>
          {id}
        </RouteAnchor>
      );
    },
  }),
  eventColumn.accessor("source", { header: "Source" }),
] as ColumnDef<ApiEvent, unknown>[];

const logColumn = createColumnHelper<LogResponse>();
const logColumns = [
  logColumn.accessor("timestamp", {
    header: "Time",
    sortDescFirst: true,
    cell: (info) => (
      <span className="font-mono text-xs">
        {formatTimestamp(info.getValue(), { withMs: true })}
      </span>
    ),
  }),
  logColumn.accessor("level", {
    header: "Level",
    cell: (info) => <ToneBadge tone={LEVEL_TONE[info.getValue()]}>{info.getValue()}</ToneBadge>,
  }),
  logColumn.accessor("source", { header: "Source" }),
  logColumn.accessor("message", {
    header: "Message",
    cell: (info) => (
      <span className="block max-w-[36rem] truncate" title={info.getValue()}>
        {info.getValue()}
      </span>
    ),
  }),
  logColumn.accessor("worker_id", { header: "Worker" }),
  logColumn.accessor("task_id", { header: "Task" }),
] as ColumnDef<LogResponse, unknown>[];

function useFilters(): [EventFilterValues, (key: keyof EventFilterValues, value: string) => void] {
  const [params, setParams] = useSearchParams();
  const filters: EventFilterValues = {
    q: params.get("q") ?? "",
    type: params.get("type") ?? "",
    level: params.get("level") ?? "",
    worker: params.get("worker") ?? "",
    task: params.get("task") ?? "",
  };
  return [
    filters,
    (key, value) =>
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          if (value === "") next.delete(key);
          else next.set(key, value);
          return next;
        },
        { replace: true },
      ),
  ];
}

/** A time window (ms since the epoch; null: open on that side), as `from`/`to` in the URL. */
interface TimeWindow {
  from: number | null;
  to: number | null;
}

function useTimeWindow(): [TimeWindow, (key: keyof TimeWindow, ms: number | null) => void] {
  const [params, setParams] = useSearchParams();
  const read = (key: keyof TimeWindow) => {
    const raw = params.get(key);
    const ms = raw === null || raw === "" ? Number.NaN : Number(raw);
    return Number.isSafeInteger(ms) && ms >= 0 ? ms : null;
  };
  return [
    { from: read("from"), to: read("to") },
    (key, ms) =>
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          if (ms === null) next.delete(key);
          else next.set(key, String(ms));
          return next;
        },
        { replace: true },
      ),
  ];
}

/** `ms` as a `datetime-local` value in local time (`2026-11-29T12:00:05`); "" for none. */
function toLocalInput(ms: number | null): string {
  if (ms === null) return "";
  return formatTimestamp(ms).replace(" ", "T");
}

/** A labelled local date-time input for one side of the window (seconds precision). */
function TimeInput({
  id,
  label,
  value,
  onChange,
}: {
  id: string;
  label: string;
  value: number | null;
  onChange(ms: number | null): void;
}) {
  return (
    <div>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <input
        id={id}
        type="datetime-local"
        step={1}
        className="input"
        value={toLocalInput(value)}
        onChange={(e) => {
          const ms = e.target.value === "" ? Number.NaN : new Date(e.target.value).getTime();
          onChange(Number.isFinite(ms) ? ms : null);
        }}
      />
    </div>
  );
}

/** Whether an event's time is within the window (`from` inclusive, `to` exclusive, as the API). */
const inWindow = (at: number, span: TimeWindow) =>
  (span.from === null || at >= span.from) && (span.to === null || at < span.to);

/** A text input that reports its value after the user pauses typing (300 ms). */
function DebouncedInput({
  id,
  value,
  onChange,
  placeholder,
}: {
  id: string;
  value: string;
  onChange(v: string): void;
  placeholder: string;
}) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const timer = setTimeout(() => onChange(text), 300);
    return () => clearTimeout(timer);
  }, [text, value, onChange]);
  return (
    <input
      id={id}
      type="search"
      className="input"
      value={text}
      placeholder={placeholder}
      onChange={(e) => setText(e.target.value)}
    />
  );
}

function EventsView({ filters, span }: { filters: EventFilterValues; span: TimeWindow }) {
  const api = useApi();
  const query = useMemo(
    () => ({
      limit: "1000",
      type: filters.type,
      worker_id: filters.worker,
      task_id: filters.task,
      q: filters.q,
      from: span.from === null ? "" : String(span.from),
      to: span.to === null ? "" : String(span.to),
    }),
    [filters.type, filters.worker, filters.task, filters.q, span.from, span.to],
  );
  const first = useQuery(eventsQuery(api, query));
  const [older, setOlder] = useState<{ key: string; pages: ApiEvent[][]; before: number | null }>({
    key: "",
    pages: [],
    before: null,
  });
  const key = JSON.stringify(query);
  const olderPages = older.key === key ? older.pages : [];
  const before = older.key === key ? older.before : (first.data?.next_before ?? null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const live = useLiveEvents();
  const events = useMemo(
    () =>
      mergeEvents([first.data?.events ?? [], ...olderPages], live, filters).filter((e) =>
        inWindow(e.at, span),
      ),
    [first.data, olderPages, live, filters, span],
  );
  const loadOlder = async () => {
    if (before === null) return;
    setLoadingOlder(true);
    try {
      const page = await api.get<EventsResponse>("/api/events/recent", {
        query: { ...query, before },
      });
      setOlder({ key, pages: [...olderPages, page.events], before: page.next_before });
    } finally {
      setLoadingOlder(false);
    }
  };
  return (
    <QueryStatus query={first} loadingLabel="Loading events…">
      {() => (
        <div>
          <ExportableTable
            rows={events}
            columns={eventColumns}
            getRowId={(e) => String(e.seq)}
            caption="Events, newest first"
            testId="events-table"
            summary={`${formatCount(events.length)} events, newest first; new ones appear live.`}
            liveSummary
            exportPrefix="strata-events"
            emptyTitle="No events match"
          />
          {before !== null ? (
            <button
              type="button"
              className="btn mt-2"
              onClick={() => void loadOlder()}
              disabled={loadingOlder}
            >
              {loadingOlder ? "Loading…" : "Load older events"}
            </button>
          ) : null}
        </div>
      )}
    </QueryStatus>
  );
}

function LogsView({ filters, span }: { filters: EventFilterValues; span: TimeWindow }) {
  const api = useApi();
  const query = useMemo(
    () => ({
      limit: "2000",
      level: filters.level,
      q: filters.q,
      worker_id: filters.worker,
      task_id: filters.task,
      from: span.from === null ? "" : String(span.from),
      to: span.to === null ? "" : String(span.to),
    }),
    [filters.level, filters.q, filters.worker, filters.task, span.from, span.to],
  );
  const logs = useQuery(logsQuery(api, query));
  return (
    <QueryStatus query={logs} loadingLabel="Loading logs…">
      {(lines) => (
        <div>
          <ExportableTable
            rows={lines}
            columns={logColumns}
            getRowId={(l) => l.id}
            caption="Logs, newest first"
            testId="logs-table"
            summary={`${formatCount(lines.length)} log lines, newest first.`}
            exportPrefix="strata-logs"
            emptyTitle="No log lines match"
          />
        </div>
      )}
    </QueryStatus>
  );
}

/**
 * Everything the coordinator recorded: structured events (filter by type, level, worker, task,
 * time window; search; page back; new ones arrive live) and log lines; both export as JSON.
 * Filters live in the URL.
 */
export function EventsPage() {
  const [params, setParams] = useSearchParams();
  const view = params.get("view") === "logs" ? "logs" : "events";
  const [filters, setFilter] = useFilters();
  const [span, setSpan] = useTimeWindow();
  const tab = (id: "events" | "logs", label: string) => (
    <button
      type="button"
      role="tab"
      id={`tab-${id}`}
      aria-selected={view === id}
      aria-controls={`panel-${id}`}
      className={`border-b-2 px-3 py-1.5 text-sm font-medium ${
        view === id
          ? "border-teal-600 text-teal-800 dark:text-teal-300"
          : "border-transparent muted hover:text-zinc-900 dark:hover:text-white"
      }`}
      onClick={() =>
        setParams((prev) => {
          const next = new URLSearchParams(prev);
          if (id === "events") next.delete("view");
          else next.set("view", id);
          return next;
        })
      }
    >
      {label}
    </button>
  );
  return (
    <div>
      <PageHeader
        title="Events & logs"
        description="What the coordinator recorded, stored across restarts."
      />
      <div
        role="tablist"
        aria-label="Events or logs"
        className="mb-3 flex gap-1 border-b border-zinc-200 dark:border-zinc-800"
      >
        {tab("events", "Events")}
        {tab("logs", "Logs")}
      </div>
      <div className="mb-3 grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-5">
        <div className="col-span-2 md:col-span-1">
          <label htmlFor="event-search" className="label">
            Search messages
          </label>
          <DebouncedInput
            id="event-search"
            value={filters.q}
            onChange={(v) => setFilter("q", v)}
            placeholder="e.g. dead"
          />
        </div>
        {view === "events" ? (
          <div>
            <label htmlFor="event-type" className="label">
              Type
            </label>
            <select
              id="event-type"
              className="input"
              value={filters.type}
              onChange={(e) => setFilter("type", e.target.value)}
            >
              <option value="">Any type</option>
              {EVENT_TYPES.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <div>
          <label htmlFor="event-level" className="label">
            Lowest level
          </label>
          <select
            id="event-level"
            className="input"
            value={filters.level}
            onChange={(e) => setFilter("level", e.target.value)}
          >
            <option value="">Any level</option>
            <option value="info">info</option>
            <option value="warn">warn</option>
            <option value="error">error</option>
          </select>
        </div>
        <div>
          <label htmlFor="event-worker" className="label">
            Worker id
          </label>
          <DebouncedInput
            id="event-worker"
            value={filters.worker}
            onChange={(v) => setFilter("worker", v)}
            placeholder="w-0"
          />
        </div>
        <div>
          <label htmlFor="event-task" className="label">
            Task id
          </label>
          <DebouncedInput
            id="event-task"
            value={filters.task}
            onChange={(v) => setFilter("task", v)}
            placeholder="task_…"
          />
        </div>
        <TimeInput
          id="event-from"
          label="From"
          value={span.from}
          onChange={(ms) => setSpan("from", ms)}
        />
        <TimeInput
          id="event-to"
          label="Until"
          value={span.to}
          onChange={(ms) => setSpan("to", ms)}
        />
      </div>
      <div role="tabpanel" id={`panel-${view}`} aria-labelledby={`tab-${view}`}>
        {view === "events" ? (
          <EventsView filters={filters} span={span} />
        ) : (
          <LogsView filters={filters} span={span} />
        )}
      </div>
    </div>
  );
}
