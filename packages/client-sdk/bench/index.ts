// Client SDK benchmark: `pnpm --filter @strata/client-sdk bench` (after `pnpm build`).
//
// A coordinator and 4 strata-worker processes train the same job twice in this script, for the
// same measured window: once undisturbed (the peer), once with a worker SIGKILLed every 30 s
// and started again once the survivors noticed (at most 15 s later). It reports:
//
//   1. goodput under chaos: useful steps per second — samples the coordinator recorded as
//      consumed (each exactly once), divided by the batch size — with chaos ÷ without (target
//      ≥ 0.9×). Work lost to a kill (the dead worker's unreported samples, its time away, the
//      survivors' wait for the death to be detected) is what lowers it.
//   2. recovery time: from a kill to training resumed on every survivor (its first step after
//      it learned of the death), worst case (target ≤ heartbeat timeout + 2 s).
//
// BENCH_WINDOW_MS (default 95,000) and BENCH_CHAOS_INTERVAL_MS (default 30,000) shorten a run.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { COORDINATOR_BIN, startCoordinatorProcess } from "@strata/coordinator/testing";

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WORKER_BIN = path.join(packageDir, "dist", "worker-cli", "bin.js");

const WORKERS = 4;
const HEARTBEAT_TIMEOUT_MS = 2_000;
const BATCH = 32;
/** Steps between coordinated checkpoints: 100 steps of 50 ms, a round every ~5 s. */
const CHECKPOINT_EVERY = 100;
const WARMUP_MS = 6_000;
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 95_000);
const CHAOS_INTERVAL_MS = Number(process.env.BENCH_CHAOS_INTERVAL_MS ?? 30_000);

interface Event {
  ts: number;
  workerId: string;
  event: string;
  incarnation: number;
  [k: string]: unknown;
}

for (const bin of [WORKER_BIN, COORDINATOR_BIN]) {
  if (!existsSync(bin)) {
    console.error(`${bin} is missing: run pnpm build first`);
    process.exit(1);
  }
}

async function startCoordinator(dir: string): Promise<{ child: ChildProcess; grpc: string }> {
  const started = await startCoordinatorProcess({
    dataDir: path.join(dir, "coordinator"),
    args: ["--heartbeat-timeout-ms", String(HEARTBEAT_TIMEOUT_MS), "--log-level", "warn"],
  });
  return { child: started.child, grpc: started.grpc };
}

let incarnations = 0;

function startWorker(
  grpc: string,
  dir: string,
  id: string,
  resume: string,
  events: Event[],
): ChildProcess {
  const incarnation = ++incarnations;
  const child = spawn(
    process.execPath,
    [
      WORKER_BIN,
      "--coordinator",
      grpc,
      "--worker-id",
      id,
      "--data-dir",
      path.join(dir, "data"),
      "--storage",
      path.join(dir, "checkpoints"),
      "--job-id",
      "bench",
      "--samples",
      "400000",
      "--shard-size",
      "500",
      "--batch-size",
      String(BATCH),
      "--epochs",
      "0",
      "--step-delay-ms",
      "50",
      "--checkpoint-every",
      String(CHECKPOINT_EVERY),
      "--progress",
      "json",
      "--log-every",
      "1",
      "--log-samples",
      "--resume",
      resume,
      "--min-workers",
      String(WORKERS),
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    try {
      events.push({ ...(JSON.parse(line) as Event), incarnation });
    } catch {
      // not JSON
    }
  });
  return child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
}

async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (predicate()) return true;
    await sleep(20);
  }
  return predicate();
}

interface RunResult {
  usefulStepsPerSecond: number;
  samplesPerSecond: number;
  recoveriesMs: number[];
  kills: number;
}

