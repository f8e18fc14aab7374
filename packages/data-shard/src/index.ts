export type {
  AssignShardsInput,
  ShardPlan,
  WorkerSpec,
} from "./assign-shards.js";
export {
  assignShards,
  DEFAULT_EPSILON,
  MAX_EPSILON,
  MAX_WEIGHT,
  MAX_WORKERS,
  ownerOf,
} from "./assign-shards.js";
export type { DatasetGeometry } from "./dataset-geometry.js";
export {
  datasetGeometry,
  MAX_TOTAL_SHARDS,
  shardLength,
  shardOfSample,
  shardRange,
} from "./dataset-geometry.js";
export type {
  EpochPosition,
  EpochProgressInput,
  PlanRemainingOptions,
  RemainingPlan,
  WorkItem,
} from "./epoch-progress.js";
export {
  consumedSamples,
  createEpochProgress,
  EPOCH_POSITION_VERSION,
  isEpochComplete,
  markConsumed,
  mergeRanges,
  parseEpochPosition,
  planRemaining,
  remainingRanges,
  resolveSampleIndices,
  serializeEpochPosition,
} from "./epoch-progress.js";
export type { HashRing, HashRingOptions, HashRingState } from "./hash-ring.js";
export {
  createHashRing,
  DEFAULT_VIRTUAL_NODES,
  hashRingFromState,
  MAX_VIRTUAL_NODES_PER_NODE,
} from "./hash-ring.js";
export type { ShardPlanDiff } from "./plan-diff.js";
export { countMovedShards, diffShardPlans } from "./plan-diff.js";
export type { SeededRandom } from "./seeded-random.js";
export { createSeededRandom } from "./seeded-random.js";
export { parseShardPlan, SHARD_PLAN_VERSION, serializeShardPlan } from "./shard-plan-json.js";
export {
  epochSeed,
  fisherYates,
  MAX_SHUFFLE_LENGTH,
  shuffledSampleOrder,
  shuffledShardOrder,
} from "./shuffle.js";
export type { ToShardAssignmentsOptions } from "./to-shard-assignments.js";
export { toShardAssignments } from "./to-shard-assignments.js";
