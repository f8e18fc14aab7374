import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ConfigSourceName, LoadedConfig } from "@strata/runtime-core";
import {
  Code,
  configKeyToEnvName,
  configKeyToFlag,
  createLogger,
  LOG_LEVELS,
  loadConfig,
  RuntimeError,
} from "@strata/runtime-core";
import { Command, InvalidArgumentError } from "commander";
import type { CoordinatorConfig } from "./config.js";
import { coordinatorConfigSchema, isLoopbackHost } from "./config.js";
import { startHaCoordinator } from "./ha/start-ha-coordinator.js";
import { parseHostPort } from "./host-port.js";
import { startCoordinator } from "./start-coordinator.js";
import { checkStartup } from "./startup-checks.js";

/** Exit code for a configuration error (bad flag, env variable or config file). */
export const EXIT_CONFIG = 2;
/** Exit code for a failure at start or while running. */
export const EXIT_FAILURE = 1;

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

const defaultIo: CliIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

const FLAG_KEYS = [
  "grpcAddr",
  "httpAddr",
  "dataDir",
  "heartbeatTimeoutMs",
  "authToken",
  "tlsCert",
  "tlsKey",
  "logLevel",
  "barrierTimeoutMs",
  "barrierPolicy",
  "rateLimitRps",
  "rateLimitBurst",
  "shutdownGraceMs",
  "maxWorkers",
  "corsOrigins",
  "dashboardDir",
  "httpRateLimitRps",
  "historyRetentionMs",
  "historyFullResolutionMs",
  "historyMaxEvents",
  "state",
  "etcdEndpoints",
  "etcdPrefix",
  "etcdCa",
  "etcdCert",
  "etcdKey",
  "etcdUsername",
  "etcdPassword",
  "leaderLeaseTtlS",
  "advertiseGrpcAddr",
  "advertiseHttpAddr",
] as const;

function buildProgram(): Command {
  return new Command("strata-coordinator")
    .description(
      "The Strata coordinator: membership, heartbeats, barriers, dataset shards and checkpoint records over gRPC, with /api/health, /api/ready and /metrics over HTTP.\n" +
        "Every option can also be set as STRATA_<NAME> in the environment (e.g. STRATA_GRPC_ADDR) or in a --config file; flags win over env, env over the file.",
    )
    .option(
      "--grpc-addr <host:port>",
      "gRPC listen address (default 0.0.0.0:50051) [STRATA_GRPC_ADDR]",
    )
    .option(
      "--http-addr <host:port>",
      "HTTP listen address (default 127.0.0.1:3000; 0.0.0.0:3000 when an auth token is set) [STRATA_HTTP_ADDR]",
    )
    .option(
      "--data-dir <dir>",
      "directory for the coordinator database (default ./.strata) [STRATA_DATA_DIR]",
    )
    .option(
      "--heartbeat-timeout-ms <ms>",
      "declare a worker dead after this long without a heartbeat (default 15000) [STRATA_HEARTBEAT_TIMEOUT_MS]",
    )
    .option(
      "--auth-token <token>",
      "require 'authorization: Bearer <token>' on every RPC and HTTP route [STRATA_AUTH_TOKEN]",
    )
    .option(
      "--tls-cert <file>",
      "PEM certificate chain for gRPC TLS (with --tls-key) [STRATA_TLS_CERT]",
    )
    .option("--tls-key <file>", "PEM private key for gRPC TLS (with --tls-cert) [STRATA_TLS_KEY]")
    .option(
      "--log-level <level>",
      `log level: ${LOG_LEVELS.join(", ")} (default info) [STRATA_LOG_LEVEL]`,
    )
    .option(
      "--barrier-timeout-ms <ms>",
      "default barrier timeout (default 300000) [STRATA_BARRIER_TIMEOUT_MS]",
    )
    .option(
      "--barrier-policy <policy>",
      "when a barrier member dies: abort | release_survivors (default abort) [STRATA_BARRIER_POLICY]",
    )
    .option(
      "--rate-limit-rps <n>",
      "RPCs per second per client IP, 0 = off (default 2000) [STRATA_RATE_LIMIT_RPS]",
    )
    .option(
      "--rate-limit-burst <n>",
      "burst per client IP (default 4000) [STRATA_RATE_LIMIT_BURST]",
    )
    .option(
      "--shutdown-grace-ms <ms>",
      "wait this long for in-flight calls on shutdown (default 10000) [STRATA_SHUTDOWN_GRACE_MS]",
    )
    .option("--max-workers <n>", "most live workers (default 10000) [STRATA_MAX_WORKERS]")
    .option(
      "--state <backend>",
      "where the cluster state lives: sqlite (one coordinator) | etcd (several, one leads) (default sqlite) [STRATA_STATE]",
    )
    .option(
      "--etcd-endpoints <list>",
      "etcd endpoints, comma-separated host:port (default 127.0.0.1:2379) [STRATA_ETCD_ENDPOINTS]",
    )
    .option("--etcd-prefix <path>", "key prefix in etcd (default /strata/) [STRATA_ETCD_PREFIX]")
    .option("--etcd-ca <file>", "PEM CA to verify etcd over TLS [STRATA_ETCD_CA]")
    .option("--etcd-cert <file>", "PEM client certificate for etcd [STRATA_ETCD_CERT]")
    .option("--etcd-key <file>", "PEM client key for etcd [STRATA_ETCD_KEY]")
    .option("--etcd-username <name>", "etcd user name [STRATA_ETCD_USERNAME]")
    .option("--etcd-password <secret>", "etcd password [STRATA_ETCD_PASSWORD]")
    .option(
      "--leader-lease-ttl-s <seconds>",
      "leader lease TTL: a dead leader is replaced after this long (default 5) [STRATA_LEADER_LEASE_TTL_S]",
    )
    .option(
      "--advertise-grpc-addr <host:port>",
      "gRPC address followers tell clients to dial when this one leads (default: derived) [STRATA_ADVERTISE_GRPC_ADDR]",
    )
    .option(
      "--advertise-http-addr <host:port>",
      "HTTP address announced the same way (default: derived) [STRATA_ADVERTISE_HTTP_ADDR]",
    )
    .option(
      "--cors-origins <list>",
      "comma-separated browser origins allowed cross-origin (default none) [STRATA_CORS_ORIGINS]",
    )
    .option(
      "--dashboard-dir <dir>",
      "built dashboard served at / (default: the repository's dashboard/dist) [STRATA_DASHBOARD_DIR]",
    )
    .option(
      "--http-rate-limit-rps <n>",
      "HTTP requests per second per client address, 0 = off (default 100) [STRATA_HTTP_RATE_LIMIT_RPS]",
    )
    .option(
      "--history-retention-ms <ms>",
      "keep events and metric history this long (default 604800000, 7 days) [STRATA_HISTORY_RETENTION_MS]",
    )
    .option(
      "--history-full-resolution-ms <ms>",
      "keep 1-second metric samples this long, then 1-minute averages (default 21600000) [STRATA_HISTORY_FULL_RESOLUTION_MS]",
    )
    .option(
      "--history-max-events <n>",
      "most events kept in history (default 1000000) [STRATA_HISTORY_MAX_EVENTS]",
    )
    .option(
      "--config <file>",
      "JSON or YAML file with any of the keys above in camelCase (e.g. grpcAddr)",
    )
    .helpOption("-h, --help", "show this help")
    .showHelpAfterError()
    .exitOverride();
}

