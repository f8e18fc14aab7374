import { Code, RuntimeError } from "@strata/runtime-core";
import { Router } from "express";
import {
  type ApiEventType,
  apiEventTypeSchema,
  type EventsResponse,
  eventLevelSchema,
} from "../api/events.js";
import { HISTORY_SERIES, type HistoryResponse, historyQuerySchema } from "../api/history.js";
import type { LogsResponse } from "../api/logs.js";
import {
  WORKER_SAMPLE_INTERVAL_MS,
  type WorkerHistoryResponse,
  workerHistoryQuerySchema,
} from "../api/worker-history.js";
import { eventToLog } from "../views/engine-event-to-api.js";
import type { ApiContext } from "./api-context.js";
import { methodNotAllowed } from "./method-not-allowed.js";
import { integerQuery, parseRequest, textQuery } from "./request-validation.js";

/** Default span of `/api/history`: the last hour, in ms. */
const DEFAULT_SPAN_MS = 3_600_000;
/** Most points one `/api/history` answer may hold per series. */
const MAX_POINTS = 100_000;
/** Most points one `/api/workers/:id/history` answer may hold (eight columns each). */
const MAX_WORKER_POINTS = 20_000;
/** Points a history answer aims at when no `step_ms` is given. */
const DEFAULT_POINTS = 2_000;

