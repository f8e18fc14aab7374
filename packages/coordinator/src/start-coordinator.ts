import { join, resolve } from "node:path";
import type { Clock, Logger } from "@strata/runtime-core";
import { Code, createSilentLogger, RuntimeError } from "@strata/runtime-core";
import type { Router } from "express";
import { createBearerAuth } from "./auth/bearer-auth.js";
import type { CoordinatorConfig, CoordinatorConfigInput } from "./config.js";
import { coordinatorConfigSchema } from "./config.js";
import type { CoordinatorEngine } from "./engine/index.js";
import { createCoordinatorEngine } from "./engine/index.js";
import { createCallGuard } from "./grpc/call-guard.js";
import { createCoordinatorService } from "./grpc/coordinator-service.js";
import { startGrpcServer } from "./grpc/grpc-server.js";
import { createTokenBucketLimiter } from "./grpc/token-bucket-limiter.js";
import type { LeaderGate } from "./ha/leader-gate.js";
import { openHistory } from "./history/history.js";
import { createHttpApi } from "./http/http-api.js";
import type { CoordinatorMetrics } from "./metrics/coordinator-metrics.js";
import { createCoordinatorMetrics } from "./metrics/coordinator-metrics.js";
import { checkStartup, IN_MEMORY_DATA_DIR } from "./startup-checks.js";
import { lockDataDir } from "./store/data-dir-lock.js";
import type { CoordinatorStore } from "./store/index.js";
import { createMemoryStore, createSqliteStore } from "./store/index.js";

/** The database file inside the data directory. */
export const DATABASE_FILE = "coordinator.db";
/** Heartbeat interval told to workers: a third of the timeout, so two may be lost. */
const intervalFor = (timeoutMs: number) => Math.max(50, Math.floor(timeoutMs / 3));

/** Things that are not configuration: injected collaborators. */
export interface StartCoordinatorOptions {
  /** Default: a silent logger. The CLI passes a pino logger at the configured level. */
  logger?: Logger;
  clock?: Clock;
  /** A store to use instead of SQLite in `dataDir` (e.g. `createMemoryStore()` in tests). Closed on close(). */
  store?: CoordinatorStore;
  /** Adds routes (behind auth, before the API's 404) to the HTTP side before it starts listening. */
  routes?: (router: Router, engine: CoordinatorEngine) => void;
  /**
   * Called once if the store keeps failing (fail-stop): the coordinator has already stopped
   * serving (health NOT_SERVING, calls UNAVAILABLE) and is closing. The CLI exits non-zero.
   * Default: close and log.
   */
  onFatal?: (error: RuntimeError) => void;
  /**
   * Where `history.db` lives when `store` is given (a highly available coordinator keeps its own
   * history beside its lock). Default: with `store`, history stays in memory; without, it lives
   * in `dataDir`.
   */
  historyDir?: string;
  /** Benchmarks only: every SQLite commit first sleeps this long (a slow disk). Default 0. */
  simulatedCommitLatencyMs?: number;
  /**
   * A highly available coordinator's leadership (with `store` on etcd): every call is checked
   * against it, and `/api/status` reports this coordinator as the leader.
   */
  leadership?: LeaderGate;
}

