import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { WORKER_BIN } from "./repo-paths.js";

/** One JSON line of `strata-worker --progress json`. */
export interface WorkerLine {
  ts?: number;
  workerId?: string;
  event?: string;
  [field: string]: unknown;
}

/** A real SDK worker (`strata-worker`) running as its own process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly lines: WorkerLine[];
  /** Resolves with the first line (already seen or future) whose `event` matches. */
  waitFor(
    event: string,
    predicate?: (line: WorkerLine) => boolean,
    timeoutMs?: number,
  ): Promise<WorkerLine>;
  /** Whether the process has ended (by itself or killed). */
  readonly ended: boolean;
  /** SIGKILL: no deregistration, no goodbye. */
  kill(): Promise<void>;
  /** SIGTERM and wait (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/**
 * Starts `strata-worker` (the client SDK's CLI) against a coordinator with `--progress json`, so
 * every event is a JSON line the test can wait for.
 */
export function startWorker(args: readonly string[]): WorkerProcess {
  if (!existsSync(WORKER_BIN)) {
    throw new Error(
      `build the worker CLI first (pnpm --filter @strata/client-sdk build): ${WORKER_BIN} is missing`,
    );
  }
  const child = spawn(process.execPath, [WORKER_BIN, "--progress", "json", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: WorkerLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on("line", (text) => {
    try {
      lines.push(JSON.parse(text) as WorkerLine);
    } catch {
      lines.push({ event: "text", text });
    }
    for (const wake of waiters) wake();
  });
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      resolve();
      for (const wake of waiters) wake();
    }),
  );
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    lines,
    get ended() {
      return ended();
    },
    waitFor(event, predicate = () => true, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((line) => line.event === event && predicate(line));
          if (found !== undefined) {
            finish();
            resolve(found);
          } else if (ended()) {
            finish();
            reject(
              new Error(
                `worker exited before "${event}":\n${stderr}\n${JSON.stringify(lines.slice(-10))}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new Error(
              `no "${event}" from the worker in ${timeoutMs} ms:\n${stderr}\n${JSON.stringify(lines.slice(-10))}`,
            ),
          );
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (!ended()) child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (ended()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
