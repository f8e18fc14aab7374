import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { Code, createLogger, LOG_LEVELS, type LogLevel, RuntimeError } from "@strata/runtime-core";
import { Command } from "commander";
import { runTraining, type TrainingConfig } from "./training-run.js";
import { createWorkerOutput, type OutputMode } from "./worker-output.js";

/** Exit codes of `strata-worker`. */
export const EXIT = { ok: 0, failure: 1, config: 2 } as const;

/** Where the CLI writes and what it reads; injectable for tests. */
export interface WorkerCliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: Readonly<Record<string, string | undefined>>;
}

interface OptionSpec {
  flag: string;
  env: string;
  /** Value name in the help text. */
  arg?: string;
  help: string;
  /** Default as the user would type it. */
  fallback?: string;
}

/** Every option, its environment variable and default (the help text is built from this). */
export const WORKER_OPTIONS: readonly OptionSpec[] = [
  {
    flag: "coordinator",
    env: "STRATA_COORDINATOR",
    arg: "host:port[,host:port]",
    help: "coordinator gRPC address(es)",
    fallback: "localhost:50051",
  },
  {
    flag: "worker-id",
    env: "STRATA_WORKER_ID",
    arg: "id",
    help: "stable worker id (keeps its rank across restarts)",
    fallback: "the host name",
  },
  {
    flag: "auth-token",
    env: "STRATA_AUTH_TOKEN",
    arg: "token",
    help: "bearer token of a coordinator run with --auth-token",
  },
  {
    flag: "tls-ca",
    env: "STRATA_WORKER_TLS_CA",
    arg: "file",
    help: "PEM CA of a TLS coordinator (a self-signed certificate)",
  },
  { flag: "tls", env: "STRATA_WORKER_TLS", help: "use TLS with the system's root certificates" },
  {
    flag: "data-dir",
    env: "STRATA_WORKER_DATA_DIR",
    arg: "dir",
    help: "where the generated dataset is written",
    fallback: "./.strata-worker",
  },
  {
    flag: "storage",
    env: "STRATA_CHECKPOINT_STORAGE",
    arg: "uri",
    help: "checkpoint storage: a path, file:///abs or s3://bucket/prefix",
    fallback: "<data-dir>/checkpoints",
  },
  {
    flag: "job-id",
    env: "STRATA_JOB_ID",
    arg: "id",
    help: "training job (checkpoints and barriers)",
    fallback: "strata-demo",
  },
  {
    flag: "dataset-id",
    env: "STRATA_WORKER_DATASET_ID",
    arg: "id",
    help: "dataset id",
    fallback: "synthetic",
  },
  {
    flag: "samples",
    env: "STRATA_WORKER_SAMPLES",
    arg: "n",
    help: "samples in the generated dataset",
    fallback: "20000",
  },
  {
    flag: "shard-size",
    env: "STRATA_WORKER_SHARD_SIZE",
    arg: "n",
    help: "samples per shard",
    fallback: "250",
  },
  {
    flag: "features",
    env: "STRATA_WORKER_FEATURES",
    arg: "n",
    help: "features per sample",
    fallback: "16",
  },
  {
    flag: "seed",
    env: "STRATA_WORKER_SEED",
    arg: "n",
    help: "dataset and shuffle seed",
    fallback: "42",
  },
  {
    flag: "epochs",
    env: "STRATA_WORKER_EPOCHS",
    arg: "n",
    help: "epochs to train; 0 = until stopped",
    fallback: "3",
  },
  {
    flag: "batch-size",
    env: "STRATA_WORKER_BATCH_SIZE",
    arg: "n",
    help: "samples per step",
    fallback: "32",
  },
  {
    flag: "learning-rate",
    env: "STRATA_WORKER_LEARNING_RATE",
    arg: "x",
    help: "Adam step size",
    fallback: "0.05",
  },
  {
    flag: "checkpoint-every",
    env: "STRATA_WORKER_CHECKPOINT_EVERY",
    arg: "steps",
    help: "steps between coordinated checkpoints",
    fallback: "50",
  },
  {
    flag: "step-delay-ms",
    env: "STRATA_WORKER_STEP_DELAY_MS",
    arg: "ms",
    help: "extra time per step (stands in for accelerator work)",
    fallback: "0",
  },
  {
    flag: "resume",
    env: "STRATA_WORKER_RESUME",
    arg: "mode",
    help: "rejoin: this worker re-joins a running job; job: the whole job restarts from its checkpoint (restores the data position)",
    fallback: "rejoin",
  },
  {
    flag: "min-workers",
    env: "STRATA_WORKER_MIN_WORKERS",
    arg: "n",
    help: "with --resume job: workers that must be live before the job resumes (the job's size)",
    fallback: "1",
  },
  {
    flag: "wait-for-task",
    env: "STRATA_WORKER_WAIT_FOR_TASK",
    help: "stay idle until a start_task command (POST /api/tasks) arrives",
  },
  {
    flag: "heartbeat-interval-ms",
    env: "STRATA_WORKER_HEARTBEAT_INTERVAL_MS",
    arg: "ms",
    help: "heartbeat period",
    fallback: "what the coordinator asks",
  },
  {
    flag: "barrier-timeout-ms",
    env: "STRATA_WORKER_BARRIER_TIMEOUT_MS",
    arg: "ms",
    help: "timeout of the resume barriers",
    fallback: "the coordinator's",
  },
  {
    flag: "progress",
    env: "STRATA_WORKER_PROGRESS",
    arg: "mode",
    help: "auto, bar or json",
    fallback: "auto (a bar in a terminal)",
  },
  {
    flag: "health-file",
    env: "STRATA_WORKER_HEALTH_FILE",
    arg: "file",
    help: "rewrite this file every 2 s with the time of the last acknowledged heartbeat (container health checks)",
  },
  {
    flag: "log-samples",
    env: "STRATA_WORKER_LOG_SAMPLES",
    help: "log every accepted progress report (JSON consumed events)",
  },
  {
    flag: "log-every",
    env: "STRATA_WORKER_LOG_EVERY",
    arg: "steps",
    help: "JSON step lines every this many steps",
    fallback: "10",
  },
  {
    flag: "stop-grace-ms",
    env: "STRATA_WORKER_STOP_GRACE_MS",
    arg: "ms",
    help: "after SIGINT/SIGTERM, how long to finish reporting, recording checkpoints and deregistering before exiting anyway with code 1",
    fallback: "10000",
  },
  {
    flag: "log-level",
    env: "STRATA_LOG_LEVEL",
    arg: "level",
    help: "SDK log level on stderr",
    fallback: "warn",
  },
];

