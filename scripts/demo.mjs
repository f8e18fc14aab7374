#!/usr/bin/env node
// `pnpm demo`: a coordinator (serving the dashboard) and 4 strata-worker processes on this
// machine, with everything under one data directory (SQLite state, the generated dataset, the
// checkpoints, the logs). Prints the URL to open and a live summary; `--chaos` kills a random
// worker every 30 s and starts it again. Ctrl-C stops everything it started.
//
//   node scripts/demo.mjs [--chaos] [--workers 4] [--data-dir .strata-demo] [--fresh]
//                         [--http-port 3000] [--grpc-port 50051] [--chaos-interval-ms 30000]
//                         [--duration-ms N]
//
// Run it twice: the second run resumes the job from its latest checkpoint.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const COORDINATOR_BIN = path.join(root, "packages/coordinator/dist/bin.js");
const WORKER_BIN = path.join(root, "packages/client-sdk/dist/worker-cli/bin.js");

const USAGE = `usage: node scripts/demo.mjs [options]
  --chaos                 kill a random worker every --chaos-interval-ms and start it again
  --workers <n>           workers to run (default 4)
  --data-dir <dir>        state, dataset, checkpoints and logs (default ./.strata-demo)
  --fresh                 delete --data-dir first (otherwise the job resumes where it stopped)
  --http-port <port>      coordinator HTTP port: dashboard and API (default 3000; 0 = any free)
  --grpc-port <port>      coordinator gRPC port (default 50051; 0 = any free)
  --chaos-interval-ms <ms>  time between chaos kills (default 30000)
  --step-delay-ms <ms>    time per training step (default 100)
  --checkpoint-every <n>  steps between checkpoints (default 50)
  --duration-ms <ms>      stop by itself after this long (default: run until Ctrl-C)
  -h, --help              show this help`;

function fail(message) {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      chaos: { type: "boolean", default: false },
      workers: { type: "string", default: "4" },
      "data-dir": { type: "string", default: ".strata-demo" },
      fresh: { type: "boolean", default: false },
      "http-port": { type: "string", default: "3000" },
      "grpc-port": { type: "string", default: "50051" },
      "chaos-interval-ms": { type: "string", default: "30000" },
      "step-delay-ms": { type: "string", default: "100" },
      "checkpoint-every": { type: "string", default: "50" },
      "duration-ms": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  }).values;
} catch (error) {
  fail(`${error.message}\n${USAGE}`);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function int(name, min, max) {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(`--${name} must be an integer in ${min}…${max} (got ${JSON.stringify(args[name])})`);
  }
  return value;
}
const workerCount = int("workers", 1, 64);
const httpPort = int("http-port", 0, 65535);
const grpcPort = int("grpc-port", 0, 65535);
const chaosIntervalMs = int("chaos-interval-ms", 1000, 86_400_000);
const stepDelayMs = int("step-delay-ms", 0, 60_000);
const checkpointEvery = int("checkpoint-every", 1, 1_000_000);
const durationMs =
  args["duration-ms"] === undefined ? undefined : int("duration-ms", 1, 86_400_000);
const dataDir = path.resolve(args["data-dir"]);

for (const bin of [COORDINATOR_BIN, WORKER_BIN]) {
  if (!existsSync(bin))
    fail(`${path.relative(root, bin)} is missing: run \`pnpm build\` first (pnpm demo does)`);
}
if (args.fresh) rmSync(dataDir, { recursive: true, force: true });
const logDir = path.join(dataDir, "logs");
mkdirSync(logDir, { recursive: true });

const tty = process.stdout.isTTY === true;
const startedAt = Date.now();
const elapsed = () => `${Math.round((Date.now() - startedAt) / 1000)}s`;
function say(line) {
  if (tty) process.stdout.write("\r\x1b[2K");
  process.stdout.write(`${line}\n`);
}

