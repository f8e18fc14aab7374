import type { ShardAssignment } from "@strata/runtime-core";
import type { ShardPlan } from "./assign-shards.js";
import { type DatasetGeometry, shardRange } from "./dataset-geometry.js";
import { invalidArgument } from "./validate.js";

/** Options of {@link toShardAssignments}. */
export interface ToShardAssignmentsOptions {
  /**
   * Paths of a shard's data: the same list for every shard (e.g. `[dataset.path]`) or a function
   * of the shard id. Default: none.
   */
  readonly filePaths?: readonly string[] | ((shardId: number) => readonly string[]);
}

/**
 * The `ShardAssignment`s of one worker in `plan`, in the plan's (epoch-shuffled) order, with
 * sample index ranges from `geometry`. A worker that owns nothing gets an empty list.
 *
 * @throws RuntimeError(InvalidArgument) when `workerId` is not in the plan or the geometry does
 *   not match the plan's shard count.
 */
export function toShardAssignments(
  plan: ShardPlan,
  workerId: string,
  geometry: DatasetGeometry,
  options: ToShardAssignmentsOptions = {},
): ShardAssignment[] {
  const shards = plan.shardsByWorker.get(workerId);
  if (shards === undefined) {
    return invalidArgument("workerId", `is not a worker of this plan`, workerId);
  }
  if (geometry.totalShards !== plan.totalShards) {
    return invalidArgument(
      "geometry.totalShards",
      `must equal the plan's totalShards (${plan.totalShards})`,
      geometry.totalShards,
    );
  }
  const paths = options.filePaths;
  return shards.map((shardId) => {
    const { start, end } = shardRange(geometry, shardId);
    return {
      datasetId: plan.datasetId,
      shardId,
      totalShards: plan.totalShards,
      startIndex: start,
      endIndex: end,
      epoch: plan.epoch,
      filePaths: typeof paths === "function" ? paths(shardId) : (paths ?? []),
    };
  });
}
