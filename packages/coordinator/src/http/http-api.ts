import { hostname } from "node:os";
import { type Clock, type Logger, systemClock } from "@strata/runtime-core";
import type { Router } from "express";
import type { BearerAuth } from "../auth/bearer-auth.js";
import { splitOrigins } from "../config.js";
import type { CoordinatorEngine } from "../engine/types.js";
import type { LeaderGate } from "../ha/leader-gate.js";
import type { History } from "../history/history.js";
import type { CoordinatorMetrics } from "../metrics/coordinator-metrics.js";
import { ClusterMonitor } from "../monitor/cluster-monitor.js";
import { TaskManager } from "../tasks/task-manager.js";
import { engineEventToApi } from "../views/engine-event-to-api.js";
import type { CoordinatorIdentity } from "../views/status-view.js";
import { buildDashboard } from "./cluster-routes.js";
import type { ReadinessParts } from "./core-routes.js";
import { DashboardCache } from "./dashboard-cache.js";
import { EventStreamHub } from "./event-stream.js";
import { createHttpApp } from "./http-app.js";
import { type HttpServerHandle, startHttpServer } from "./http-server.js";
import { createSessionCookies } from "./session-cookie.js";

/** The coordinator's version, as `/api/status` reports it. */
export const COORDINATOR_VERSION = "0.1.0";

/** Options for {@link createHttpApi}. */
export interface HttpApiOptions {
  engine: CoordinatorEngine;
  /** Where events and samples go (the engine's events are recorded from the moment of creation). */
  history: History;
  metrics: CoordinatorMetrics;
  /** The configuration keys the HTTP side reads. */
  config: {
    httpAddr: string;
    authToken?: string | undefined;
    corsOrigins: string;
    httpRateLimitRps: number;
    dashboardDir?: string | undefined;
  };
  /** The bearer token check shared with gRPC (undefined: no token). */
  bearer: BearerAuth | undefined;
  tls: { certChain: Buffer; privateKey: Buffer } | undefined;
  /** Where durable state lives (`sqlite`, `memory`, `etcd`), for `/api/status`. */
  storeKind: string;
  readiness: () => ReadinessParts;
  logger: Logger;
  clock?: Clock;
  /** Extra routes (behind auth). */
  routes?: (router: Router, engine: CoordinatorEngine) => void;
  /** A highly available coordinator's leadership (see `HttpAppOptions.leadership`). */
  leadership?: LeaderGate;
}

/** The coordinator's HTTP side: API, event stream, dashboard, and the loops behind them. */
export interface HttpApi {
  readonly tasks: TaskManager;
  readonly monitor: ClusterMonitor;
  readonly events: EventStreamHub;
  /** The bound address (`127.0.0.1:3456`); empty before `listen`. */
  readonly address: string;
  /**
   * After the engine started and gRPC is bound: loads tasks (re-sending pending commands),
   * starts the once-a-second monitor, and binds the HTTP server.
   */
  listen(grpcAddress: string): Promise<void>;
  /**
   * Stops the monitor, ends every event stream, stops accepting requests and waits up to
   * `graceMs` for open ones, then cuts the rest. Does not close history. Idempotent.
   */
  close(graceMs: number): Promise<void>;
}

/**
 * Creates the HTTP side over the engine, recording every engine event in history at once (call
 * it before `engine.start()` so none is missed). Nothing listens until {@link HttpApi.listen}.
 */
export function createHttpApi(options: HttpApiOptions): HttpApi {
  const { engine, history, metrics } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger.child({ component: "http" });
  const tasks = new TaskManager({ engine, history, clock, logger });
  const stopRecording = engine.onEvent((event) =>
    history.append(engineEventToApi(event, (workerId) => tasks.taskOfWorker(workerId))),
  );
  const coordinatorId = options.leadership?.self.id ?? `${hostname()}:${process.pid}`;
  const events = new EventStreamHub({
    history,
    coordinatorId,
    startedAtMs: () => engine.snapshot().startedAtMs,
    clock,
    logger,
    onDropped: (clients) =>
      coordinatorLog("warn", "events", "an event stream client read too slowly and was dropped", {
        clients,
      }),
  });
  const monitor = new ClusterMonitor({
    engine,
    history,
    metrics,
    tasks,
    clock,
    logger,
    onTick: (tick) => {
      events.tick(tick);
      dashboard?.refresh();
    },
    wantsTicks: () => events.clientCount > 0,
  });
  let server: HttpServerHandle | undefined;
  let dashboard: DashboardCache | undefined;
  let closing: Promise<void> | undefined;

  function coordinatorLog(
    level: "info" | "warn",
    source: string,
    message: string,
    data: Record<string, unknown>,
  ): void {
    history.append({
      type: "log",
      at: clock.now(),
      level,
      message,
      source,
      worker_id: null,
      task_id: null,
      dataset_id: null,
      barrier_id: null,
      job_id: null,
      data,
    });
  }

  return {
    tasks,
    monitor,
    events,
    get address() {
      return server?.address ?? "";
    },
    async listen(grpcAddress) {
      tasks.load();
      const identity: CoordinatorIdentity = {
        coordinatorId,
        grpcAddress,
        httpAddress: () => server?.address ?? options.config.httpAddr,
        startedAtMs: engine.snapshot().startedAtMs,
        version: COORDINATOR_VERSION,
        store: options.storeKind,
        auth: options.bearer !== undefined,
        ...(options.leadership === undefined
          ? {}
          : {
              role: "leader" as const,
              advertisedGrpc: options.leadership.self.grpc,
              advertisedHttp: options.leadership.self.http,
            }),
      };
      const token = options.config.authToken;
      const reads = { engine, history, monitor, tasks, identity, clock };
      dashboard = new DashboardCache((host) => buildDashboard(reads, host), clock);
      const app = createHttpApp({
        context: { ...reads, dashboard },
        metrics,
        readiness: options.readiness,
        bearer: options.bearer,
        sessions: token === undefined ? undefined : createSessionCookies(token, clock),
        tls: options.tls !== undefined,
        corsOrigins: splitOrigins(options.config.corsOrigins),
        rateLimitRps: options.config.httpRateLimitRps,
        dashboardDir: options.config.dashboardDir,
        events,
        logger,
        ...(options.routes === undefined ? {} : { extraRoutes: options.routes }),
        ...(options.leadership === undefined ? {} : { leadership: options.leadership }),
      });
      server = await startHttpServer(options.config.httpAddr, app, options.tls);
      monitor.start();
      const snapshot = engine.snapshot();
      coordinatorLog(
        "info",
        "coordinator",
        `coordinator ${coordinatorId} started: gRPC ${grpcAddress}, HTTP ${server.address}, ${snapshot.worldSize} live workers restored`,
        { grpc_address: grpcAddress, http_address: server.address, world_size: snapshot.worldSize },
      );
    },
    close(graceMs) {
      closing ??= (async () => {
        monitor.stop();
        coordinatorLog("info", "coordinator", `coordinator ${coordinatorId} stopping`, {});
        events.close();
        stopRecording();
        await server?.close(graceMs);
      })();
      return closing;
    },
  };
}
