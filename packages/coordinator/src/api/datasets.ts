import { z } from "zod";
import { count, epochMs } from "./common.js";

/** Progress of one epoch of a dataset. */
export const epochProgressSchema = z.object({
  epoch: count,
  consumed_samples: count,
  complete: z.boolean(),
  /** consumed_samples / total_samples, 0 to 1. */
  fraction: z.number().min(0).max(1),
});

/** A dataset (the original's `DatasetResponse`, `registered_at` the real registration time, plus additive fields). */
export const datasetResponseSchema = z.object({
  id: z.string(),
  /** The dataset id (the original had no separate name). */
  name: z.string(),
  total_samples: count,
  shard_size: count,
  shard_count: count,
  format: z.string(),
  shuffle: z.boolean(),
  registered_at: epochMs,
  // --- additive ---
  path: z.string(),
  /** The shuffle seed as a decimal string (64-bit). */
  seed: z.string(),
  metadata: z.record(z.string(), z.string()),
  /** Epochs with recorded progress, oldest first. */
  epochs: z.array(epochProgressSchema),
  /** The newest epoch with progress; null before any. */
  active_epoch: count.nullable(),
});
/** A dataset. */
export type DatasetResponse = z.infer<typeof datasetResponseSchema>;

/** `GET /api/datasets`. */
export const datasetsResponseSchema = z.array(datasetResponseSchema);
/** `GET /api/datasets`. */
export type DatasetsResponse = z.infer<typeof datasetsResponseSchema>;

/**
 * `GET /api/datasets/:id?epoch=&offset=&limit=`: the shard map of one epoch (default the active
 * one) in columns, so a million-shard dataset pages cheaply (`limit` 1 to 100,000, default
 * 10,000). `owner[i]` indexes `workers` (−1: no owner, e.g. complete or no live worker) for shard
 * `offset + i`; `consumed[i]` its consumed samples (its size is `shard_size`, the last one
 * shorter); `pinned[i]` whether its rest is pinned to the owner that started it.
 */
export const datasetDetailResponseSchema = z.object({
  dataset: datasetResponseSchema,
  epoch: count,
  membership_version: count,
  offset: count,
  total_shards: count,
  workers: z.array(z.string()),
  owner: z.array(z.number().int().min(-1)),
  consumed: z.array(count),
  pinned: z.array(z.boolean()),
  /** Shards per worker in this epoch's plan (whole dataset, not only this page). */
  shards_per_worker: z.record(z.string(), count),
  /** Re-plans of this dataset, newest last (from `shards_reassigned` events). */
  moves: z.array(z.object({ at: epochMs, epoch: count, membership_version: count, moved: count })),
});
/** `GET /api/datasets/:id`. */
export type DatasetDetailResponse = z.infer<typeof datasetDetailResponseSchema>;
