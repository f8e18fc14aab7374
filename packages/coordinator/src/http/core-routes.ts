import { Code, RuntimeError } from "@strata/runtime-core";
import { Router } from "express";
import type { HealthResponse } from "../api/status.js";
import type { CoordinatorMetrics } from "../metrics/coordinator-metrics.js";

/** What `/api/ready` checks; every part must be true. */
export interface ReadinessParts {
  /** The engine started (its store loaded) and is not closing. */
  engine: boolean;
  /** The gRPC server is bound and not shutting down. */
  grpc: boolean;
  /** The store is open. */
  store: boolean;
}

/** `/api/health`: liveness, public (registered before the auth middleware). */
export function healthRoute(): Router {
  const router = Router();
  router.get("/api/health", (_request, response) => {
    const body: HealthResponse = { status: "ok" };
    response.set("cache-control", "no-store").json(body);
  });
  return router;
}

/**
 * `/api/ready`: 200 once ready, 503 naming the failing parts until then (and, when highly
 * available, on every coordinator that does not lead). Public like `/api/health`: Kubernetes
 * readiness probes and load-balancer health checks send no credentials, and the answer holds
 * nothing but up/down per part.
 */
export function readyRoute(readiness: () => ReadinessParts): Router {
  const router = Router();
  router.get("/api/ready", (_request, response) => {
    const parts = readiness();
    if (!(parts.engine && parts.grpc && parts.store)) {
      const failing = Object.entries(parts)
        .filter(([, ok]) => !ok)
        .map(([name]) => name);
      throw new RuntimeError(`not ready: ${failing.join(", ")}`, { code: Code.Unavailable });
    }
    response.set("cache-control", "no-store").json({ status: "ready", ...parts });
  });
  return router;
}

/** `/metrics` (Prometheus text), behind auth. */
export function metricsRoute(options: { metrics: CoordinatorMetrics }): Router {
  const router = Router();
  router.get("/metrics", async (_request, response) => {
    const text = await options.metrics.registry.metrics();
    response
      .set({ "content-type": options.metrics.registry.contentType, "cache-control": "no-store" })
      .send(text);
  });
  return router;
}