/** A query's `from`/`to` (ms since the epoch): each optional, and `from` before `to` when both are given. */
function timeWindow(query: Readonly<Record<string, unknown>>): { from?: number; to?: number } {
  const to = integerQuery(query, "to", { min: 0, max: Number.MAX_SAFE_INTEGER });
  const from = integerQuery(query, "from", { min: 0, max: Number.MAX_SAFE_INTEGER });
  if (from !== undefined && to !== undefined && from >= to) {
    throw new RuntimeError("from: must be before to", {
      code: Code.InvalidArgument,
      details: { field: "from" },
    });
  }
  return { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
}

/**
 * The span and resolution of a history read: `from`/`to` default to the last hour before now,
 * `step_ms` to whatever gives about {@link DEFAULT_POINTS} points (never below `minStepMs`);
 * more than `maxPoints` points is 400 naming `step_ms`.
 */
function historySpan(
  query: Readonly<Record<string, unknown>>,
  nowMs: number,
  minStepMs: number,
  maxPoints: number,
): { from: number; to: number; step_ms: number } {
  const given = timeWindow(query);
  const to = given.to ?? nowMs;
  const from = given.from ?? Math.max(0, to - DEFAULT_SPAN_MS);
  if (from >= to) {
    throw new RuntimeError("from: must be before to", {
      code: Code.InvalidArgument,
      details: { field: "from" },
    });
  }
  const stepMs =
    integerQuery(query, "step_ms", { min: minStepMs, max: 86_400_000 }) ??
    Math.max(minStepMs, Math.ceil((to - from) / DEFAULT_POINTS));
  if ((to - from) / stepMs > maxPoints) {
    throw new RuntimeError(`step_ms: at most ${maxPoints} points per series; use a larger step`, {
      code: Code.InvalidArgument,
      details: { field: "step_ms" },
    });
  }
  return { from, to, step_ms: stepMs };
}

function list(raw: string | undefined): string[] | undefined {
  return raw
    ?.split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** The comma-separated names in `raw`, each one of `known`; an unknown one is 400 naming `field`. */
function names<T extends string>(
  raw: string | undefined,
  known: readonly T[],
  field: string,
): T[] | undefined {
  const given = list(raw);
  if (given === undefined) return undefined;
  for (const name of given) {
    if (!(known as readonly string[]).includes(name)) {
      throw new RuntimeError(
        `${field}: unknown name "${name.slice(0, 64)}" (known: ${known.join(", ")})`,
        {
          code: Code.InvalidArgument,
          details: { field },
        },
      );
    }
  }
  return given as T[];
}

/**
 * What history keeps: `/api/history` (metric series), `/api/workers/:id/history` (one worker's
 * samples), `/api/logs` (events as the original's log lines) and `/api/events/recent` (events,
 * paged back with `before`; logs and events within `from`/`to` when given). They outlive the job,
 * the worker and a restart of the coordinator.
 */
export function historyRoutes(ctx: ApiContext): Router {
  const router = Router();

  router
    .route("/api/history")
    .get((request, response) => {
      const span = historySpan(request.query, ctx.clock.now(), 1_000, MAX_POINTS);
      const query = parseRequest(
        historyQuerySchema,
        {
          series: names(textQuery(request.query, "series", 1_000), HISTORY_SERIES, "series") ?? [
            ...HISTORY_SERIES,
          ],
          ...span,
        },
        "query",
      );
      const body: HistoryResponse = ctx.history.readSamples(query);
      response.json(body);
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/workers/:id/history")
    .get((request, response) => {
      const id = request.params.id as string;
      const query = parseRequest(
        workerHistoryQuerySchema,
        historySpan(request.query, ctx.clock.now(), WORKER_SAMPLE_INTERVAL_MS, MAX_WORKER_POINTS),
        "query",
      );
      // Known: the engine has its record (alive, dead or departed), or history has its samples
      // or events (the engine forgets the oldest retired workers; history keeps them).
      if (ctx.engine.worker(id) === undefined && !ctx.history.knowsWorker(id)) {
        throw new RuntimeError(`worker "${id}" not found`, { code: Code.NotFound });
      }
      const body: WorkerHistoryResponse = ctx.history.readWorkerSamples(id, query);
      response.json(body);
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/logs")
    .get((request, response) => {
      const limit = integerQuery(request.query, "limit", {
        min: 1,
        max: 10_000,
        fallback: 100,
      }) as number;
      const level = parseRequest(
        eventLevelSchema.optional(),
        textQuery(request.query, "level", 16),
        "level",
      );
      const source = textQuery(request.query, "source", 64);
      const taskId = textQuery(request.query, "task_id", 128);
      const workerId = textQuery(request.query, "worker_id", 128);
      const text = textQuery(request.query, "q", 256);
      const window = timeWindow(request.query);
      const body: LogsResponse = ctx.history
        .query({
          minLevel: level ?? "info",
          limit,
          ...(window.from === undefined ? {} : { fromMs: window.from }),
          ...(window.to === undefined ? {} : { toMs: window.to }),
          ...(source === undefined ? {} : { source }),
          ...(taskId === undefined ? {} : { taskId }),
          ...(workerId === undefined ? {} : { workerId }),
          ...(text === undefined ? {} : { text }),
        })
        .map(eventToLog);
      response.json(body);
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/events/recent")
    .get((request, response) => {
      const limit = integerQuery(request.query, "limit", {
        min: 1,
        max: 10_000,
        fallback: 100,
      }) as number;
      const before = integerQuery(request.query, "before", {
        min: 0,
        max: Number.MAX_SAFE_INTEGER,
      });
      const types = names<ApiEventType>(
        textQuery(request.query, "type", 1_000),
        apiEventTypeSchema.options,
        "type",
      );
      const workerId = textQuery(request.query, "worker_id", 128);
      const taskId = textQuery(request.query, "task_id", 128);
      const text = textQuery(request.query, "q", 256);
      const window = timeWindow(request.query);
      const found = ctx.history.query({
        limit: limit + 1,
        ...(window.from === undefined ? {} : { fromMs: window.from }),
        ...(window.to === undefined ? {} : { toMs: window.to }),
        ...(before === undefined ? {} : { beforeSeq: before }),
        ...(types === undefined ? {} : { types }),
        ...(workerId === undefined ? {} : { workerId }),
        ...(taskId === undefined ? {} : { taskId }),
        ...(text === undefined ? {} : { text }),
      });
      const more = found.length > limit;
      const events = found.slice(0, limit).reverse();
      const body: EventsResponse = {
        events,
        next_before: more && events[0] !== undefined ? events[0].seq : null,
      };
      response.json(body);
    })
    .all(methodNotAllowed("GET"));

  return router;
}
