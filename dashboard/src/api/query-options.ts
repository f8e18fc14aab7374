import type {
  BarrierDetailResponse,
  BarriersResponse,
  CheckpointDetailResponse,
  CheckpointsResponse,
  DatasetDetailResponse,
  DatasetsResponse,
  EventsResponse,
  HistoryResponse,
  LogsResponse,
  MetricsResponse,
  SessionResponse,
  StatusResponse,
  TasksResponse,
  WorkerDetailResponse,
  WorkerHistoryResponse,
  WorkersResponse,
} from "@strata/coordinator/api";
import { keepPreviousData, queryOptions } from "@tanstack/react-query";
import type { ApiClient } from "./api-client.js";
import { queryKeys } from "./query-keys.js";

/**
 * Query options for every resource, key and fetcher defined together (TanStack's
 * `queryOptions` pattern). Freshness comes from the event stream, which invalidates the keys an
 * event changes, so nothing here polls.
 */

const enc = encodeURIComponent;

/** `GET /api/session` (public): whether a token is needed and whether we are signed in. */
export const sessionQuery = (api: ApiClient) =>
  queryOptions({
    queryKey: queryKeys.session,
    queryFn: ({ signal }) => api.get<SessionResponse>("/api/session", { signal }),
  });

/** `GET /api/status`. */
export const statusQuery = (api: ApiClient) =>
  queryOptions({
    queryKey: queryKeys.status,
    queryFn: ({ signal }) => api.get<StatusResponse>("/api/status", { signal }),
  });

/** `GET /api/metrics`: the cards' values until the first tick arrives. */
export const metricsQuery = (api: ApiClient) =>
  queryOptions({
    queryKey: queryKeys.metrics,
    queryFn: ({ signal }) => api.get<MetricsResponse>("/api/metrics", { signal }),
  });

/**
 * `GET /api/history` for the last `windowMs` of the named series (resolution chosen by the
 * coordinator). `now` gives the coordinator's clock (ms since the epoch); default the browser's.
 */
export const historyQuery = (
  api: ApiClient,
  series: readonly string[],
  windowMs: number,
  now: () => number = Date.now,
) =>
  queryOptions({
    queryKey: queryKeys.history.range(series, windowMs),
    queryFn: ({ signal }) => {
      const to = Math.round(now());
      return api.get<HistoryResponse>("/api/history", {
        query: { series: series.join(","), from: to - windowMs, to },
        signal,
      });
    },
    placeholderData: keepPreviousData,
  });

/**
 * `GET /api/workers`: live workers by rank, then dead or departed ones. Without TanStack's deep
 * structural sharing: ticks patch this list every second and keep unchanged workers' objects
 * themselves, so a deep compare of thousands of workers would be pure cost.
 */
export const workersQuery = (api: ApiClient) =>
  queryOptions({
    queryKey: queryKeys.workers.list,
    queryFn: ({ signal }) => api.get<WorkersResponse>("/api/workers", { signal }),
    structuralSharing: false,
  });

/** `GET /api/workers/:id`. */
export const workerQuery = (api: ApiClient, id: string) =>
  queryOptions({
    queryKey: queryKeys.workers.detail(id),
    queryFn: ({ signal }) => api.get<WorkerDetailResponse>(`/api/workers/${enc(id)}`, { signal }),
  });

/**
 * `GET /api/workers/:id/history` over the `windowMs` before `endMs` (ms since the epoch; null:
 * before now, `now` giving the coordinator's clock), at the resolution the coordinator picks
 * (10-second samples, averaged per step for long windows).
 */
export const workerHistoryQuery = (
  api: ApiClient,
  id: string,
  windowMs: number,
  endMs: number | null,
  now: () => number = Date.now,
) =>
  queryOptions({
    queryKey: queryKeys.workers.history(id, windowMs, endMs),
    queryFn: ({ signal }) => {
      const to = Math.round(endMs ?? now());
      return api.get<WorkerHistoryResponse>(`/api/workers/${enc(id)}/history`, {
        query: { from: Math.max(0, to - windowMs), to },
        signal,
      });
    },
    placeholderData: keepPreviousData,
  });

