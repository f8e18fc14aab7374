import type { WorkerState } from "@strata/runtime-core";

/** Fields every event carries: a sequence number (gap-free per engine) and the time, ms since the epoch. */
interface EventBase {
  seq: number;
  atMs: number;
}

/**
 * A state change inside the coordinator engine. The dashboard's feed and the Prometheus
 * collectors read these; every one is also logged.
 */
export type CoordinatorEvent = EventBase &
  (
    | {
        type: "worker_registered";
        workerId: string;
        rank: number;
        incarnation: number;
        /** True when the worker came back (an earlier incarnation existed). */
        returning: boolean;
      }
    | { type: "worker_state_changed"; workerId: string; from: WorkerState; to: WorkerState }
    | { type: "worker_dead"; workerId: string; rank: number; silentForMs: number }
    | { type: "worker_deregistered"; workerId: string; rank: number }
    | {
        type: "membership_changed";
        membershipVersion: number;
        worldSize: number;
        /** Why it changed (the last change, when one event covers several). */
        reason: "joined" | "left" | "dead";
        /** The worker of the last change. */
        workerId: string;
        /** How many changes this event covers (changes committed together share one event). */
        changes: number;
      }
    | {
        type: "barrier_arrived";
        barrierId: string;
        workerId: string;
        arrivalOrder: number;
        generation: number;
      }
    | {
        type: "barrier_released";
        barrierId: string;
        generation: number;
        participants: number;
        /** Time from the generation's first arrival to release, ms. */
        waitedMs: number;
      }
    | {
        type: "barrier_aborted";
        barrierId: string;
        generation: number;
        reason: "member_dead" | "timeout" | "shutdown";
        /** The dead or departed worker, for `member_dead`. */
        workerId?: string;
      }
    | { type: "dataset_registered"; datasetId: string; totalShards: number }
    | {
        type: "shards_reassigned";
        datasetId: string;
        epoch: number;
        membershipVersion: number;
        /** Shards whose owner changed against the previous plan of this epoch. */
        moved: number;
      }
    | {
        type: "shard_progress";
        datasetId: string;
        epoch: number;
        shardId: number;
        workerId: string;
        consumedSamples: number;
        shardComplete: boolean;
      }
    | {
        type: "checkpoint_recorded";
        jobId: string;
        step: number;
        rank: number;
        workerId: string;
        checkpointId: string;
        sizeBytes: number;
      }
    | { type: "checkpoint_completed"; jobId: string; step: number; ranks: number }
    | {
        type: "progress_restored";
        datasetId: string;
        epoch: number;
        /** The worker that asked (a resuming job's rank 0). */
        workerId: string;
        consumedSamples: number;
        forgottenEpochs: number[];
      }
  );

/** The `type` tag of {@link CoordinatorEvent}. */
export type CoordinatorEventType = CoordinatorEvent["type"];
