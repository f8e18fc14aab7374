import { Code, RuntimeError } from "@strata/runtime-core";
import type { CoordinatorMetrics } from "../metrics/coordinator-metrics.js";
import type { HttpRouter } from "./http-router.js";

/** What `/api/ready` checks; every part must be true. */
export interface ReadinessParts {
  /** The engine started (its store loaded) and is not closing. */
  engine: boolean;
  /** The gRPC server is bound and not shutting down. */
  grpc: boolean;
  /** The store is open. */
  store: boolean;
}

/**
 * `/api/health` (liveness, public), `/api/ready` (503 with the failing parts until ready) and
 * `/metrics` (Prometheus text format).
 */
export function registerCoreRoutes(
  router: HttpRouter,
  options: { metrics: CoordinatorMetrics; readiness: () => ReadinessParts },
): void {
  router.route("GET", "/api/health", () => ({ body: { status: "ok" } }), { public: true });
  router.route("GET", "/api/ready", () => {
    const parts = options.readiness();
    const ready = parts.engine && parts.grpc && parts.store;
    if (!ready) {
      const failing = Object.entries(parts)
        .filter(([, ok]) => !ok)
        .map(([name]) => name);
      throw new RuntimeError(`not ready: ${failing.join(", ")}`, { code: Code.Unavailable });
    }
    return { body: { status: "ready", ...parts } };
  });
  router.route("GET", "/metrics", async () => ({
    body: await options.metrics.registry.metrics(),
    contentType: options.metrics.registry.contentType,
  }));
}
