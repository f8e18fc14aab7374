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
import { eventToLog } from "../views/engine-event-to-api.js";
import type { ApiContext } from "./api-context.js";
import { methodNotAllowed } from "./method-not-allowed.js";
import { integerQuery, parseRequest, textQuery } from "./request-validation.js";

/** Default span of `/api/history`: the last hour, in ms. */
const DEFAULT_SPAN_MS = 3_600_000;
/** Most points one `/api/history` answer may hold per series. */
const MAX_POINTS = 100_000;

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
 * What history keeps: `/api/history` (metric series), `/api/logs` (events as the original's log
 * lines) and `/api/events/recent` (events, paged back with `before`). They outlive the job and a
 * restart of the coordinator.
 */
export function historyRoutes(ctx: ApiContext): Router {
  const router = Router();

  router
    .route("/api/history")
    .get((request, response) => {
      const now = ctx.clock.now();
      const to = integerQuery(request.query, "to", {
        min: 0,
        max: Number.MAX_SAFE_INTEGER,
        fallback: now,
      }) as number;
      const from = integerQuery(request.query, "from", {
        min: 0,
        max: Number.MAX_SAFE_INTEGER,
        fallback: Math.max(0, to - DEFAULT_SPAN_MS),
      }) as number;
      if (from >= to) {
        throw new RuntimeError("from: must be before to", {
          code: Code.InvalidArgument,
          details: { field: "from" },
        });
      }
      const stepMs =
        integerQuery(request.query, "step_ms", { min: 1_000, max: 86_400_000 }) ??
        Math.max(1_000, Math.ceil((to - from) / 2_000));
      if ((to - from) / stepMs > MAX_POINTS) {
        throw new RuntimeError(
          `step_ms: at most ${MAX_POINTS} points per series; use a larger step`,
          {
            code: Code.InvalidArgument,
            details: { field: "step_ms" },
          },
        );
      }
      const query = parseRequest(
        historyQuerySchema,
        {
          series: names(textQuery(request.query, "series", 1_000), HISTORY_SERIES, "series") ?? [
            ...HISTORY_SERIES,
          ],
          from,
          to,
          step_ms: stepMs,
        },
        "query",
      );
      const body: HistoryResponse = ctx.history.readSamples(query);
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
      const body: LogsResponse = ctx.history
        .query({
          minLevel: level ?? "info",
          limit,
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
      const found = ctx.history.query({
        limit: limit + 1,
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
