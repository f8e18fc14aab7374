export type { BarrierFailurePolicy, BarrierState } from "./barrier-state.js";
export type { CallOptions, DeadlineSignal } from "./call-options.js";
export { abortReason, createDeadlineSignal, sleep, throwIfAborted } from "./call-options.js";
export type { CheckpointKind, CheckpointRecord } from "./checkpoint-metadata.js";
export type { Clock, TimerHandle } from "./clock.js";
export { MAX_TIMER_DELAY_MS, ManualClock, systemClock } from "./clock.js";
export { Code, codeFromNumber, codeToString, isRetryableCode } from "./code.js";
export { codeToHttpStatus } from "./code-to-http-status.js";
export type { DatasetSpec } from "./dataset-spec.js";
export type { ConfigSourceName, LoadConfigOptions, LoadedConfig } from "./load-config.js";
export { configKeyToEnvName, configKeyToFlag, loadConfig } from "./load-config.js";
export type { Logger, LoggerOptions, LogLevel } from "./logger.js";
export { createLogger, createSilentLogger, LOG_LEVELS } from "./logger.js";
export type { Membership, MembershipVersion } from "./membership.js";
export type { BackoffOptions, RetryOptions } from "./retry.js";
export { backoffDelayMs, retry } from "./retry.js";
export type { RuntimeErrorOptions } from "./runtime-error.js";
export { RuntimeError } from "./runtime-error.js";
export type { SampleRange, ShardAssignment } from "./shard-assignment.js";
export type { GpuUsage, ResourceUsage, WorkerInfo } from "./worker-info.js";
export type { WorkerState } from "./worker-state.js";
export {
  canTransitionWorker,
  isLiveWorkerState,
  transitionWorker,
  WORKER_STATES,
  WORKER_TRANSITIONS,
} from "./worker-state.js";
