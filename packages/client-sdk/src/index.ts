export type {
  ConnectionOptions,
  CoordinatorConnection,
  UnaryCallOptions,
  UnaryMethod,
  UnaryMethods,
} from "./coordinator-connection.js";
export { createCoordinatorConnection } from "./coordinator-connection.js";
export type { CoordinatorClientOptions } from "./create-coordinator-client.js";
export { bearerTokenInterceptor, createCoordinatorClient } from "./create-coordinator-client.js";
export type { DataPositionJson, DatasetPositionJson } from "./data-position.js";
export {
  emptyPosition,
  isPositionComplete,
  normalizePosition,
  parseDataPosition,
  positionFromJson,
  positionToJson,
} from "./data-position.js";
export type { EpochSamplesOptions, ProgressReport, Sample } from "./epoch-samples.js";
export { EpochSamples } from "./epoch-samples.js";
export { FIELD_METADATA_KEY, fromServiceError, LEADER_METADATA_KEY } from "./grpc-error.js";
export type { HeartbeatTransport } from "./heartbeat-loop.js";
export type { ResourceSampler, ResourceSamplerOptions } from "./resource-sampler.js";
export { createResourceSampler, parseNvidiaSmi } from "./resource-sampler.js";
export type {
  BarrierOptions,
  BarrierResult,
  DatasetHandle,
  DatasetInput,
  MembershipEvent,
  WorkerEvents,
  WorkerOptions,
  WorkerStatus,
} from "./strata-worker.js";
export { connectWorker, StrataWorker } from "./strata-worker.js";
export type {
  CheckpointRound,
  CheckpointRoundInput,
  CommittedCheckpoint,
  CoordinatedCheckpoint,
  ResumedCheckpoint,
  ResumeOptions,
  SavedCheckpoint,
  WorkerCheckpointsOptions,
} from "./worker-checkpoints.js";
export { openWorkerCheckpoints, WorkerCheckpoints } from "./worker-checkpoints.js";
export type { TaskSpec, WorkerCommand } from "./worker-command.js";
export { parseWorkerCommand } from "./worker-command.js";
