import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { COORDINATOR_BIN, startCoordinatorProcess } from "@strata/coordinator/testing";
import { DASHBOARD_DIST } from "./repo-paths.js";

/** A coordinator running as its own process. */
export interface CoordinatorProcess {
  /** `host:port` of gRPC. */
  readonly grpc: string;
  /** `host:port` of HTTP. */
  readonly http: string;
  /** `http://host:port`, where the dashboard is served. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stderr and stdout, for failure messages. */
  output(): string;
  /** SIGTERM and wait for the exit (SIGKILL after `graceMs`). Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Options for {@link startCoordinator}. */
export interface StartCoordinatorOptions {
  dataDir: string;
  /** Default `127.0.0.1:0`. */
  httpAddr?: string;
  /** Default 2,000 ms (the default 15 s would make the death test slow). */
  heartbeatTimeoutMs?: number;
  extraArgs?: readonly string[];
  /** How long to wait for the "listening" line. Default 20 s. */
  startTimeoutMs?: number;
}

/**
 * Starts `packages/coordinator/dist/bin.js` on port 0 (unless told otherwise) serving the built
 * dashboard, and resolves once it prints `{"msg":"listening","grpc":…,"http":…}`.
 */
export async function startCoordinator(
  options: StartCoordinatorOptions,
): Promise<CoordinatorProcess> {
  for (const [what, path] of [
    ["the coordinator (pnpm --filter @strata/coordinator build)", COORDINATOR_BIN],
    ["the dashboard (pnpm --filter @strata/dashboard build)", `${DASHBOARD_DIST}/index.html`],
  ] as const) {
    if (!existsSync(path)) throw new Error(`build ${what} first: ${path} is missing`);
  }
  const started = await startCoordinatorProcess({
    dataDir: options.dataDir,
    httpAddr: options.httpAddr,
    args: [
      "--heartbeat-timeout-ms",
      String(options.heartbeatTimeoutMs ?? 2_000),
      "--dashboard-dir",
      DASHBOARD_DIST,
      "--shutdown-grace-ms",
      "2000",
      "--http-rate-limit-rps",
      "0",
      ...(options.extraArgs ?? []),
    ],
    startTimeoutMs: options.startTimeoutMs,
  });
  return {
    grpc: started.grpc,
    http: started.http,
    url: started.url,
    child: started.child,
    output: started.output,
    async stop(graceMs = 5_000) {
      await started.stop("SIGTERM", graceMs);
    },
  };
}