/** `GET /api/datasets`. */
export const datasetsQuery = (api: ApiClient) =>
  queryOptions({
    queryKey: queryKeys.datasets.list,
    queryFn: ({ signal }) => api.get<DatasetsResponse>("/api/datasets", { signal }),
  });

/** `GET /api/datasets/:id`: one page of an epoch's shard map (`epoch` null: the active epoch). */
export const datasetQuery = (
  api: ApiClient,
  id: string,
  epoch: number | null,
  offset = 0,
  limit = 10_000,
) =>
  queryOptions({
    queryKey: queryKeys.datasets.detail(id, epoch, offset, limit),
    queryFn: ({ signal }) =>
      api.get<DatasetDetailResponse>(`/api/datasets/${enc(id)}`, {
        query: { epoch, offset, limit },
        signal,
      }),
    placeholderData: keepPreviousData,
  });

/** `GET /api/checkpoints`: newest first; `jobId` "" for every job. */
export const checkpointsQuery = (api: ApiClient, jobId = "", limit = 500) =>
  queryOptions({
    queryKey: queryKeys.checkpoints.list(jobId),
    queryFn: ({ signal }) =>
      api.get<CheckpointsResponse>("/api/checkpoints", { query: { job_id: jobId, limit }, signal }),
  });

/** `GET /api/checkpoints/:job/:step`. */
export const checkpointQuery = (api: ApiClient, jobId: string, step: number) =>
  queryOptions({
    queryKey: queryKeys.checkpoints.detail(jobId, step),
    queryFn: ({ signal }) =>
      api.get<CheckpointDetailResponse>(`/api/checkpoints/${enc(jobId)}/${step}`, { signal }),
  });

/** `GET /api/barriers`. */
export const barriersQuery = (api: ApiClient) =>
  queryOptions({
    queryKey: queryKeys.barriers.list,
    queryFn: ({ signal }) => api.get<BarriersResponse>("/api/barriers", { signal }),
  });

/** `GET /api/barriers/:id`. */
export const barrierQuery = (api: ApiClient, id: string) =>
  queryOptions({
    queryKey: queryKeys.barriers.detail(id),
    queryFn: ({ signal }) => api.get<BarrierDetailResponse>(`/api/barriers/${enc(id)}`, { signal }),
  });

/** `GET /api/tasks`: newest first. */
export const tasksQuery = (api: ApiClient) =>
  queryOptions({
    queryKey: queryKeys.tasks.list,
    queryFn: ({ signal }) => api.get<TasksResponse>("/api/tasks", { signal }),
  });

/** `GET /api/tasks/:id/logs`: newest first. */
export const taskLogsQuery = (api: ApiClient, id: string) =>
  queryOptions({
    queryKey: queryKeys.tasks.logs(id),
    queryFn: ({ signal }) =>
      api.get<LogsResponse>(`/api/tasks/${enc(id)}/logs`, { query: { limit: 500 }, signal }),
  });

/** Filters of the events page: every value optional (`""` for none). */
export type EventFilters = Readonly<Record<string, string>>;

/** `GET /api/events/recent` with filters (`type`, `worker_id`, `task_id`, `q`, `limit`): newest last. */
export const eventsQuery = (api: ApiClient, filters: EventFilters) =>
  queryOptions({
    queryKey: queryKeys.events.recent(filters),
    queryFn: ({ signal }) =>
      api.get<EventsResponse>("/api/events/recent", { query: filters, signal }),
    placeholderData: keepPreviousData,
  });

/** `GET /api/logs` with filters (`level`, `source`, `q`, `limit`): newest first. */
export const logsQuery = (api: ApiClient, filters: EventFilters) =>
  queryOptions({
    queryKey: queryKeys.logs.list(filters),
    queryFn: ({ signal }) => api.get<LogsResponse>("/api/logs", { query: filters, signal }),
    placeholderData: keepPreviousData,
  });
