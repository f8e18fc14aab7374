import type { WorkerState } from "@strata/runtime-core";

/** How a worker state is shown: a label and a Tailwind colour family. Every state has one, unlike the original's "unknown". */
export const WORKER_STATE_STYLE: Readonly<Record<WorkerState, { label: string; color: string }>> = {
  initializing: { label: "Initializing", color: "slate" },
  idle: { label: "Idle", color: "sky" },
  loading_data: { label: "Loading data", color: "indigo" },
  training: { label: "Training", color: "emerald" },
  checkpointing: { label: "Checkpointing", color: "amber" },
  recovering: { label: "Recovering", color: "orange" },
  error: { label: "Error", color: "rose" },
  disconnecting: { label: "Leaving", color: "zinc" },
  dead: { label: "Dead", color: "red" },
};