/** Whether 127.0.0.1:port can be bound now; 0 is always fine. */
function portFree(port) {
  if (port === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

// ---- child processes -------------------------------------------------------------------------
/** Every child we started and has not exited: pid → { name, child }. */
const children = new Map();
let stopping = false;

function track(name, child) {
  children.set(child.pid, { name, child });
  child.on("exit", () => children.delete(child.pid));
}

/** Kills every child's process group at once (last resort: our own exit). */
function killAll(signal) {
  for (const { child } of children.values()) {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  }
}
process.on("exit", () => killAll("SIGKILL"));

function waitExit(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

// ---- coordinator -----------------------------------------------------------------------------
async function startCoordinator() {
  const http = (await portFree(httpPort)) ? httpPort : 0;
  const grpc = (await portFree(grpcPort)) ? grpcPort : 0;
  if (http !== httpPort) say(`port ${httpPort} is busy; the dashboard gets a free port instead`);
  if (grpc !== grpcPort) say(`port ${grpcPort} is busy; gRPC gets a free port instead`);
  const log = createWriteStream(path.join(logDir, "coordinator.log"), { flags: "a" });
  // Its own process group, so Ctrl-C reaches only this script, which stops the workers first.
  const child = spawn(
    process.execPath,
    [
      COORDINATOR_BIN,
      "--grpc-addr",
      `127.0.0.1:${grpc}`,
      "--http-addr",
      `127.0.0.1:${http}`,
      "--data-dir",
      path.join(dataDir, "coordinator"),
      "--heartbeat-timeout-ms",
      "5000",
    ],
    { stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  track("coordinator", child);
  child.stderr.pipe(log);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("the coordinator did not start within 30 s")),
      30_000,
    );
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `the coordinator exited (${code}); see ${path.relative(process.cwd(), path.join(logDir, "coordinator.log"))}`,
        ),
      );
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      log.write(`${line}\n`);
      try {
        const parsed = JSON.parse(line);
        if (parsed.msg === "listening") {
          clearTimeout(timer);
          resolve({ child, grpc: parsed.grpc, http: parsed.http });
        }
      } catch {
        // not JSON
      }
    });
  });
}

// ---- workers and the live summary ------------------------------------------------------------
const state = {
  step: 0,
  epoch: 0,
  loss: Number.NaN,
  checkpoints: 0,
  lastCheckpointStep: undefined,
  kills: 0,
  samplesDone: 0,
  live: new Set(),
  perWorkerStep: new Map(),
};

function workerArgs(coordinator, id, resume) {
  return [
    WORKER_BIN,
    "--coordinator",
    coordinator,
    "--worker-id",
    id,
    "--data-dir",
    path.join(dataDir, "data"),
    "--storage",
    path.join(dataDir, "checkpoints"),
    "--job-id",
    "strata-demo",
    "--epochs",
    "0",
    "--step-delay-ms",
    String(stepDelayMs),
    "--checkpoint-every",
    String(checkpointEvery),
    "--progress",
    "json",
    "--log-every",
    "5",
    "--resume",
    resume,
    "--min-workers",
    String(workerCount),
  ];
}

const workers = new Map(); // id → child

function startWorker(coordinator, id, resume) {
  const log = createWriteStream(path.join(logDir, `${id}.log`), { flags: "a" });
  const child = spawn(process.execPath, workerArgs(coordinator, id, resume), {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  track(id, child);
  workers.set(id, child);
  child.stderr.pipe(log);
  createInterface({ input: child.stdout }).on("line", (line) => {
    log.write(`${line}\n`);
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    onWorkerEvent(id, e);
  });
  child.on("exit", (code, signal) => {
    state.live.delete(id);
    if (workers.get(id) === child) workers.delete(id);
    if (!stopping && signal !== "SIGKILL")
      say(`[${elapsed()}] ${id} exited (${code ?? signal}); see ${path.join(logDir, `${id}.log`)}`);
  });
  return child;
}

function onWorkerEvent(id, e) {
  switch (e.event) {
    case "started":
      state.live.add(id);
      say(`[${elapsed()}] ${id} joined: rank ${e.rank}, training from scratch`);
      break;
    case "resumed":
      state.live.add(id);
      say(
        `[${elapsed()}] ${id} resumed from checkpoint step ${e.step} (epoch ${e.epoch}, loss ${fmt(e.loss)})`,
      );
      break;
    case "step":
      state.perWorkerStep.set(id, e.step);
      state.step = Math.max(state.step, e.step);
      state.epoch = e.epoch;
      if (typeof e.loss === "number") state.loss = e.loss;
      break;
    case "checkpoint":
      state.step = Math.max(state.step, e.step);
      if (e.part === 0)
        say(`[${elapsed()}] checkpoint at step ${e.step} (epoch ${e.epoch}, ${e.parts} parts)`);
      break;
    case "checkpoint_committed":
      if (e.complete === true) {
        state.checkpoints++;
        state.lastCheckpointStep = e.step;
        say(`[${elapsed()}] checkpoint step ${e.step} complete on every rank`);
      }
      break;
    case "epoch_done":
      if (state.perWorkerStep.size > 0 && id === [...workers.keys()][0])
        say(`[${elapsed()}] epoch ${e.epoch} done (loss ${fmt(e.loss)})`);
      break;
    case "membership":
      for (const waiter of [...membershipWaiters]) waiter(e);
      break;
    case "failed":
      say(`[${elapsed()}] ${id} failed: ${e.error}`);
      break;
    default:
  }
}

const membershipWaiters = new Set();
/** Resolves true at the first membership event `match` accepts, false after `timeoutMs`. */
function waitForMembership(match, timeoutMs) {
  return new Promise((resolve) => {
    const waiter = (e) => {
      if (!match(e)) return;
      membershipWaiters.delete(waiter);
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      membershipWaiters.delete(waiter);
      resolve(false);
    }, timeoutMs);
    membershipWaiters.add(waiter);
  });
}

function fmt(x) {
  return typeof x === "number" && Number.isFinite(x) ? x.toFixed(4) : "-";
}

function summary() {
  const ckpt =
    state.lastCheckpointStep === undefined
      ? "none yet"
      : `${state.checkpoints} (last step ${state.lastCheckpointStep})`;
  return `[${elapsed()}] step ${state.step} | epoch ${state.epoch} | loss ${fmt(state.loss)} | workers ${state.live.size}/${workerCount} | checkpoints ${ckpt}${args.chaos ? ` | chaos kills ${state.kills}` : ""}`;
}

// ---- main ------------------------------------------------------------------------------------
let coordinator;
async function stopAll(reason) {
  if (stopping) return;
  stopping = true;
  if (tty) process.stdout.write("\r\x1b[2K");
  say(`stopping (${reason}): workers first, then the coordinator…`);
  for (const child of workers.values()) child.kill("SIGTERM");
  await Promise.all(
    [...workers.values()].map(async (child) => {
      if (!(await waitExit(child, 10_000))) child.kill("SIGKILL");
    }),
  );
  if (coordinator !== undefined) {
    coordinator.child.kill("SIGTERM");
    if (!(await waitExit(coordinator.child, 15_000))) coordinator.child.kill("SIGKILL");
  }
  killAll("SIGKILL");
  say(
    `stopped. State, checkpoints and logs are in ${dataDir} (run again to resume; --fresh to start over).`,
  );
  process.exit(0);
}

let signals = 0;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    signals++;
    if (signals > 1) {
      killAll("SIGKILL");
      process.exit(1);
    }
    void stopAll(signal);
  });
}

