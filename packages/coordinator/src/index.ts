export type { CoordinatorConfig, CoordinatorConfigInput } from "./config.js";
export { coordinatorConfigSchema } from "./config.js";
export type {
  BarrierResult,
  CoordinatorEngine,
  CoordinatorEngineOptions,
  CoordinatorEvent,
  CoordinatorEventType,
  EngineSnapshot,
} from "./engine/index.js";
export { createCoordinatorEngine } from "./engine/index.js";
export { HISTORY_FILE } from "./history/history.js";
export type { ReadinessParts } from "./http/core-routes.js";
export type { HttpApi, HttpApiOptions } from "./http/http-api.js";
export { COORDINATOR_VERSION } from "./http/http-api.js";
export type { CoordinatorMetrics } from "./metrics/coordinator-metrics.js";
export type {
  RunningCoordinator,
  StartCoordinatorOptions,
} from "./start-coordinator.js";
export { DATABASE_FILE, startCoordinator } from "./start-coordinator.js";
export type { CoordinatorStore } from "./store/index.js";
export { createMemoryStore, createSqliteStore } from "./store/index.js";
