import { Code } from "./code.js";
import { RuntimeError } from "./runtime-error.js";

/**
 * The life cycle of a worker as the coordinator sees it.
 *
 * - `initializing`: registered, not yet ready.
 * - `idle`, `loading_data`, `training`, `checkpointing`, `recovering`: alive and working; a worker
 *   reports these in its heartbeats and may move between them freely.
 * - `error`: the worker reported a failure but is still heartbeating; it may recover.
 * - `disconnecting`: the worker asked to leave (deregistration in progress).
 * - `dead`: terminal for this incarnation. Set by the coordinator when heartbeats stop for longer
 *   than the heartbeat timeout, or when the worker leaves. A dead worker comes back only by
 *   registering again, which starts a new incarnation in `initializing`.
 */
export type WorkerState =
  | "initializing"
  | "idle"
  | "loading_data"
  | "training"
  | "checkpointing"
  | "recovering"
  | "error"
  | "disconnecting"
  | "dead";

/** Every worker state, in life-cycle order. */
export const WORKER_STATES: readonly WorkerState[] = [
  "initializing",
  "idle",
  "loading_data",
  "training",
  "checkpointing",
  "recovering",
  "error",
  "disconnecting",
  "dead",
];

const working: readonly WorkerState[] = [
  "idle",
  "loading_data",
  "training",
  "checkpointing",
  "recovering",
];

/** The states a worker may move to from each state. Staying in the same state is always legal. */
export const WORKER_TRANSITIONS: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  initializing: [...working, "error", "disconnecting", "dead"],
  idle: [...working, "error", "disconnecting", "dead"],
  loading_data: [...working, "error", "disconnecting", "dead"],
  training: [...working, "error", "disconnecting", "dead"],
  checkpointing: [...working, "error", "disconnecting", "dead"],
  recovering: [...working, "error", "disconnecting", "dead"],
  error: [...working, "disconnecting", "dead"],
  disconnecting: ["dead"],
  dead: [],
};

/** Whether a worker in `state` counts as a live member (it counts toward world size and barriers). */
export function isLiveWorkerState(state: WorkerState): boolean {
  return state !== "dead" && state !== "disconnecting";
}

/** Whether `from → to` is a legal transition. */
export function canTransitionWorker(from: WorkerState, to: WorkerState): boolean {
  return from === to || WORKER_TRANSITIONS[from].includes(to);
}

/**
 * Returns `to` if `from → to` is legal, else throws `FailedPrecondition` naming both states and
 * the worker.
 */
export function transitionWorker(
  workerId: string,
  from: WorkerState,
  to: WorkerState,
): WorkerState {
  if (!canTransitionWorker(from, to)) {
    throw new RuntimeError(`worker "${workerId}" cannot move from ${from} to ${to}`, {
      code: Code.FailedPrecondition,
      details: { workerId, from, to },
    });
  }
  return to;
}