try {
  coordinator = await startCoordinator();
} catch (error) {
  killAll("SIGKILL");
  fail(error.message);
}
say(`Strata demo: coordinator gRPC ${coordinator.grpc}, data in ${dataDir}`);
say(
  `Open http://${coordinator.http.replace(/^0\.0\.0\.0:/, "127.0.0.1:")} for the dashboard (API under /api).`,
);
say(
  `Starting ${workerCount} workers${args.chaos ? `; chaos: a random worker is killed every ${chaosIntervalMs / 1000} s` : ""}. Ctrl-C stops everything.`,
);

const ids = Array.from({ length: workerCount }, (_, i) => `demo-worker-${i}`);
// The whole job starts (or restarts) at once: the first run trains from scratch, a second run
// resumes from the latest checkpoint and puts the data position back to it.
for (const id of ids) startWorker(coordinator.grpc, id, "job");

const ticker = setInterval(
  () => {
    if (stopping) return;
    if (tty) process.stdout.write(`\r\x1b[2K${summary()}`);
    else process.stdout.write(`${summary()}\n`);
  },
  tty ? 1_000 : 5_000,
);

if (args.chaos) {
  setInterval(() => {
    if (stopping) return;
    const running = [...workers.keys()];
    if (running.length === 0) return;
    const victim = running[Math.floor(Math.random() * running.length)];
    const child = workers.get(victim);
    state.kills++;
    const killedAt = Date.now();
    const survivorsBefore = running.length - 1;
    say(`[${elapsed()}] chaos: kill -9 ${victim}`);
    child.kill("SIGKILL");
    // Restart it once the survivors have gone on without it (or after 15 s), so the recovery shows.
    void waitForMembership((e) => e.worldSize <= survivorsBefore, 15_000).then((seen) => {
      if (stopping) return;
      if (seen) {
        say(
          `[${elapsed()}] survivors learned of the death after ${((Date.now() - killedAt) / 1000).toFixed(1)} s; its shards moved to them; restarting ${victim}`,
        );
      }
      startWorker(coordinator.grpc, victim, "rejoin");
    });
  }, chaosIntervalMs);
}

coordinator.child.on("exit", (code) => {
  if (!stopping) {
    say(`the coordinator exited (${code}); see ${path.join(logDir, "coordinator.log")}`);
    void stopAll("coordinator exited");
  }
});

if (durationMs !== undefined)
  setTimeout(() => void stopAll(`--duration-ms ${durationMs}`), durationMs);
void ticker;
