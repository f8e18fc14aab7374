/** What a checkpoint holds. `full` is a complete training state; the others are parts of one. */
export type CheckpointKind = "full" | "incremental" | "optimizer_only" | "model_only";

/**
 * A checkpoint as the coordinator records it: one rank's part of one step of one job. The
 * bytes live in user storage at `storagePath`; the coordinator never reads or deletes them.
 */
export interface CheckpointRecord {
  jobId: string;
  step: number;
  rank: number;
  workerId: string;
  checkpointId: string;
  epoch: number;
  storagePath: string;
  sizeBytes: number;
  kind: CheckpointKind;
  /** When the coordinator recorded it, ms since the epoch. */
  recordedAtMs: number;
  metadata: Readonly<Record<string, string>>;
}