/** Where a key's value came from, in the words of an error message. */
function describeSource(key: string, source: string | undefined): string {
  switch (source) {
    case "flag":
      return `flag ${configKeyToFlag(key)}`;
    case "env":
      return `environment ${configKeyToEnvName(key)}`;
    case "file":
      return "the config file";
    default:
      return "the default";
  }
}

/** Loads the configuration from flags, env and file; applies the HTTP-address rule. */
export function loadCoordinatorConfig(
  options: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
): LoadedConfig<CoordinatorConfig> {
  const flags: Record<string, unknown> = {};
  for (const key of FLAG_KEYS) flags[key] = options[key];
  const configFile = options.config;
  const loaded = loadConfig({
    schema: coordinatorConfigSchema,
    env,
    flags,
    secrets: ["authToken", "etcdPassword"],
    ...(typeof configFile === "string" ? { file: configFile } : {}),
  });
  if (loaded.sources.httpAddr === "default" && loaded.config.authToken !== undefined) {
    // With a token the HTTP side is protected, so it may listen on every interface.
    return {
      config: Object.freeze({ ...loaded.config, httpAddr: "0.0.0.0:3000" }),
      sources: { ...loaded.sources, httpAddr: "default" as ConfigSourceName },
    };
  }
  return loaded;
}

/**
 * The repository's built dashboard, found from the running script (`packages/coordinator/dist/bin.js`
 * → `dashboard/dist`), so `pnpm start` serves it without configuration.
 */
function defaultDashboardDir(script: string): string {
  let path = script;
  try {
    path = realpathSync(script);
  } catch {
    // Not a file we can resolve (e.g. `node -e`): the guess below still names a folder.
  }
  return join(dirname(path), "..", "..", "..", "dashboard", "dist");
}

/**
 * Runs `strata-coordinator`: parses flags, starts the coordinator, prints one machine-readable
 * line `{"msg":"listening","grpc":"host:port","http":"host:port"}` on standard output, and
 * resolves with the exit code once SIGINT/SIGTERM shut it down cleanly (a second signal forces
 * exit). Logs go to standard error.
 */
