import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/**
 * The coordinator's built CLI (`packages/coordinator/dist/bin.js`), from the sources and from the
 * build alike. `pnpm --filter @strata/coordinator build` makes it.
 */
export const COORDINATOR_BIN = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));

/** Options of {@link startCoordinatorProcess}. */
export interface CoordinatorProcessOptions {
  /** `--data-dir`; omitted when not given (the CLI's default, `./.strata`). */
  dataDir?: string;
  /** `--grpc-addr`. Default `127.0.0.1:0`: any free port, read back from the `listening` line. */
  grpcAddr?: string;
  /** `--http-addr`. Default `127.0.0.1:0`. */
  httpAddr?: string;
  /** Further flags, after the ones above (a later flag wins). */
  args?: readonly string[];
  /**
   * The environment, on top of `PATH` and `STRATA_LOG_LEVEL=info` (the parent's own environment is
   * not passed on, so a developer's `STRATA_*` variables do not leak into tests).
   */
  env?: Readonly<Record<string, string>>;
  /**
   * The program and its first arguments. Default `[process.execPath, COORDINATOR_BIN]`; a
   * benchmark passes its own script that prints the same `listening` line.
   */
  command?: readonly [string, ...string[]];
  /** How long to wait for the `listening` line before killing the process, ms. Default 20,000. */
  startTimeoutMs?: number;
  /** Aborting it before the `listening` line kills the process and rejects. */
  signal?: AbortSignal;
}

/** A coordinator running as a child process, listening. */
export interface CoordinatorProcess {
  readonly child: ChildProcess;
  /** gRPC `host:port` it bound. */
  readonly grpc: string;
  /** HTTP `host:port` it bound. */
  readonly http: string;
  /** `http://<http>`: the API and the dashboard. */
  readonly url: string;
  /** Everything it wrote to stderr so far (its JSON logs). */
  stderr(): string;
  /** Everything it wrote to either stream so far, in arrival order (for failure messages). */
  output(): string;
  /** Resolves with the exit code, or the signal name when a signal ended it. */
  readonly exited: Promise<number | string>;
  /**
   * Sends `signal` (default SIGTERM), then SIGKILL after `forceAfterMs` (default 15,000) if it is
   * still running; resolves with what {@link exited} resolves with. Safe to call again.
   */
  stop(signal?: NodeJS.Signals, forceAfterMs?: number): Promise<number | string>;
}

/**
 * Starts the coordinator's CLI as a child process and resolves once it prints
 * `{"msg":"listening","grpc":…,"http":…}` on stdout. Rejects, with everything the process wrote,
 * when it exits first or does not listen within `startTimeoutMs`. For tests, benchmarks and
 * examples that need a real coordinator process (kill -9, restarts, exit codes).
 */
export function startCoordinatorProcess(
  options: CoordinatorProcessOptions = {},
): Promise<CoordinatorProcess> {
  const [program, ...programArgs] = options.command ?? [process.execPath, COORDINATOR_BIN];
  if (options.command === undefined && !existsSync(COORDINATOR_BIN)) {
    return Promise.reject(
      new Error(
        `${COORDINATOR_BIN} is missing: build the coordinator first (pnpm --filter @strata/coordinator build)`,
      ),
    );
  }
  const args = [
    ...programArgs,
    "--grpc-addr",
    options.grpcAddr ?? "127.0.0.1:0",
    "--http-addr",
    options.httpAddr ?? "127.0.0.1:0",
    ...(options.dataDir === undefined ? [] : ["--data-dir", options.dataDir]),
    ...(options.args ?? []),
  ];
  const child = spawn(program, args, {
    env: { PATH: process.env.PATH ?? "", STRATA_LOG_LEVEL: "info", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    output += chunk.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  let stopping: Promise<number | string> | undefined;
  const stop = (signal: NodeJS.Signals = "SIGTERM", forceAfterMs = 15_000) => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const force = setTimeout(() => child.kill("SIGKILL"), forceAfterMs);
      const result = await exited;
      clearTimeout(force);
      return result;
    })();
    return stopping;
  };
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      child.kill("SIGKILL");
      reject(new Error(`${message}; its output:\n${output}`));
    };
    const onAbort = () => fail("aborted before the coordinator listened");
    const timer = setTimeout(
      () => fail(`the coordinator did not listen within ${startTimeoutMs} ms`),
      startTimeoutMs,
    );
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    void exited.then((code) => fail(`the coordinator exited (${code}) before listening`));
    createInterface({ input: child.stdout }).on("line", (line) => {
      output += `${line}\n`;
      let parsed: { msg?: unknown; grpc?: unknown; http?: unknown };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        return; // the banner or another line that is not JSON
      }
      if (parsed.msg !== "listening") return;
      if (typeof parsed.grpc !== "string" || typeof parsed.http !== "string" || settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      resolve({
        child,
        grpc: parsed.grpc,
        http: parsed.http,
        url: `http://${parsed.http}`,
        stderr: () => stderr,
        output: () => output,
        exited,
        stop,
      });
    });
  });
}