function buildProgram(): Command {
  const program = new Command("strata-worker")
    .description(
      "A Strata training worker: writes a generated dataset as shard files, trains logistic regression on this worker's shards, checkpoints weights, optimizer state and data position, and resumes where it left off.\n" +
        "Every option can also be set in the environment (the name in brackets); flags win.",
    )
    .helpOption("-h, --help", "show this help")
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  for (const o of WORKER_OPTIONS) {
    const def = o.fallback === undefined ? "" : ` (default ${o.fallback})`;
    program.option(`--${o.flag}${o.arg ? ` <${o.arg}>` : ""}`, `${o.help}${def} [${o.env}]`);
  }
  return program;
}

/** The help text. */
export function workerHelp(): string {
  return buildProgram().helpInformation();
}

function invalid(flag: string, why: string, value?: unknown): never {
  throw new RuntimeError(
    `--${flag} ${why}${value === undefined ? "" : ` (got ${JSON.stringify(value)})`}`,
    {
      code: Code.InvalidArgument,
      details: { field: flag },
    },
  );
}

/**
 * Reads flags over environment over defaults into a {@link TrainingConfig}. Every bad value is
 * `InvalidArgument` naming the flag.
 */
export function parseWorkerConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): {
  config: TrainingConfig;
  progress: "auto" | OutputMode;
  logLevel: LogLevel;
  logEvery: number;
  stopGraceMs: number;
} {
  const program = buildProgram();
  try {
    program.parse([...argv], { from: "user" });
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e.code === "commander.helpDisplayed") throw error;
    throw new RuntimeError(String(e.message ?? error).replace(/^error: /, ""), {
      code: Code.InvalidArgument,
    });
  }
  if (program.args.length > 0) invalid(String(program.args[0]), "is not an option; see --help");
  const flags = program.opts<Record<string, string | boolean | undefined>>();
  const get = (flag: string): string | undefined => {
    const spec = WORKER_OPTIONS.find((o) => o.flag === flag) as OptionSpec;
    const key = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const fromFlag = flags[key];
    if (typeof fromFlag === "string") return fromFlag;
    if (fromFlag === true) return "true";
    const fromEnv = env[spec.env];
    return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
  };
  const bool = (flag: string): boolean => {
    const v = get(flag);
    if (v === undefined) return false;
    if (["1", "true", "yes"].includes(v.toLowerCase())) return true;
    if (["0", "false", "no"].includes(v.toLowerCase())) return false;
    return invalid(flag, "must be true or false", v);
  };
  const int = (
    flag: string,
    fallback: number,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
  ): number => {
    const v = get(flag);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      return invalid(flag, `must be an integer in ${min}…${max}`, v);
    }
    return n;
  };
  const id = (flag: string, fallback: string): string => {
    const v = get(flag) ?? fallback;
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(v))
      invalid(flag, "must be 1 to 128 characters of [A-Za-z0-9._:-]", v);
    return v;
  };

  const coordinator = (get("coordinator") ?? "localhost:50051").split(",").map((s) => s.trim());
  for (const address of coordinator) {
    if (!/^(?:\[[0-9a-fA-F:.]+\]|[^\s/:[\]]+):\d{1,5}$/.test(address)) {
      invalid("coordinator", "must be host:port (several separated by commas)", address);
    }
  }
  const jobId = id("job-id", "strata-demo");
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(jobId)) {
    invalid("job-id", "must start with a letter or digit and use only A-Z a-z 0-9 . _ -", jobId);
  }
  const dataDir = path.resolve(get("data-dir") ?? "./.strata-worker");
  const resume = get("resume") ?? "rejoin";
  if (resume !== "rejoin" && resume !== "job") invalid("resume", "must be rejoin or job", resume);
  const progress = get("progress") ?? "auto";
  if (progress !== "auto" && progress !== "bar" && progress !== "json") {
    invalid("progress", "must be auto, bar or json", progress);
  }
  const logLevel = (get("log-level") ?? "warn") as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    invalid("log-level", `must be one of ${LOG_LEVELS.join(", ")}`, logLevel);
  const learningRate = Number(get("learning-rate") ?? "0.05");
  if (!Number.isFinite(learningRate) || learningRate <= 0 || learningRate > 10) {
    invalid("learning-rate", "must be a number in (0, 10]", get("learning-rate"));
  }
  const tlsCa = get("tls-ca");
  let tls: TrainingConfig["tls"];
  if (tlsCa !== undefined) {
    try {
      tls = { caPem: readFileSync(tlsCa) };
    } catch (error) {
      invalid("tls-ca", `cannot be read: ${(error as Error).message}`, tlsCa);
    }
  } else if (bool("tls")) {
    tls = true;
  }
  const heartbeat = get("heartbeat-interval-ms");
  const barrierTimeout = get("barrier-timeout-ms");
  const samples = int("samples", 20_000, 1, 100_000_000);
  const config: TrainingConfig = {
    workerId: id(
      "worker-id",
      hostname()
        .replace(/[^A-Za-z0-9._:-]/g, "-")
        .slice(0, 128) || "worker",
    ),
    coordinator,
    authToken: get("auth-token"),
    tls,
    dataDir,
    storage: get("storage") ?? path.join(dataDir, "checkpoints"),
    jobId,
    datasetId: id("dataset-id", "synthetic"),
    samples,
    shardSize: int("shard-size", 250, 1, samples),
    features: int("features", 16, 1, 10_000),
    seed: int("seed", 42, 0),
    epochs: int("epochs", 3, 0),
    batchSize: int("batch-size", 32, 1, 1_000_000),
    learningRate,
    checkpointEvery: int("checkpoint-every", 50, 1),
    stepDelayMs: int("step-delay-ms", 0, 0, 600_000),
    resume,
    minWorkers: int("min-workers", 1, 1, 1_000_000),
    waitForTask: bool("wait-for-task"),
    heartbeatIntervalMs:
      heartbeat === undefined ? undefined : int("heartbeat-interval-ms", 0, 10, 3_600_000),
    healthFile:
      get("health-file") === undefined ? undefined : path.resolve(get("health-file") as string),
    logSamples: bool("log-samples"),
    barrierTimeoutMs:
      barrierTimeout === undefined ? undefined : int("barrier-timeout-ms", 0, 1, 86_400_000),
  };
  return {
    config,
    progress,
    logLevel,
    logEvery: int("log-every", 10, 1),
    stopGraceMs: int("stop-grace-ms", 10_000, 0, 600_000),
  };
}

