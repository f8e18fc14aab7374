/**
 * The coordinator's HTTP API contract: zod schemas and the response types inferred from them.
 * The server validates requests with the schemas and its tests check responses against them; the
 * dashboard imports the types (`import type { WorkerResponse } from "@strata/coordinator/api"`),
 * never copies them. Conventions are in `common.ts` (snake_case, ms since the epoch, bytes).
 */

export type {
  BarrierDetailResponse,
  BarrierResponse,
  BarriersResponse,
} from "./barriers.js";
export {
  barrierDetailResponseSchema,
  barrierResponseSchema,
  barriersResponseSchema,
} from "./barriers.js";
export type {
  CheckpointDetailResponse,
  CheckpointResponse,
  CheckpointsResponse,
} from "./checkpoints.js";
export {
  checkpointDetailResponseSchema,
  checkpointPartSchema,
  checkpointResponseSchema,
  checkpointsResponseSchema,
} from "./checkpoints.js";
export type { ApiError, ApiWorkerState } from "./common.js";
export { apiErrorSchema, workerStateSchema } from "./common.js";
export type { DashboardResponse } from "./dashboard.js";
export { dashboardResponseSchema } from "./dashboard.js";
export type {
  DatasetDetailResponse,
  DatasetResponse,
  DatasetsResponse,
} from "./datasets.js";
export {
  datasetDetailResponseSchema,
  datasetResponseSchema,
  datasetsResponseSchema,
  epochProgressSchema,
} from "./datasets.js";
export type {
  ApiEvent,
  ApiEventType,
  EventLevel,
  EventsResponse,
  StreamHello,
  StreamTick,
  WorkerTick,
} from "./events.js";
export {
  apiEventSchema,
  apiEventTypeSchema,
  eventLevelSchema,
  eventsResponseSchema,
  streamHelloSchema,
  streamTickSchema,
  workerTickSchema,
} from "./events.js";
export type { HistoryQuery, HistoryResponse, HistorySeries } from "./history.js";
export { HISTORY_SERIES, historyQuerySchema, historyResponseSchema } from "./history.js";
export type { LogResponse, LogsResponse } from "./logs.js";
export { logResponseSchema, logsResponseSchema } from "./logs.js";
export type { MetricsResponse } from "./metrics.js";
export { metricsResponseSchema } from "./metrics.js";
export type { CreateSessionRequest, SessionResponse } from "./session.js";
export { createSessionRequestSchema, sessionResponseSchema } from "./session.js";
export type { CoordinatorRole, HealthResponse, StatusResponse } from "./status.js";
export {
  coordinatorRoleSchema,
  healthResponseSchema,
  statusResponseSchema,
} from "./status.js";
export type {
  CreateTaskRequest,
  CreateTaskResponse,
  JsonValue,
  StopTaskResponse,
  TaskResponse,
  TaskStatus,
  TasksResponse,
} from "./tasks.js";
export {
  createTaskRequestSchema,
  createTaskResponseSchema,
  stopTaskResponseSchema,
  taskResponseSchema,
  taskStatusSchema,
  tasksResponseSchema,
} from "./tasks.js";
export type { WorkerHistoryQuery, WorkerHistoryResponse } from "./worker-history.js";
export {
  WORKER_SAMPLE_INTERVAL_MS,
  workerHistoryQuerySchema,
  workerHistoryResponseSchema,
} from "./worker-history.js";
export type {
  ResourceUsageResponse,
  WorkerDetailResponse,
  WorkerResponse,
  WorkerStatus,
  WorkersResponse,
} from "./workers.js";
export {
  gpuUsageSchema,
  resourceUsageSchema,
  workerDetailResponseSchema,
  workerResponseSchema,
  workerStatusSchema,
  workersResponseSchema,
} from "./workers.js";
