import type { ShardPlan } from "./assign-shards.js";
import { invalidArgument } from "./validate.js";

/** What changed between two plans of the same dataset. */
export interface ShardPlanDiff {
  /** Shards owned in both plans whose owner changed (or that only one plan assigns). */
  readonly moved: number;
  /**
   * The fewest owner changes any plan with `after`'s loads needs, starting from `before`:
   * Σ over workers of max(0, after load − before load) (a worker absent from a plan has load 0).
   * For one leave with no other load change it is the leaver's load; for one join, the
   * joiner's load.
   */
  readonly minimum: number;
  /** `moved / minimum` (1 when both are 0; Infinity when only `minimum` is 0). */
  readonly ratio: number;
  /** Workers only in `after`, sorted. */
  readonly joined: readonly string[];
  /** Workers only in `before`, sorted. */
  readonly left: readonly string[];
  /** Moved shards per new owner (`after`'s worker id), only owners that received shards. */
  readonly receivedBy: ReadonlyMap<string, number>;
}

/**
 * Number of shards whose owner differs between `before` and `after` (plans of the same dataset
 * and shard count, e.g. before and after a membership change).
 *
 * @throws RuntimeError(InvalidArgument) when the plans are for different datasets or shard counts.
 */
export function countMovedShards(before: ShardPlan, after: ShardPlan): number {
  return diffShardPlans(before, after).moved;
}

/** Full comparison of two plans; see {@link ShardPlanDiff}. @throws like {@link countMovedShards}. */
export function diffShardPlans(before: ShardPlan, after: ShardPlan): ShardPlanDiff {
  if (before.datasetId !== after.datasetId) {
    invalidArgument(
      "after.datasetId",
      `differs from before.datasetId ("${before.datasetId}")`,
      after.datasetId,
    );
  }
  if (before.totalShards !== after.totalShards) {
    invalidArgument(
      "after.totalShards",
      `differs from before.totalShards (${before.totalShards})`,
      after.totalShards,
    );
  }
  const beforeIds = before.workerIds;
  const afterIds = after.workerIds;
  let moved = 0;
  const received = new Map<string, number>();
  for (let s = 0; s < before.totalShards; s++) {
    const a = before.owners[s] as number;
    const b = after.owners[s] as number;
    const from = a < 0 ? undefined : beforeIds[a];
    const to = b < 0 ? undefined : afterIds[b];
    if (from !== to) {
      moved++;
      if (to !== undefined) received.set(to, (received.get(to) ?? 0) + 1);
    }
  }
  const beforeSet = new Set(beforeIds);
  const afterSet = new Set(afterIds);
  let minimum = 0;
  for (const [id, load] of after.loads) minimum += Math.max(0, load - (before.loads.get(id) ?? 0));
  const ratio = minimum === 0 ? (moved === 0 ? 1 : Number.POSITIVE_INFINITY) : moved / minimum;
  return {
    moved,
    minimum,
    ratio,
    joined: afterIds.filter((id) => !beforeSet.has(id)),
    left: beforeIds.filter((id) => !afterSet.has(id)),
    receivedBy: received,
  };
}
