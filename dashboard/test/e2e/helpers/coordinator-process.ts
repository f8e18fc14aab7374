import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { COORDINATOR_BIN, DASHBOARD_DIST } from "./repo-paths.js";

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
  const args = [
    COORDINATOR_BIN,
    "--grpc-addr",
    "127.0.0.1:0",
    "--http-addr",
    options.httpAddr ?? "127.0.0.1:0",
    "--data-dir",
    options.dataDir,
    "--heartbeat-timeout-ms",
    String(options.heartbeatTimeoutMs ?? 2_000),
    "--dashboard-dir",
    DASHBOARD_DIST,
    "--shutdown-grace-ms",
    "2000",
    "--http-rate-limit-rps",
    "0",
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const listening = await new Promise<{ grpc: string; http: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `coordinator did not start within ${options.startTimeoutMs ?? 20_000} ms:\n${output}`,
        ),
      );
    }, options.startTimeoutMs ?? 20_000);
    lines.on("line", (line) => {
      output += `${line}\n`;
      try {
        const parsed = JSON.parse(line) as { msg?: string; grpc?: string; http?: string };
        if (parsed.msg === "listening" && parsed.grpc && parsed.http) {
          clearTimeout(timer);
          resolve({ grpc: parsed.grpc, http: parsed.http });
        }
      } catch {
        // A log line that is not JSON.
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`coordinator exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    grpc: listening.grpc,
    http: listening.http,
    url: `http://${listening.http}`,
    child,
    output: () => output,
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
