export type {
  BackpressurePolicy,
  CheckpointManagerOptions,
  CheckpointManagerStats,
  CheckpointRef,
  CloseOptions,
  SaveHandle,
  StepCommitMode,
} from "./checkpoint-manager.js";
export { CheckpointManager, createCheckpointManager } from "./checkpoint-manager.js";
export type { CheckpointState, StateBuffer } from "./checkpoint-state.js";
export { toTypedArray } from "./checkpoint-state.js";
export type {
  CheckpointDescription,
  CheckpointInfo,
  LoadedCheckpoint,
  LoadOptions,
  StepCommit,
  VerifyOptions,
  VerifyProblem,
  VerifyReport,
} from "./checkpoint-store.js";
export type { ChecksumAlgorithm } from "./checksum.js";
export { CHECKSUM_ALGORITHM, CHECKSUM_ALGORITHMS } from "./checksum.js";
export type { CliIo } from "./cli-program.js";
export { EXIT, runCli } from "./cli-program.js";
export type { Compression } from "./compression.js";
export { COMPRESSIONS } from "./compression.js";
export { CheckpointLayout, LATEST_NAME, MANIFEST_NAME, MAX_STEP } from "./layout.js";
export type {
  Dtype,
  ManifestObject,
  RankManifest,
  StepManifest,
  StepManifestRank,
} from "./manifest.js";
export { FORMAT_VERSION } from "./manifest.js";
export type { OpenStorage } from "./open-storage.js";
export { openStorage } from "./open-storage.js";
export type {
  PruneOptions,
  PruneResult,
  RetentionCandidate,
  RetentionPlan,
  RetentionPolicy,
} from "./retention.js";
export { planRetention } from "./retention.js";
