import { z } from "zod";
import { count, epochMs, workerStateSchema } from "./common.js";

/**
 * Every kind of event in `/api/events`, `/api/logs` and the `events` of detail routes: the
 * coordinator engine's state changes, task life-cycle events, and `log` lines (warnings and errors
 * the coordinator logged about the cluster).
 */
export const apiEventTypeSchema = z.enum([
  "worker_registered",
  "worker_state_changed",
  "worker_dead",
  "worker_deregistered",
  "membership_changed",
  "barrier_arrived",
  "barrier_released",
  "barrier_aborted",
  "dataset_registered",
  "shards_reassigned",
  "shard_progress",
  "checkpoint_recorded",
  "checkpoint_completed",
  "progress_restored",
  "task_created",
  "task_status_changed",
  "log",
]);
/** The `type` of an {@link ApiEvent}. */
export type ApiEventType = z.infer<typeof apiEventTypeSchema>;

/** Severity of an event, for filtering: deaths and aborts are `warn`, failures `error`. */
export const eventLevelSchema = z.enum(["debug", "info", "warn", "error"]);
/** Severity of an event. */
export type EventLevel = z.infer<typeof eventLevelSchema>;

/**
 * One event. `seq` grows by one per event and keeps growing across coordinator restarts (it is
 * the SSE `id`, so `Last-Event-ID` resumes without gaps or duplicates). `message` is a
 * human-readable one-line summary. The ids the event concerns are lifted to the top level (null
 * when not applicable) so clients filter without knowing every type; `data` holds the type's own
 * fields in snake_case (for example `rank`, `from`/`to` states, `participants`, `waited_ms`,
 * `moved`, `size_bytes`, `consumed_samples`).
 */
export const apiEventSchema = z.object({
  seq: count,
  type: apiEventTypeSchema,
  at: epochMs,
  level: eventLevelSchema,
  message: z.string(),
  /** What emitted it: `membership`, `barriers`, `datasets`, `checkpoints`, `tasks`, `coordinator`. */
  source: z.string(),
  worker_id: z.string().nullable(),
  task_id: z.string().nullable(),
  dataset_id: z.string().nullable(),
  barrier_id: z.string().nullable(),
  job_id: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
});
/** One coordinator event. */
export type ApiEvent = z.infer<typeof apiEventSchema>;

/** A worker whose live values changed since the previous tick (only the fields that tick). */
export const workerTickSchema = z.object({
  id: z.string(),
  state: workerStateSchema,
  alive: z.boolean(),
  last_heartbeat: epochMs,
  current_step: count,
  current_epoch: count,
  current_task: z.string(),
  step_rate: z.number().nonnegative().nullable(),
  samples_consumed: count,
  cpu_percent: z.number().nullable(),
  memory_used_bytes: count.nullable(),
});
/** A worker's ticking values. */
export type WorkerTick = z.infer<typeof workerTickSchema>;

/**
 * The `/api/events` stream, as `text/event-stream`:
 *
 * - `event: hello` first, `data:` {@link StreamHello}.
 * - `event: coordinator`, `id: <seq>`, `data:` {@link ApiEvent}: every event, in `seq` order. On
 *   connect with `Last-Event-ID: N` (or `?after=N`), the events after N are replayed from history
 *   first (at most 10,000; beyond that, `event: reset` tells the client to reload).
 * - `event: tick`, no id, `data:` {@link StreamTick}, once a second: the newest metric sample and
 *   the workers whose live values changed, so tables and charts move without polling.
 * - `event: reset`, `data:` `{ "reason": string }`: the client missed too much (replay limit, or it
 *   was too slow and is about to be dropped); refetch the REST resources.
 * - `: ping` comment lines every 15 s keep proxies from closing an idle stream.
 *
 * A client whose unsent data passes 1 MiB gets `event: reset` (reason `slow_consumer`) and is
 * disconnected; it reconnects with `Last-Event-ID` and loses nothing that history keeps.
 */
export const streamHelloSchema = z.object({
  /** The newest event seq at connect time. */
  seq: count,
  coordinator_id: z.string(),
  started_at: epochMs,
});
/** The first message of the stream. */
export type StreamHello = z.infer<typeof streamHelloSchema>;

/** The once-a-second stream message. */
export const streamTickSchema = z.object({
  at: epochMs,
  /** The sample just recorded for `/api/history` (see its series names). */
  sample: z.record(z.string(), z.number().nullable()),
  workers: z.array(workerTickSchema),
});
/** The once-a-second stream message. */
export type StreamTick = z.infer<typeof streamTickSchema>;

/**
 * `GET /api/events/recent?limit=&type=&worker_id=&task_id=&q=&before=&from=&to=` (newest last):
 * `from`/`to` (ms since the epoch) keep events at or after `from` and before `to`; `from` must be
 * before `to` (400 naming `from`).
 */
export const eventsResponseSchema = z.object({
  events: z.array(apiEventSchema),
  /** Pass as `before` to page back; null when there is nothing older. */
  next_before: count.nullable(),
});
/** A page of stored events. */
export type EventsResponse = z.infer<typeof eventsResponseSchema>;
