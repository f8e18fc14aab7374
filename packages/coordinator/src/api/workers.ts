import { z } from "zod";
import { count, epochMs, rate, workerStateSchema } from "./common.js";
import { apiEventSchema } from "./events.js";

/**
 * The original's coarse worker status: `active` for any working state (training, loading data,
 * checkpointing, recovering), `idle`, `failed` for `error` and `dead`, `unknown` for
 * `initializing` and `disconnecting`. Use `state` for the precise one.
 */
export const workerStatusSchema = z.enum(["idle", "active", "failed", "unknown"]);
/** The original's coarse worker status. */
export type WorkerStatus = z.infer<typeof workerStatusSchema>;

/** One GPU as the worker last reported it. */
export const gpuUsageSchema = z.object({
  gpu_id: count,
  /** 0 to 100. */
  utilization_percent: z.number(),
  memory_used_bytes: count,
  memory_total_bytes: count,
  temperature_celsius: z.number(),
});

/** What a worker reported with its last heartbeat that carried resources. Byte counters are cumulative. */
export const resourceUsageSchema = z.object({
  /** Per core summed, as `top` shows it (200 = two cores busy). */
  cpu_percent: z.number(),
  memory_used_bytes: count,
  disk_read_bytes: count,
  disk_write_bytes: count,
  network_rx_bytes: count,
  network_tx_bytes: count,
  gpus: z.array(gpuUsageSchema),
});
/** A worker's reported resource usage. */
export type ResourceUsageResponse = z.infer<typeof resourceUsageSchema>;

/**
 * A worker in `GET /api/workers` and `/api/dashboard`: the original's `WorkerResponse` fields
 * (`id`, `ip`, `port`, `status`, `gpu_count`, `last_heartbeat`, `assigned_shards`,
 * `current_epoch`, `current_step`, `current_task`), every value real, plus additive fields.
 */
export const workerResponseSchema = z.object({
  id: z.string(),
  /** The worker's host name (the original called it ip). */
  ip: z.string(),
  port: count,
  status: workerStatusSchema,
  gpu_count: count,
  /** When its last heartbeat arrived. */
  last_heartbeat: epochMs,
  /** Shards it holds (not fully consumed) in the active epoch of every dataset it asked for. */
  assigned_shards: count,
  current_epoch: count,
  current_step: count,
  current_task: z.string(),
  // --- additive ---
  rank: count,
  state: workerStateSchema,
  /** False once declared dead or departed (kept for rank return). */
  alive: z.boolean(),
  /**
   * True when it deregistered (left cleanly, e.g. a worker stopped with Ctrl-C) rather than being
   * declared dead after missed heartbeats; `state` is `dead` either way.
   */
  left: z.boolean(),
  hostname: z.string(),
  incarnation: count,
  registered_at: epochMs,
  /** Milliseconds between its last heartbeat and this answer. */
  heartbeat_age_ms: count,
  /** Training steps per second over the last ~10 s of heartbeats; null until two reports. */
  step_rate: rate.nullable(),
  /** Samples it reported consumed since it registered (all datasets). */
  samples_consumed: count,
  memory_bytes: count,
  metadata: z.record(z.string(), z.string()),
  pending_commands: z.array(z.string()),
  /** Null until the worker reports resources. */
  resources: resourceUsageSchema.nullable(),
});
/** A worker in the HTTP API. */
export type WorkerResponse = z.infer<typeof workerResponseSchema>;

/** `GET /api/workers`: live workers by rank, then dead or departed ones. */
export const workersResponseSchema = z.array(workerResponseSchema);
/** `GET /api/workers`. */
export type WorkersResponse = z.infer<typeof workersResponseSchema>;

/** `GET /api/workers/:id`: one worker with its recent events and its series history. */
export const workerDetailResponseSchema = z.object({
  worker: workerResponseSchema,
  /** Its most recent events, oldest first (at most 200). */
  events: z.array(apiEventSchema),
  /** Shards it holds per dataset in the newest planned epoch, by shard id (at most 1,000 ids per dataset; `total` counts all). */
  shards: z.array(
    z.object({
      dataset_id: z.string(),
      epoch: count,
      shard_ids: z.array(count),
      total: count,
    }),
  ),
});
/** `GET /api/workers/:id`. */
export type WorkerDetailResponse = z.infer<typeof workerDetailResponseSchema>;