export async function runCli(
  argv: readonly string[] = process.argv,
  env: Readonly<Record<string, string | undefined>> = process.env,
  io: CliIo = defaultIo,
): Promise<number> {
  const program = buildProgram();
  program.configureOutput({
    writeOut: (text) => io.stdout(text.trimEnd()),
    writeErr: (text) => io.stderr(text.trimEnd()),
  });
  try {
    program.parse([...argv]);
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode;
    if (error instanceof InvalidArgumentError || code !== 0) return EXIT_CONFIG;
    return 0;
  }

  let loaded: LoadedConfig<CoordinatorConfig>;
  try {
    loaded = loadCoordinatorConfig(program.opts(), env);
    parseHostPort(loaded.config.grpcAddr, "grpcAddr");
    parseHostPort(loaded.config.httpAddr, "httpAddr");
  } catch (error) {
    io.stderr(`strata-coordinator: ${RuntimeError.from(error).rawMessage}`);
    return EXIT_CONFIG;
  }
  const { sources } = loaded;
  const config =
    loaded.config.dashboardDir === undefined && argv[1] !== undefined
      ? { ...loaded.config, dashboardDir: defaultDashboardDir(argv[1]) }
      : loaded.config;
  // Files and directories the configuration names, all checked before the banner.
  const { problems } = checkStartup(config);
  if (problems.length > 0) {
    const lines = problems.map(
      (p) => `config key "${p.key}" from ${describeSource(p.key, sources[p.key])}: ${p.message}`,
    );
    io.stderr(`strata-coordinator: cannot start:\n  - ${lines.join("\n  - ")}`);
    return EXIT_CONFIG;
  }
  const logger = createLogger({ name: "strata-coordinator", level: config.logLevel });

  if (config.authToken === undefined) {
    logger.warn(
      { grpcAddr: config.grpcAddr },
      "no auth token set (--auth-token / STRATA_AUTH_TOKEN): anyone who can reach the gRPC port can register, heartbeat and release barriers",
    );
    if (!isLoopbackHost(parseHostPort(config.httpAddr, "httpAddr").host)) {
      logger.warn(
        { httpAddr: config.httpAddr },
        "HTTP listens beyond loopback without an auth token",
      );
    }
  }
  const { authToken: _hidden, ...shown } = config;
  logger.info(
    { config: { ...shown, authToken: config.authToken ? "(set)" : "(unset)" }, sources },
    "configuration",
  );

  let running: { grpcAddress: string; httpAddress: string; close(): Promise<void> };
  let onFatal: (error: RuntimeError) => void = () => undefined;
  // Until the exit promise below is set up, a fatal error is remembered and acted on then.
  let early: RuntimeError | undefined;
  onFatal = (error) => {
    early ??= error;
  };
  try {
    running =
      config.state === "etcd"
        ? await startHaCoordinator(config, { logger, onFatal: (error) => onFatal(error) })
        : await startCoordinator(config, { logger, onFatal: (error) => onFatal(error) });
  } catch (error) {
    const failure = RuntimeError.from(error);
    logger.fatal({ err: failure }, "coordinator failed to start");
    io.stderr(`strata-coordinator: ${failure.rawMessage}`);
    logger.flush();
    // A configuration problem, or the data directory held by another coordinator: exit 2.
    return failure.code === Code.InvalidArgument || failure.code === Code.FailedPrecondition
      ? EXIT_CONFIG
      : EXIT_FAILURE;
  }
  return new Promise<number>((resolveExit) => {
    // Fail-stop: a store that keeps failing ends the process, non-zero, after a clean close.
    let stopping = false;
    onFatal = (error) => {
      if (stopping) return;
      stopping = true;
      io.stderr(`strata-coordinator: stopping: ${error.rawMessage}`);
      running.close().finally(() => {
        logger.flush();
        resolveExit(EXIT_FAILURE);
      });
    };
    if (early !== undefined) onFatal(early);
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, "second signal: exiting without waiting");
        logger.flush();
        resolveExit(EXIT_FAILURE);
        return;
      }
      logger.info({ signal }, "signal received");
      running.close().then(
        () => {
          logger.flush();
          process.removeListener("SIGINT", onSignal);
          process.removeListener("SIGTERM", onSignal);
          resolveExit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, "shutdown failed");
          logger.flush();
          resolveExit(EXIT_FAILURE);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    // Only now, with the handlers in place: a supervisor that sends SIGTERM as soon as it reads
    // this line must get a clean shutdown, not the default action (an instant kill).
    io.stdout(
      JSON.stringify({
        msg: "listening",
        grpc: running.grpcAddress,
        http: running.httpAddress,
        tls: config.tlsCert !== undefined,
        auth: config.authToken !== undefined,
        pid: process.pid,
        state: config.state,
      }),
    );
    logger.info({ grpc: running.grpcAddress, http: running.httpAddress }, "listening");
  });
}
