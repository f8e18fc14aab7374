import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** The built CLI; turbo builds the package before `test`. */
export const BIN = join(__dirname, "..", "..", "dist", "bin.js");

/** A coordinator child process started by a test. */
export interface CoordinatorProcess {
  readonly child: ChildProcess;
  readonly grpc: string;
  readonly http: string;
  readonly dataDir: string;
  /** Everything the process wrote to stderr so far (its JSON logs). */
  stderr(): string;
  /** Sends `signal` and resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Makes a temp dir that the caller removes with {@link removeDir}. */
export function makeTempDir(prefix = "strata-coord-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Runs the CLI to completion (for --help and bad-config cases). */
export function runBin(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function assertBuilt(): void {
  if (!existsSync(BIN)) {
    throw new Error(
      `${BIN} is missing: build the package first (pnpm --filter @strata/coordinator build)`,
    );
  }
}

/**
 * Spawns `node dist/bin.js` on 127.0.0.1 port 0 (both servers) with `dataDir`, waits for the
 * `listening` line on stdout and returns the bound addresses.
 */
export function startCoordinatorProcess(
  dataDir: string,
  extraArgs: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<CoordinatorProcess> {
  assertBuilt();
  const child = spawn(
    process.execPath,
    [
      BIN,
      "--grpc-addr",
      "127.0.0.1:0",
      "--http-addr",
      "127.0.0.1:0",
      "--data-dir",
      dataDir,
      ...extraArgs,
    ],
    {
      env: { PATH: process.env.PATH ?? "", STRATA_LOG_LEVEL: "info", ...env },
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
      reject(new Error(`coordinator did not print its listening line in 15 s; stderr:\n${stderr}`));
    }, 15_000);
    exited.then((code) => {
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