/**
 * Runs `strata-worker` with `argv` (without node and script). Resolves with the exit code:
 * 0 when the epochs are done or it was stopped (SIGINT/SIGTERM, a `stop` command), 1 on a
 * failure, 2 on a configuration error. A second signal exits at once with 1.
 */
export async function runWorkerCli(
  argv: readonly string[],
  io: WorkerCliIo = defaultIo(),
): Promise<number> {
  let parsed: ReturnType<typeof parseWorkerConfig>;
  try {
    parsed = parseWorkerConfig(argv, io.env);
  } catch (error) {
    if ((error as { code?: string }).code === "commander.helpDisplayed") {
      io.stdout.write(workerHelp());
      return EXIT.ok;
    }
    io.stderr.write(`strata-worker: ${RuntimeError.from(error).rawMessage}\n`);
    return EXIT.config;
  }
  const { config, logLevel, logEvery, stopGraceMs } = parsed;
  const mode: OutputMode =
    parsed.progress === "auto" ? (io.stdout.isTTY ? "bar" : "json") : parsed.progress;
  const output = createWorkerOutput({
    mode,
    workerId: config.workerId,
    logEvery,
    stdout: io.stdout,
    stderr: io.stderr,
  });
  const logger = createLogger({ name: "strata-worker", level: logLevel });
  const controller = new AbortController();
  let signals = 0;
  // Graceful, then forced: a stop finishes what it can (progress reports, checkpoint records,
  // deregistration) for --stop-grace-ms, then exits anyway, e.g. when no coordinator answers.
  // Checkpoints already committed to storage stay; a second signal exits at once.
  let forced: ReturnType<typeof setTimeout> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(EXIT.failure);
    output.event("signal", { signal });
    controller.abort(new RuntimeError(`stopped by ${signal}`, { code: Code.Canceled }));
    forced = setTimeout(() => {
      output.event("forced", { graceMs: stopGraceMs });
      output.close();
      io.stderr.write(
        `strata-worker: could not stop cleanly within ${stopGraceMs} ms (is the coordinator reachable?); exiting\n`,
      );
      process.exit(EXIT.failure);
    }, stopGraceMs);
    forced.unref();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await runTraining(config, output, logger, controller.signal);
    return EXIT.ok;
  } catch (thrown) {
    const error = RuntimeError.from(thrown);
    if (
      controller.signal.aborted &&
      (error.code === Code.Canceled || error.code === Code.DeadlineExceeded)
    ) {
      output.event("stopped", { reason: "signal" });
      return EXIT.ok;
    }
    output.event("failed", { code: error.code, error: error.rawMessage });
    io.stderr.write(`strata-worker: ${error.message}\n`);
    return EXIT.failure;
  } finally {
    clearTimeout(forced);
    output.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    logger.flush();
  }
}

function defaultIo(): WorkerCliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}