async function run(chaos: boolean): Promise<RunResult> {
  const dir = mkdtempSync(path.join(tmpdir(), `strata-sdk-bench-${chaos ? "chaos" : "calm"}-`));
  const events: Event[] = [];
  const coordinator = await startCoordinator(dir);
  const workers = new Map<string, ChildProcess>();
  const ids = Array.from({ length: WORKERS }, (_, i) => `bench-${i}`);
  for (const id of ids) workers.set(id, startWorker(coordinator.grpc, dir, id, "job", events));
  const started = await waitUntil(
    () => events.filter((e) => e.event === "checkpoint").length >= WORKERS,
    60_000,
  );
  if (!started) throw new Error("the workers did not reach their first checkpoint within 60 s");
  await sleep(WARMUP_MS);
  const windowStart = Date.now();
  const windowEnd = windowStart + WINDOW_MS;
  const kills: { victim: string; at: number }[] = [];
  let chaosLoop: Promise<void> = Promise.resolve();
  if (chaos) {
    chaosLoop = (async () => {
      for (
        let next = windowStart + CHAOS_INTERVAL_MS;
        next < windowEnd;
        next += CHAOS_INTERVAL_MS
      ) {
        await sleep(next - Date.now());
        const victim = ids[Math.floor(Math.random() * ids.length)] as string;
        const child = workers.get(victim) as ChildProcess;
        const at = Date.now();
        kills.push({ victim, at });
        child.kill("SIGKILL");
        await exited(child);
        // Start it again once every survivor noticed (at most 15 s later), like `pnpm demo --chaos`.
        await waitUntil(
          () =>
            ids
              .filter((id) => id !== victim)
              .every((id) =>
                events.some(
                  (e) =>
                    e.workerId === id &&
                    e.event === "membership" &&
                    e.ts >= at &&
                    (e.worldSize as number) < WORKERS,
                ),
              ),
          15_000,
        );
        workers.set(victim, startWorker(coordinator.grpc, dir, victim, "rejoin", events));
      }
    })();
  }
  await sleep(windowEnd - Date.now());
  await chaosLoop;
  for (const child of workers.values()) child.kill("SIGTERM");
  await Promise.all([...workers.values()].map(exited));
  coordinator.child.kill("SIGTERM");
  await exited(coordinator.child);
  rmSync(dir, { recursive: true, force: true });

  // Useful work: samples the coordinator accepted inside the window (each exactly once).
  let samples = 0;
  for (const e of events) {
    if (e.event !== "consumed" || e.ts < windowStart || e.ts > windowEnd) continue;
    for (const [start, end] of e.ranges as [number, number][]) samples += end - start;
  }
  const seconds = WINDOW_MS / 1000;
  // Recovery: from each kill to the last survivor's first step after it learned of the death.
  const recoveriesMs = kills.map(({ victim, at }) => {
    let worst = 0;
    for (const id of ids.filter((i) => i !== victim)) {
      const learned = events.find(
        (e) =>
          e.workerId === id &&
          e.event === "membership" &&
          e.ts >= at &&
          (e.worldSize as number) < WORKERS,
      );
      if (learned === undefined) return Number.POSITIVE_INFINITY;
      const stepped = events.find(
        (e) => e.workerId === id && e.event === "step" && e.ts > learned.ts,
      );
      if (stepped === undefined) return Number.POSITIVE_INFINITY;
      worst = Math.max(worst, stepped.ts - at);
    }
    return worst;
  });
  return {
    usefulStepsPerSecond: samples / BATCH / seconds,
    samplesPerSecond: samples / seconds,
    recoveriesMs,
    kills: kills.length,
  };
}

console.log(
  `client-sdk bench: ${WORKERS} workers, batch ${BATCH}, a checkpoint every ${CHECKPOINT_EVERY} steps, heartbeat timeout ${HEARTBEAT_TIMEOUT_MS} ms, window ${WINDOW_MS / 1000} s, a kill every ${CHAOS_INTERVAL_MS / 1000} s in the chaos run`,
);
const calm = await run(false);
console.log(
  `without chaos: ${calm.usefulStepsPerSecond.toFixed(1)} useful steps/s (${calm.samplesPerSecond.toFixed(0)} samples/s)`,
);
const chaotic = await run(true);
console.log(
  `with chaos:    ${chaotic.usefulStepsPerSecond.toFixed(1)} useful steps/s (${chaotic.samplesPerSecond.toFixed(0)} samples/s), ${chaotic.kills} kills`,
);
const ratio = chaotic.usefulStepsPerSecond / calm.usefulStepsPerSecond;
const goodputPass = ratio >= 0.9;
console.log(
  `${goodputPass ? "PASS" : "FAIL"}  goodput under chaos: ${chaotic.usefulStepsPerSecond.toFixed(1)} vs ${calm.usefulStepsPerSecond.toFixed(1)} useful steps/s, ratio ${ratio.toFixed(2)} (target ≥ 0.90)`,
);
const targetMs = HEARTBEAT_TIMEOUT_MS + 2_000;
const worst = Math.max(...chaotic.recoveriesMs);
const recoveryPass = chaotic.recoveriesMs.length > 0 && worst <= targetMs;
console.log(
  `${recoveryPass ? "PASS" : "FAIL"}  recovery time after a kill: ${chaotic.recoveriesMs.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(", ")}; worst ${(worst / 1000).toFixed(2)} s (target ≤ heartbeat timeout ${HEARTBEAT_TIMEOUT_MS / 1000} s + 2 s = ${targetMs / 1000} s)`,
);
process.exitCode = goodputPass && recoveryPass ? 0 : 1;
