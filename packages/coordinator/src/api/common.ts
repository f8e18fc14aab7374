import { WORKER_STATES, type WorkerState } from "@strata/runtime-core";
import { z } from "zod";

/**
 * Conventions of the HTTP API (`/api/*`), shared by every response schema in this folder:
 * JSON field names are snake_case (the original Strata's, so its clients keep working); times
 * are integers in milliseconds since the Unix epoch (`*_at`, `timestamp`, `last_heartbeat`);
 * durations are milliseconds (`*_ms`) unless a field says seconds; sizes are bytes; rates are per
 * second. Absent optional values are `null`, never omitted.
 */

/** Milliseconds since the Unix epoch. */
export const epochMs = z.number().int().nonnegative();

/** A count or size (integer ≥ 0). */
export const count = z.number().int().nonnegative();

/** A measured rate or ratio (finite number ≥ 0). */
export const rate = z.number().nonnegative();

/** Every worker state the coordinator tracks (runtime-core's `WorkerState`). */
export const workerStateSchema = z.enum(WORKER_STATES as [WorkerState, ...WorkerState[]]);
/** A worker's precise state. */
export type ApiWorkerState = z.infer<typeof workerStateSchema>;

/**
 * The error body of every non-2xx answer: `code` is the gRPC status name in snake case
 * (`invalid_argument`, `not_found`, `unauthenticated`, ...), `message` says what went wrong and,
 * for validation errors, `field` names the offending field (also at the start of `message`).
 */
export const apiErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  field: z.string().nullable().optional(),
});
/** The error body of every non-2xx answer. */
export type ApiError = z.infer<typeof apiErrorSchema>;
