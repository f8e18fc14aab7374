import { Router } from "express";
import type { LogsResponse } from "../api/logs.js";
import {
  type CreateTaskResponse,
  createTaskRequestSchema,
  type StopTaskResponse,
  type TaskResponse,
  type TasksResponse,
} from "../api/tasks.js";
import { eventToLog } from "../views/engine-event-to-api.js";
import type { ApiContext } from "./api-context.js";
import { methodNotAllowed } from "./method-not-allowed.js";
import { integerQuery, parseRequest } from "./request-validation.js";

/**
 * Tasks (the original's routes and field names): `GET`/`POST /api/tasks`,
 * `GET /api/tasks/:id`, `POST /api/tasks/:id/stop`, `GET /api/tasks/:id/logs`. A task is a real
 * job handed to workers through heartbeat commands (see `TaskManager`).
 */
export function taskRoutes(ctx: ApiContext): Router {
  const router = Router();

  router
    .route("/api/tasks")
    .get((_request, response) => {
      const body: TasksResponse = ctx.tasks.list();
      response.json(body);
    })
    .post(async (request, response) => {
      const spec = parseRequest(createTaskRequestSchema, request.body, "body");
      const task = await ctx.tasks.create(spec);
      ctx.dashboard.invalidate();
      const body: CreateTaskResponse = { task_id: task.id };
      response
        .status(201)
        .location(`/api/tasks/${encodeURIComponent(task.id)}`)
        .json(body);
    })
    .all(methodNotAllowed("GET", "POST"));

  router
    .route("/api/tasks/:id")
    .get((request, response) => {
      const body: TaskResponse = ctx.tasks.get(request.params.id as string);
      response.json(body);
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/tasks/:id/stop")
    .post(async (request, response) => {
      await ctx.tasks.stop(request.params.id as string);
      ctx.dashboard.invalidate();
      const body: StopTaskResponse = { success: true };
      response.json(body);
    })
    .all(methodNotAllowed("POST"));

  router
    .route("/api/tasks/:id/logs")
    .get((request, response) => {
      const limit = integerQuery(request.query, "limit", {
        min: 1,
        max: 10_000,
        fallback: 1_000,
      }) as number;
      const body: LogsResponse = ctx.tasks.logs(request.params.id as string, limit).map(eventToLog);
      response.json(body);
    })
    .all(methodNotAllowed("GET"));

  return router;
}
