import { z } from "zod";
import { epochMs } from "./common.js";
import { eventLevelSchema } from "./events.js";

/**
 * A log line in `GET /api/logs` and `GET /api/tasks/:id/logs` (the original's `LogResponse`).
 * Log lines are the coordinator's real events rendered as text (never demo data): `id` is
 * `log_<seq>` of the event, `source` its source.
 */
export const logResponseSchema = z.object({
  id: z.string(),
  timestamp: epochMs,
  level: eventLevelSchema,
  message: z.string(),
  source: z.string(),
  task_id: z.string().nullable(),
  worker_id: z.string().nullable(),
});
/** One log line. */
export type LogResponse = z.infer<typeof logResponseSchema>;

/**
 * `GET /api/logs?limit=&level=&source=&task_id=&worker_id=&q=&from=&to=`: newest first, `limit`
 * 1 to 10,000 (default 100, as in the original); `level` is the lowest level shown (default
 * `info`, so per-arrival and per-shard `debug` events stay out unless asked for); `q` searches
 * the message (case-insensitive substring); `from`/`to` (ms since the epoch) keep lines at or
 * after `from` and before `to`.
 */
export const logsResponseSchema = z.array(logResponseSchema);
/** `GET /api/logs`. */
export type LogsResponse = z.infer<typeof logsResponseSchema>;
