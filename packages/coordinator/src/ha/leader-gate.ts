import type { RuntimeError } from "@strata/runtime-core";

/**
 * What the serving side of a coordinator needs of its leadership (see `Leadership`): whether it
 * may answer as leader right now, and the error (naming the leader) to answer otherwise.
 */
export interface LeaderGate {
  /** This coordinator as announced in the election. */
  readonly self: { id: string; grpc: string; http: string };
  /** True only while the leadership lease is surely held (checked on every call). */
  isLeaderNow(): boolean;
  /** UNAVAILABLE naming the current leader in `details.leader` when one is known. */
  notLeaderError(): RuntimeError;
}
