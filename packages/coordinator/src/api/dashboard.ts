import { z } from "zod";
import { barrierResponseSchema } from "./barriers.js";
import { checkpointResponseSchema } from "./checkpoints.js";
import { datasetResponseSchema } from "./datasets.js";
import { logResponseSchema } from "./logs.js";
import { metricsResponseSchema } from "./metrics.js";
import { statusResponseSchema } from "./status.js";
import { taskResponseSchema } from "./tasks.js";
import { workerResponseSchema } from "./workers.js";

/**
 * `GET /api/dashboard`: everything at once (the original's `DashboardState`, real data only: no
 * demo tasks or logs). `checkpoints` are the newest 20, `logs` the newest 100, newest first.
 * Served from a copy rebuilt once a second while it is polled: at most 1.5 s old (the event
 * stream carries anything newer); creating or stopping a task through the API refreshes it.
 */
export const dashboardResponseSchema = z.object({
  coordinator: statusResponseSchema,
  workers: z.array(workerResponseSchema),
  datasets: z.array(datasetResponseSchema),
  checkpoints: z.array(checkpointResponseSchema),
  barriers: z.array(barrierResponseSchema),
  metrics: metricsResponseSchema,
  tasks: z.array(taskResponseSchema),
  logs: z.array(logResponseSchema),
});
/** `GET /api/dashboard`. */
export type DashboardResponse = z.infer<typeof dashboardResponseSchema>;