/** A running coordinator. */
export interface RunningCoordinator {
  /** Bound gRPC address with the real port, e.g. `127.0.0.1:41234`. */
  readonly grpcAddress: string;
  /** Bound HTTP address with the real port, e.g. `127.0.0.1:3456`. */
  readonly httpAddress: string;
  readonly engine: CoordinatorEngine;
  readonly metrics: CoordinatorMetrics;
  readonly config: Readonly<CoordinatorConfig>;
  /**
   * Shuts down: refuses new calls, fails barrier waiters with UNAVAILABLE, waits up to
   * `shutdownGraceMs` for in-flight calls, then cancels the rest; closes HTTP; flushes and closes
   * the store. Idempotent: every call returns the same promise.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function parseConfig(input: CoordinatorConfigInput): CoordinatorConfig {
  const result = coordinatorConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  throw new RuntimeError(`invalid configuration:\n  - ${problems.join("\n  - ")}`, {
    code: Code.InvalidArgument,
    details: { problems },
  });
}

/** Runs {@link checkStartup} and throws every problem at once (InvalidArgument). */
function preflight(config: CoordinatorConfig) {
  const { problems, tls } = checkStartup(config);
  if (problems.length > 0) {
    const lines = problems.map((p) => `${p.key}: ${p.message}`);
    throw new RuntimeError(`cannot start:\n  - ${lines.join("\n  - ")}`, {
      code: Code.InvalidArgument,
      details: { problems: lines, field: problems[0]?.key },
    });
  }
  return tls;
}

/**
 * Starts a coordinator: opens (or creates) the SQLite store in `dataDir`, starts the engine
 * (restoring state from a previous run), then binds gRPC and HTTP. On any start failure the
 * parts already started are closed again.
 */
export async function startCoordinator(
  input: CoordinatorConfigInput = {},
  options: StartCoordinatorOptions = {},
): Promise<RunningCoordinator> {
  const config = parseConfig(input);
  const logger = options.logger ?? createSilentLogger();
  const tls = preflight(config);
  const cleanups: (() => Promise<void> | void)[] = [];
  const undo = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.warn({ err: error }, "cleanup after failed start failed");
      }
    }
  };

  let grpcHandle: { setServing(serving: boolean): void } | undefined;
  let closeOnce: () => Promise<void> = () => Promise.resolve();
  const lockCleanups: (() => void)[] = [];
  try {
    const inMemory = options.store !== undefined || config.dataDir === IN_MEMORY_DATA_DIR;
    let store = options.store;
    if (store === undefined) {
      if (config.dataDir === IN_MEMORY_DATA_DIR) {
        store = createMemoryStore();
      } else {
        const dataDir = resolve(config.dataDir);
        // One coordinator per data directory, before anything in it is opened.
        const lock = lockDataDir(dataDir);
        cleanups.push(() => lock.release());
        lockCleanups.push(() => lock.release());
        store = createSqliteStore({
          path: join(dataDir, DATABASE_FILE),
          ...(options.simulatedCommitLatencyMs === undefined
            ? {}
            : { simulatedCommitLatencyMs: options.simulatedCommitLatencyMs }),
        });
      }
    }
    const openStore = store;
    cleanups.push(() => openStore.close());
    // Events and metric samples, beside the state (in memory with an injected store or `:memory:`).
    const historyDir = options.historyDir ?? (inMemory ? undefined : resolve(config.dataDir));
    const history = openHistory({
      ...(historyDir === undefined ? {} : { dataDir: historyDir }),
      retention: {
        retentionMs: config.historyRetentionMs,
        fullResolutionMs: config.historyFullResolutionMs,
        maxEvents: config.historyMaxEvents,
      },
      logger,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    cleanups.push(() => history.close());

    const heartbeatIntervalMs = intervalFor(config.heartbeatTimeoutMs);
    const engine = createCoordinatorEngine({
      store,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      logger,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      heartbeatIntervalMs,
      barrierTimeoutMs: config.barrierTimeoutMs,
      barrierFailurePolicy: config.barrierPolicy,
      maxWorkers: config.maxWorkers,
      firstEventSeq: history.nextSeq,
      onFatal: (error) => {
        grpcHandle?.setServing(false);
        logger.fatal({ err: error }, "the store keeps failing; the coordinator stops");
        if (options.onFatal !== undefined) options.onFatal(error);
        else void closeOnce();
      },
    });
    await engine.start();
    cleanups.push(() => engine.close());

    const metrics = createCoordinatorMetrics(() => {
      const snapshot = engine.snapshot();
      let live = 0;
      let dead = 0;
      for (const worker of snapshot.workers) {
        if (worker.membership === "alive") live++;
        else if (worker.membership === "dead") dead++;
      }
      return {
        workersRegistered: snapshot.workers.length,
        workersLive: live,
        workersDead: dead,
        datasets: snapshot.datasets.length,
        membershipVersion: snapshot.membershipVersion,
        barrierWaiters: snapshot.barriers.reduce((n, b) => n + b.arrived.length, 0),
      };
    });
    cleanups.push(
      engine.onEvent((event) => {
        switch (event.type) {
          case "barrier_released":
            metrics.barrierReleases.inc();
            break;
          case "barrier_aborted":
            metrics.barrierAborts.inc({ reason: event.reason });
            break;
          case "shards_reassigned":
            metrics.shardMoves.inc(event.moved);
            break;
          case "checkpoint_recorded":
            metrics.checkpointsRecorded.inc();
            break;
          case "checkpoint_completed":
            metrics.checkpointStepsComplete.inc();
            break;
          case "worker_dead":
            metrics.workersDeclaredDead.inc();
            break;
          default:
            break;
        }
      }),
    );

    const auth = config.authToken === undefined ? undefined : createBearerAuth(config.authToken);
    // Subscribes to engine events before any RPC can cause one.
    let closing: Promise<void> | undefined;
    const httpApi = createHttpApi({
      engine,
      history,
      metrics,
      config,
      bearer: auth,
      tls,
      storeKind: store.kind,
      readiness: () => ({ engine: engine.ready, grpc: closing === undefined, store: engine.ready }),
      logger,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.routes === undefined ? {} : { routes: options.routes }),
      ...(options.leadership === undefined ? {} : { leadership: options.leadership }),
    });
    cleanups.push(() => httpApi.close(0));
    const shutdown = new AbortController();
    const service = createCoordinatorService({
      engine,
      guard: createCallGuard({
        auth,
        metrics,
        ...(options.leadership === undefined ? {} : { leadership: options.leadership }),
        limiter: createTokenBucketLimiter({
          ratePerSecond: config.rateLimitRps,
          burst: config.rateLimitBurst,
          ...(options.clock === undefined ? {} : { clock: options.clock }),
        }),
      }),
      metrics,
      logger: logger.child({ component: "grpc" }),
      shutdownSignal: shutdown.signal,
      heartbeatIntervalMs,
    });
    const grpc = await startGrpcServer({
      address: config.grpcAddr,
      service,
      ...(tls === undefined ? {} : { tls }),
    });
    grpcHandle = grpc;
    cleanups.push(() => grpc.forceShutdown());

    await httpApi.listen(grpc.address);
    if (engine.ready) grpc.setServing(true);

    const close = async () => {
      const graceMs = config.shutdownGraceMs;
      logger.info({ graceMs }, "shutting down");
      grpc.setServing(false);
      const drained = grpc.drain();
      // Fails barrier waiters with UNAVAILABLE so the drain is not held by long waits.
      await engine
        .close()
        .catch((error: unknown) => logger.error({ err: error }, "engine close failed"));
      shutdown.abort(new RuntimeError("coordinator shutting down", { code: Code.Unavailable }));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const forced = await Promise.race([
        drained.then(() => false),
        new Promise<boolean>((done) => {
          timer = setTimeout(() => done(true), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (forced) {
        logger.warn(
          { graceMs },
          "in-flight calls did not finish within the grace period; cancelling them",
        );
        grpc.forceShutdown();
      }
      await httpApi.close(graceMs);
      await history.close();
      await openStore.close();
      for (const cleanup of lockCleanups) cleanup();
      logger.info("stopped");
    };
    closeOnce = () => {
      closing ??= close();
      return closing;
    };

    return {
      grpcAddress: grpc.address,
      httpAddress: httpApi.address,
      engine,
      metrics,
      config,
      close: () => closeOnce(),
      [Symbol.asyncDispose]: () => closeOnce(),
    };
  } catch (error) {
    await undo();
    throw error;
  }
}
