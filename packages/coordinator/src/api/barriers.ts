import { z } from "zod";
import { count, epochMs } from "./common.js";

/**
 * A barrier (the original's `BarrierResponse`, `created_at` real). `GET /api/barriers` lists the
 * open generations (`waiting`) and the most recent finished one of each barrier id (`complete` or
 * `aborted`, at most 100 finished in all). `total` is the live membership the generation waits for.
 */
export const barrierResponseSchema = z.object({
  id: z.string(),
  /** The barrier id (the original had no separate name). */
  name: z.string(),
  arrived: count,
  total: count,
  status: z.enum(["waiting", "complete", "aborted"]),
  created_at: epochMs,
  // --- additive ---
  generation: count,
  step: count,
  /** When a waiting generation times out. */
  deadline_at: epochMs.nullable(),
  /** When it was released or aborted. */
  finished_at: epochMs.nullable(),
  /** First arrival to release, ms (finished generations). */
  waited_ms: count.nullable(),
  /** Why it was aborted: `member_dead`, `timeout`, `shutdown`. */
  abort_reason: z.string().nullable(),
  arrived_ids: z.array(z.string()),
  missing_ids: z.array(z.string()),
});
/** A barrier generation. */
export type BarrierResponse = z.infer<typeof barrierResponseSchema>;

/** `GET /api/barriers`. */
export const barriersResponseSchema = z.array(barrierResponseSchema);
/** `GET /api/barriers`. */
export type BarriersResponse = z.infer<typeof barriersResponseSchema>;

/** `GET /api/barriers/:id`: the open (or last) generation with arrival times, and recent generations. */
export const barrierDetailResponseSchema = z.object({
  barrier: barrierResponseSchema,
  arrivals: z.array(z.object({ worker_id: z.string(), order: count, at: epochMs })),
  history: z.array(
    z.object({
      generation: count,
      outcome: z.enum(["released", "aborted"]),
      at: epochMs,
      participants: count,
      waited_ms: count,
      abort_reason: z.string().nullable(),
    }),
  ),
});
/** `GET /api/barriers/:id`. */
export type BarrierDetailResponse = z.infer<typeof barrierDetailResponseSchema>;
