import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** The coordinator's built CLI; turbo builds it before this package's tests. */
export const COORDINATOR_BIN = join(__dirname, "..", "..", "..", "coordinator", "dist", "bin.js");

/** A coordinator child process started by a test. */
export interface CoordinatorProcess {
  readonly child: ChildProcess;
  /** gRPC `host:port`. */
  readonly grpc: string;
  /** HTTP `host:port`. */
  readonly http: string;
  readonly dataDir: string;
  /** Everything it wrote to stderr so far (JSON logs). */
  stderr(): string;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code or signal name. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** A temporary folder the caller removes with {@link removeDir}. */
export function makeTempDir(prefix = "strata-sdk-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts `node packages/coordinator/dist/bin.js` on 127.0.0.1 (gRPC on `grpcPort`, default any
 * free port; HTTP on any free port) with `dataDir`, and waits for its `listening` line.
 */
export function startCoordinator(
  dataDir: string,
  options: { grpcPort?: number; args?: readonly string[]; env?: Record<string, string> } = {},
): Promise<CoordinatorProcess> {
  if (!existsSync(COORDINATOR_BIN)) {
    throw new Error(`${COORDINATOR_BIN} is missing: run pnpm build first`);
  }
  const child = spawn(
    process.execPath,
    [
      COORDINATOR_BIN,
      "--grpc-addr",
      `127.0.0.1:${options.grpcPort ?? 0}`,
      "--http-addr",
      "127.0.0.1:0",
      "--data-dir",
      dataDir,
      ...(options.args ?? []),
    ],
    {
      env: { PATH: process.env.PATH ?? "", STRATA_LOG_LEVEL: "info", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`coordinator did not start in 20 s; stderr:\n${stderr}`));
    }, 20_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`coordinator exited (${code}) before listening; stderr:\n${stderr}`));
    });
    lines.on("line", (line) => {
      let parsed: { msg?: string; grpc?: string; http?: string };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        return;
      }
      if (parsed.msg !== "listening" || !parsed.grpc || !parsed.http) return;
      clearTimeout(timer);
      resolve({
        child,
        grpc: parsed.grpc,
        http: parsed.http,
        dataDir,
        stderr: () => stderr,
        stop(signal = "SIGTERM") {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
  });
}

/** Polls `predicate` every 20 ms until it holds, or fails after `timeoutMs` naming `what`. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
