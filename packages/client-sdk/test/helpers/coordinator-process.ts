import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CoordinatorProcess, startCoordinatorProcess } from "@strata/coordinator/testing";

export { COORDINATOR_BIN, type CoordinatorProcess } from "@strata/coordinator/testing";

/** A temporary folder the caller removes with {@link removeDir}. */
export function makeTempDir(prefix = "strata-sdk-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts the coordinator's built CLI on 127.0.0.1 (gRPC on `grpcPort`, default any free port;
 * HTTP on any free port) with `dataDir`, and waits for its `listening` line.
 */
export function startCoordinator(
  dataDir: string,
  options: { grpcPort?: number; args?: readonly string[]; env?: Record<string, string> } = {},
): Promise<CoordinatorProcess> {
  return startCoordinatorProcess({
    dataDir,
    grpcAddr: `127.0.0.1:${options.grpcPort ?? 0}`,
    args: options.args,
    env: options.env,
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
