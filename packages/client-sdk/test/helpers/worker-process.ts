import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** The built `strata-worker` CLI; turbo builds the package before its tests. */
export const WORKER_BIN = join(__dirname, "..", "..", "dist", "worker-cli", "bin.js");

/** One JSON line of a worker (`{ ts, workerId, event, ... }`), with the incarnation that wrote it. */
export interface WorkerEvent {
  ts: number;
  workerId: string;
  event: string;
  incarnation: number;
  [field: string]: unknown;
}

/** A `strata-worker` child process. */
export interface WorkerProcess {
  readonly workerId: string;
  readonly incarnation: number;
  readonly child: ChildProcess;
  /** Every JSON line so far. */
  readonly events: WorkerEvent[];
  /** Resolves with the first event (past or future) that `match` accepts. */
  waitFor(
    what: string,
    match: (e: WorkerEvent) => boolean,
    timeoutMs?: number,
  ): Promise<WorkerEvent>;
  /** Resolves with the exit code or signal name. */
  readonly exited: Promise<number | string>;
  stderr(): string;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

let incarnations = 0;

/**
 * Starts `node dist/worker-cli/bin.js` with JSON output. `all` collects every worker's events
 * (across incarnations) for ledger checks.
 */
export function startWorker(
  workerId: string,
  args: readonly string[],
  all: WorkerEvent[],
  env: Record<string, string> = {},
): WorkerProcess {
  if (!existsSync(WORKER_BIN)) throw new Error(`${WORKER_BIN} is missing: run pnpm build first`);
  const incarnation = ++incarnations;
  const child = spawn(
    process.execPath,
    [WORKER_BIN, "--worker-id", workerId, "--progress", "json", ...args],
    {
      env: { PATH: process.env.PATH ?? "", STRATA_LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const events: WorkerEvent[] = [];
  const waiters: { match: (e: WorkerEvent) => boolean; resolve: (e: WorkerEvent) => void }[] = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    let event: WorkerEvent;
    try {
      event = { ...(JSON.parse(line) as WorkerEvent), incarnation };
    } catch {
      return;
    }
    events.push(event);
    all.push(event);
    for (const w of [...waiters]) {
      if (w.match(event)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(event);
      }
    }
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  return {
    workerId,
    incarnation,
    child,
    events,
    exited,
    stderr: () => stderr,
    waitFor(what, match, timeoutMs = 60_000) {
      const found = events.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `${workerId}: no ${what} within ${timeoutMs} ms; last events:\n${events
                .slice(-5)
                .map((e) => JSON.stringify(e))
                .join("\n")}\nstderr:\n${stderr.slice(-2_000)}`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          match,
          resolve: (e: WorkerEvent) => {
            clearTimeout(timer);
            resolve(e);
          },
        };
        waiters.push(waiter);
        void exited.then(() => {
          // The lines of a process that exited are all in: a waiter not matched never will be.
          setTimeout(() => {
            if (!waiters.includes(waiter)) return;
            waiters.splice(waiters.indexOf(waiter), 1);
            clearTimeout(timer);
            reject(
              new Error(
                `${workerId} exited without ${what}; last events:\n${events
                  .slice(-5)
                  .map((e) => JSON.stringify(e))
                  .join("\n")}\nstderr:\n${stderr.slice(-2_000)}`,
              ),
            );
          }, 100);
        });
      });
    },
    kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Checks a progress ledger against the dataset's shards: every position of every shard consumed
 * exactly once. `consumed` events are reports the coordinator accepted; each must cover positions
 * no other accepted report covers. A position no accepted report covers must lie in a report a
 * SIGKILLed incarnation (`killed`) was sending when it died (`reporting` without its `consumed`
 * line): such a report may or may not have been recorded before the death, and if it was, no
 * other worker reads those samples again. Returns the problems found (empty: good).
 */
export function ledgerProblems(
  events: readonly WorkerEvent[],
  totalSamples: number,
  shardSize: number,
  killed: ReadonlySet<number> = new Set(),
): string[] {
  const counts = new Uint8Array(totalSamples);
  const inFlight = new Uint8Array(totalSamples);
  const each = (e: WorkerEvent, f: (p: number) => void): string | undefined => {
    const shard = e.shardId as number;
    for (const [start, end] of e.ranges as [number, number][]) {
      if (start < shard * shardSize || end > Math.min((shard + 1) * shardSize, totalSamples)) {
        return `range [${start}, ${end}) is outside shard ${shard}`;
      }
      for (let p = start; p < end; p++) f(p);
    }
    return undefined;
  };
  for (const e of events) {
    if (e.event !== "consumed") continue;
    const problem = each(e, (p) => {
      counts[p] = (counts[p] as number) + 1;
    });
    if (problem !== undefined) return [problem];
  }
  // A killed incarnation's last `reporting` line without a `consumed` line after it.
  for (const incarnation of killed) {
    const own = events.filter((e) => e.incarnation === incarnation);
    const last = own.findLast((e) => e.event === "reporting");
    if (last === undefined || own.indexOf(last) < own.findLastIndex((e) => e.event === "consumed"))
      continue;
    each(last, (p) => {
      inFlight[p] = 1;
    });
  }
  const problems: string[] = [];
  let missing = 0;
  let firstMissing = -1;
  for (let p = 0; p < totalSamples; p++) {
    if (counts[p] === 0 && inFlight[p] === 0) {
      missing++;
      if (firstMissing < 0) firstMissing = p;
    }
  }
  const twice = counts.reduce((n, c) => n + (c > 1 ? 1 : 0), 0);
  if (missing > 0) problems.push(`${missing} samples never consumed (first: ${firstMissing})`);
  if (twice > 0) {
    problems.push(
      `${twice} samples consumed more than once (first: ${counts.findIndex((c) => c > 1)})`,
    );
  }
  return problems;
}
