// `pnpm bench` (after bench/index.ts): the coordinator's HTTP side under a cluster of 1,000 workers.
//   1. `/api/dashboard` latency with 1,000 registered workers (resources, shard plans), measured
//      against `/api/health` on the same server in the same run (target: dashboard p99 ≤ 50 ms).
//   2. Event delivery to 50 `/api/events` clients while 1,000 workers heartbeat once a second
//      (target: p99 ≤ 250 ms from the event's time on the coordinator to its arrival at a client),
//      and whether every client got every event.
// The coordinator runs as a real process (dist/bin.js, SQLite in a temp dir, rate limits off: the
// load comes from few connections); heartbeats come from a separate process (load-client.ts), the
// stream clients from another (event-stream-clients.ts).
import { type ChildProcess, fork } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { credentials } from "@grpc/grpc-js";
import { CoordinatorClient, WorkerStatus_State } from "@strata/proto";
import { COORDINATOR_BIN, startCoordinatorProcess } from "../src/testing/index.js";
import type { StreamCommand } from "./event-stream-clients.js";
import type { LoadCommand } from "./load-client.js";

const HERE = resolve(process.argv[1] ?? ".", "..");
const BIN = COORDINATOR_BIN;
const WORKERS = 1_000;
const STREAM_CLIENTS = 50;
const DASHBOARD_TARGET_MS = 50;
const DELIVERY_TARGET_MS = 250;
/** Workers that change state to make events during the delivery measurement. */
const EVENT_WORKERS = 20;
const EVENT_PERIOD_MS = 100;
const MEASURE_MS = 10_000;

const fmt = (n: number, digits = 1) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** A forked helper process answering one IPC command at a time. */
class Helper<C> {
  readonly child: ChildProcess;
  #queue: ((m: unknown) => void)[] = [];
  constructor(file: string) {
    this.child = fork(join(HERE, file), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (m) => this.#queue.shift()?.(m));
  }
  run<T>(command: C): Promise<T> {
    return new Promise((res, rej) => {
      this.#queue.push((m) => {
        const error = (m as { error?: string }).error;
        if (error) rej(new Error(error));
        else res(m as T);
      });
      this.child.send(command as object);
    });
  }
}

async function startCoordinator(dataDir: string) {
  const started = await startCoordinatorProcess({
    dataDir,
    args: [
      "--rate-limit-rps",
      "0",
      "--http-rate-limit-rps",
      "0",
      "--heartbeat-timeout-ms",
      "600000",
      "--max-workers",
      "100000",
      "--log-level",
      "warn",
    ],
  });
  return {
    grpc: started.grpc,
    http: started.http,
    async stop() {
      await started.stop();
      // Its warnings, if any, for the reader of the report.
      process.stderr.write(started.stderr());
    },
  };
}

function unary<Req, Res>(
  client: CoordinatorClient,
  method: (req: Req, cb: (error: Error | null, res: Res) => void) => unknown,
  request: Req,
): Promise<Res> {
  return new Promise((res, rej) => {
    method.call(client, request, (error, response) => (error ? rej(error) : res(response)));
  });
}

function heartbeat(
  client: CoordinatorClient,
  workerId: string,
  state: WorkerStatus_State,
  resources: boolean,
) {
  return unary(client, client.heartbeat, {
    workerId,
    timestampMs: BigInt(Date.now()),
    status: { state, currentStep: 100n, currentEpoch: 1n, currentTask: "train" },
    resources: resources
      ? {
          cpuPercent: 180.5,
          memoryUsedBytes: 12_000_000_000n,
          gpuUsage: Array.from({ length: 8 }, (_, g) => ({
            gpuId: g,
            utilizationPercent: 90,
            memoryUsedBytes: 70_000_000_000n,
            memoryTotalBytes: 80_000_000_000n,
            temperatureCelsius: 70,
          })),
          diskReadBytes: 1_000_000n,
          diskWriteBytes: 2_000_000n,
          networkRxBytes: 3_000_000n,
          networkTxBytes: 4_000_000n,
        }
      : undefined,
  });
}

