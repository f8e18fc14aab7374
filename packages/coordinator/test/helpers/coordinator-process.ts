import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  COORDINATOR_BIN,
  type CoordinatorProcess,
  startCoordinatorProcess as startProcess,
} from "../../src/testing/index.js";

/** The built CLI; turbo builds the package before `test`. */
export const BIN = COORDINATOR_BIN;

export type { CoordinatorProcess };

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
 * Starts the built CLI on 127.0.0.1 port 0 (both servers) with `dataDir` and waits for its
 * `listening` line (see {@link startProcess}).
 */
export function startCoordinatorProcess(
  dataDir: string,
  extraArgs: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<CoordinatorProcess> {
  return startProcess({ dataDir, args: extraArgs, env, startTimeoutMs: 15_000 });
}
