import { Code, type Logger, RuntimeError } from "@strata/runtime-core";
import cookieParser from "cookie-parser";
import cors from "cors";
import express, { type Express, Router } from "express";
import { rateLimit } from "express-rate-limit";
import helmet from "helmet";
import type { BearerAuth } from "../auth/bearer-auth.js";
import type { CoordinatorEngine } from "../engine/types.js";
import type { LeaderGate } from "../ha/leader-gate.js";
import type { CoordinatorMetrics } from "../metrics/coordinator-metrics.js";
import type { ApiContext } from "./api-context.js";
import { errorHandler, sendError } from "./api-error.js";
import { clusterRoutes } from "./cluster-routes.js";
import { healthRoute, metricsRoute, type ReadinessParts, readyRoute } from "./core-routes.js";
import { dashboardAssets } from "./dashboard-assets.js";
import type { EventStreamHub } from "./event-stream.js";
import { historyRoutes } from "./history-routes.js";
import { methodNotAllowed } from "./method-not-allowed.js";
import { createRequestAuth } from "./request-auth.js";
import type { SessionCookies } from "./session-cookie.js";
import { sessionRoutes } from "./session-routes.js";
import { taskRoutes } from "./task-routes.js";

/** Largest request body accepted, in bytes (a task spec with its config fits many times over). */
export const MAX_BODY_BYTES = 256 * 1024;
/** The rate limit counts requests over this window, in ms. */
const RATE_WINDOW_MS = 10_000;

/** Options for {@link createHttpApp}. */
export interface HttpAppOptions {
  context: ApiContext;
  metrics: CoordinatorMetrics;
  readiness: () => ReadinessParts;
  /** The bearer token check; undefined when no token is configured (everything is open). */
  bearer: BearerAuth | undefined;
  /** Browser sessions (undefined without a token). */
  sessions: SessionCookies | undefined;
  /** Served over HTTPS: cookies get `Secure`, responses HSTS and upgrade-insecure-requests. */
  tls: boolean;
  /** Origins allowed cross-origin; empty = none. */
  corsOrigins: readonly string[];
  /** Requests per second per client address (averaged over 10 s); 0 = unlimited. */
  rateLimitRps: number;
  /** The built dashboard folder, if any. */
  dashboardDir: string | undefined;
  events: EventStreamHub;
  logger: Logger;
  /** Adds routes (behind auth) before the API's 404. */
  extraRoutes?: (router: Router, engine: CoordinatorEngine) => void;
  /**
   * A highly available coordinator's leadership: while it is not surely held, every `/api` route
   * but `/api/health` answers 503 naming the leader (header `strata-leader`: its HTTP address).
   */
  leadership?: LeaderGate;
}

/**
 * The coordinator's HTTP side as an express 5 app: helmet's security headers (a strict CSP for
 * the dashboard), CORS denied unless the origin is allowed, a body-size limit, a per-address rate
 * limit, bearer-or-session auth on every `/api` route and `/metrics` except `/api/health`,
 * `/api/ready` (probes) and `/api/session`, the API routes, the dashboard, and errors as `{code, message[, field]}`.
 */
export function createHttpApp(options: HttpAppOptions): Express {
  const { context, metrics, logger } = options;
  const app = express();
  app.set("etag", false);
  app.set("query parser", "simple");

  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          "connect-src": ["'self'"],
          // Over plain HTTP (a private network address) this would send the dashboard's own
          // requests to https:// and break it.
          "upgrade-insecure-requests": options.tls ? [] : null,
        },
      },
      strictTransportSecurity: options.tls ? { maxAge: 15_552_000 } : false,
    }),
  );
  const allowed = new Set(options.corsOrigins);
  app.use(
    cors({
      origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
      credentials: true,
      maxAge: 600,
    }),
  );
  if (options.rateLimitRps > 0) {
    app.use(
      rateLimit({
        windowMs: RATE_WINDOW_MS,
        limit: Math.max(1, Math.round((options.rateLimitRps * RATE_WINDOW_MS) / 1_000)),
        standardHeaders: "draft-8",
        legacyHeaders: false,
        // Probes must keep working under load.
        skip: (request) => request.path === "/api/health" || request.path === "/api/ready",
        handler: (_request, response) => {
          metrics.rateLimited.inc();
          sendError(
            response,
            new RuntimeError("too many requests; slow down", { code: Code.ResourceExhausted }),
          );
        },
      }),
    );
  }
  app.use(cookieParser());
  app.use(express.json({ limit: MAX_BODY_BYTES, strict: true }));

  const onFailure = () => metrics.authFailures.inc({ transport: "http" });
  const auth = createRequestAuth({ bearer: options.bearer, sessions: options.sessions, onFailure });
  app.use(healthRoute());
  const { leadership } = options;
  if (leadership !== undefined) {
    app.use("/api", (_request, response, next) => {
      if (leadership.isLeaderNow()) {
        next();
        return;
      }
      const error = leadership.notLeaderError();
      const leader = error.details.leader as { http?: string } | undefined;
      if (typeof leader?.http === "string") response.set("strata-leader", leader.http);
      next(error);
    });
  }
  // Public, after the leadership check: a coordinator that does not lead is not ready.
  app.use(readyRoute(options.readiness));
  app.use(
    "/api/session",
    Router()
      .use(sessionRoutes({ auth, bearer: options.bearer, secure: options.tls, onFailure }))
      .all("/", methodNotAllowed("GET", "POST", "DELETE")),
  );

  app.use(["/api", "/metrics"], auth.middleware);
  app.use("/api", (_request, response, next) => {
    response.set("cache-control", "no-store");
    next();
  });
  app.use(metricsRoute({ metrics }));
  app.route("/api/events").get(options.events.handler).all(methodNotAllowed("GET"));
  app.use(clusterRoutes(context));
  app.use(historyRoutes(context));
  app.use(taskRoutes(context));
  if (options.extraRoutes !== undefined) {
    const extra = Router();
    options.extraRoutes(extra, context.engine);
    app.use(extra);
  }
  app.use("/api", (request, _response, next) => {
    next(
      new RuntimeError(`no route ${request.method} ${request.originalUrl.split("?")[0]}`, {
        code: Code.NotFound,
      }),
    );
  });

  app.use(dashboardAssets(options.dashboardDir));
  app.use((request, _response, next) => {
    next(new RuntimeError(`no route ${request.method} ${request.path}`, { code: Code.NotFound }));
  });
  app.use(errorHandler(logger));
  return app;
}