/** Sequential GETs of `path`; latencies in ms. */
async function timeGets(base: string, path: string, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const response = await fetch(`${base}${path}`);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`GET ${path}: ${response.status}`);
    out.push(performance.now() - started);
  }
  return out.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  // `pnpm bench -- <sections>`: this file's section is `http`.
  const only = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  if (only.length > 0 && !only.includes("http")) return;
  if (!existsSync(BIN))
    throw new Error(`${BIN} is missing: run pnpm --filter @strata/coordinator build first`);
  console.log(
    `\nstrata coordinator HTTP benchmark — ${cpus().length} cores, Node ${process.version}, ${WORKERS} workers\n`,
  );
  const dataDir = mkdtempSync(join(tmpdir(), "strata-bench-http-"));
  const coordinator = await startCoordinator(dataDir);
  const base = `http://${coordinator.http}`;
  const load = new Helper<LoadCommand>("load-client.ts");
  const streams = new Helper<StreamCommand>("event-stream-clients.ts");
  const grpc = new CoordinatorClient(coordinator.grpc, credentials.createInsecure());
  const results: string[] = [];
  try {
    // A cluster: 1,000 workers with resources (8 GPUs each), a 10,000-shard dataset with a plan.
    const ids = Array.from({ length: WORKERS }, (_, i) => `bench-${i}`);
    await load.run({ cmd: "connect", target: coordinator.grpc, channels: 4 });
    await load.run({ cmd: "register", ids, concurrency: 64 });
    for (let i = 0; i < WORKERS; i += 50) {
      await Promise.all(
        ids.slice(i, i + 50).map((id) => heartbeat(grpc, id, WorkerStatus_State.TRAINING, true)),
      );
    }
    await unary(grpc, grpc.registerDataset, {
      datasetId: "bench-data",
      path: "s3://bench/data",
      format: "parquet",
      totalSamples: 1_000_000n,
      shardSize: 100n,
      shuffle: true,
      seed: 1n,
      metadata: {},
    });
    await unary(grpc, grpc.getShardAssignments, {
      workerId: "bench-0",
      datasetId: "bench-data",
      epoch: 0n,
      pageSize: 0n,
      pageToken: "",
    });

    // 1. /api/dashboard against /api/health, same server, same run.
    const dashboardBytes = (await (await fetch(`${base}/api/dashboard`)).arrayBuffer()).byteLength;
    await timeGets(base, "/api/dashboard", 20);
    await timeGets(base, "/api/health", 20);
    const health = await timeGets(base, "/api/health", 300);
    const dashboard = await timeGets(base, "/api/dashboard", 300);
    const dP99 = percentile(dashboard, 99);
    const hP99 = percentile(health, 99);
    results.push(
      `/api/dashboard with ${WORKERS} workers (${fmt(dashboardBytes / 1024, 0)} KiB): p50 ${fmt(percentile(dashboard, 50), 2)} ms, p99 ${fmt(dP99, 2)} ms vs /api/health p50 ${fmt(percentile(health, 50), 2)} ms, p99 ${fmt(hP99, 2)} ms (${fmt(dP99 / hP99, 1)}×) (target p99 ≤ ${DASHBOARD_TARGET_MS} ms) ${verdict(dP99 <= DASHBOARD_TARGET_MS)}`,
    );
    console.log(results.at(-1));
    // The dashboard is a copy rebuilt once a second; /api/workers (most of its bytes) is built per request.
    const workers = await timeGets(base, "/api/workers", 100);
    results.push(
      `  /api/workers, built and serialised per request: p50 ${fmt(percentile(workers, 50), 2)} ms, p99 ${fmt(percentile(workers, 99), 2)} ms (no target)`,
    );
    console.log(results.at(-1));

    // 2. Event delivery to 50 stream clients while every worker heartbeats once a second.
    const eventIds = Array.from({ length: EVENT_WORKERS }, (_, i) => `bench-events-${i}`);
    for (const id of eventIds) {
      await unary(grpc, grpc.registerWorker, {
        workerId: id,
        hostname: "bench",
        port: 0,
        gpuCount: 0,
        memoryBytes: 0n,
        metadata: {},
      });
    }
    await streams.run({ cmd: "open", url: `${base}/api/events`, count: STREAM_CLIENTS });
    const heartbeats = load.run<{ latencies: number[]; errors: number }>({
      cmd: "paced",
      ids,
      durationMs: MEASURE_MS + 4_000,
      warmupMs: 0,
    });
    await new Promise((r) => setTimeout(r, 2_000)); // every worker heartbeating, ticks full
    const metricsBefore = (await (await fetch(`${base}/api/metrics`)).json()) as {
      event_seq: number;
    };
    const afterSeq = metricsBefore.event_seq;
    let toggles = 0;
    const end = performance.now() + MEASURE_MS;
    let training = false;
    while (performance.now() < end) {
      training = !training;
      const state = training ? WorkerStatus_State.TRAINING : WorkerStatus_State.IDLE;
      await Promise.all(eventIds.map((id) => heartbeat(grpc, id, state, false)));
      toggles += eventIds.length;
      await new Promise((r) => setTimeout(r, EVENT_PERIOD_MS));
    }
    const hb = await heartbeats;
    await new Promise((r) => setTimeout(r, 1_000)); // the last events reach the clients
    const metricsAfter = (await (await fetch(`${base}/api/metrics`)).json()) as {
      event_seq: number;
      heartbeats_per_second: number;
    };
    const expected = metricsAfter.event_seq - afterSeq;
    const { latencies, counts } = await streams.run<{ latencies: number[]; counts: number[] }>({
      cmd: "collect",
      afterSeq,
    });
    latencies.sort((a, b) => a - b);
    const p99 = percentile(latencies, 99);
    const complete = counts.filter((n) => n === expected).length;
    hb.latencies.sort((a, b) => a - b);
    results.push(
      `event delivery to ${STREAM_CLIENTS} clients, ${WORKERS} workers at 1 heartbeat/s (${fmt(metricsAfter.heartbeats_per_second, 0)} hb/s, heartbeat p99 ${fmt(percentile(hb.latencies, 99), 1)} ms): ${expected} events (${toggles} state changes) × ${STREAM_CLIENTS} clients, p50 ${fmt(percentile(latencies, 50), 1)} ms, p99 ${fmt(p99, 1)} ms, max ${fmt(latencies.at(-1) ?? Number.NaN, 1)} ms; ${complete}/${STREAM_CLIENTS} clients got every event (target p99 ≤ ${DELIVERY_TARGET_MS} ms, all delivered) ${verdict(p99 <= DELIVERY_TARGET_MS && complete === STREAM_CLIENTS)}`,
    );
    console.log(results.at(-1));
  } finally {
    grpc.close();
    await load.run({ cmd: "close" }).catch(() => undefined);
    await streams.run({ cmd: "close" }).catch(() => undefined);
    await coordinator.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log("\nsummary (HTTP)");
  for (const line of results) console.log(`  ${line}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
