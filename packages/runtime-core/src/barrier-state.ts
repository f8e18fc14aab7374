/**
 * How a barrier stands. A barrier releases when every live member has arrived. If a member dies
 * while others wait, the barrier either releases with the survivors or aborts, by policy.
 */
export type BarrierState =
  | {
      status: "waiting";
      barrierId: string;
      arrived: readonly string[];
      expected: readonly string[];
      createdAtMs: number;
    }
  | {
      status: "released";
      barrierId: string;
      arrived: readonly string[];
      createdAtMs: number;
      releasedAtMs: number;
    }
  | {
      status: "aborted";
      barrierId: string;
      arrived: readonly string[];
      createdAtMs: number;
      abortedAtMs: number;
      /** Why: the dead worker, or the timeout. */
      reason: string;
    };

/** What a barrier does when a member dies while others wait. */
export type BarrierFailurePolicy =
  /** Release the waiters with the surviving members: training goes on with fewer workers. */
  | "release_survivors"
  /** Fail every waiter with ABORTED naming the dead worker, so the job can restart from a checkpoint. */
  | "abort";
