/**
 * A monotonically increasing number that changes whenever the set of live workers changes (join,
 * leave, death). Workers compare it to know that their rank, world size or shard assignment may
 * be stale.
 */
export type MembershipVersion = number;

/** A snapshot of cluster membership at one version. */
export interface Membership {
  version: MembershipVersion;
  /** Live worker ids ordered by rank: `workers[r]` has rank r. */
  workers: readonly string[];
}
