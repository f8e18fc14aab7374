import { z } from "zod";
import { count, epochMs } from "./common.js";

/**
 * A checkpoint step of one job (the original's `CheckpointResponse`; the original listed one
 * entry per step too). `id` is `<job_id>:<step>`; `size` is the total bytes of every rank part;
 * `path` and `worker_id` are rank 0's part (else the lowest rank's); `created_at` is when the first
 * part arrived. `status` is `completed` once every expected rank reported, else `in_progress`.
 */
export const checkpointResponseSchema = z.object({
  id: z.string(),
  step: count,
  epoch: count,
  size: count,
  path: z.string(),
  created_at: epochMs,
  worker_id: z.string(),
  status: z.enum(["completed", "in_progress"]),
  // --- additive ---
  job_id: z.string(),
  ranks_reported: count,
  ranks_expected: count,
  completed_at: epochMs.nullable(),
});
/** A checkpoint step. */
export type CheckpointResponse = z.infer<typeof checkpointResponseSchema>;

/** `GET /api/checkpoints?job_id=&limit=`: newest first (by `created_at`), `limit` default 100. */
export const checkpointsResponseSchema = z.array(checkpointResponseSchema);
/** `GET /api/checkpoints`. */
export type CheckpointsResponse = z.infer<typeof checkpointsResponseSchema>;

/** One rank's part of a step. */
export const checkpointPartSchema = z.object({
  rank: count,
  worker_id: z.string(),
  checkpoint_id: z.string(),
  size: count,
  path: z.string(),
  recorded_at: epochMs,
  kind: z.enum(["full", "incremental", "optimizer_only", "model_only"]),
  metadata: z.record(z.string(), z.string()),
});

/** `GET /api/checkpoints/:job/:step`. */
export const checkpointDetailResponseSchema = z.object({
  checkpoint: checkpointResponseSchema,
  parts: z.array(checkpointPartSchema),
  /** Expected ranks that have not reported. */
  missing_ranks: z.array(count),
});
/** `GET /api/checkpoints/:job/:step`. */
export type CheckpointDetailResponse = z.infer<typeof checkpointDetailResponseSchema>;
