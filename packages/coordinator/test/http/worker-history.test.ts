import { join } from "node:path";
import {
  apiErrorSchema,
  eventsResponseSchema,
  logsResponseSchema,
  type WorkerHistoryResponse,
  workerDetailResponseSchema,
  workerHistoryResponseSchema,
} from "../../src/api/index.js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "../helpers/coordinator-process.js";
import { connect, status, type TestClient, WorkerStatus_State } from "../helpers/grpc-clients.js";
import { call, eventually, getParsed } from "./http-client.js";

// A real coordinator process with real gRPC workers: one with two GPUs training, one idle without
// a resource report. Their 10-second samples appear, outlive the trainer's death, a clean restart
// and a kill -9 (rows committed before the kill are all there; a kill can lose at most the batch
// not yet written, i.e. the samples of the last second), and sampling goes on after a restart.

const HEARTBEAT_TIMEOUT_MS = 3_000;

const gpuResources = {
  cpuPercent: 150,
  memoryUsedBytes: 3_000_000_000n,
  gpuUsage: [80, 90].map((utilizationPercent, gpuId) => ({
    gpuId,
    utilizationPercent,
    memoryUsedBytes: 1_000n,
    memoryTotalBytes: 2_000n,
    temperatureCelsius: 60,
  })),
  diskReadBytes: 0n,
  diskWriteBytes: 0n,
  networkRxBytes: 0n,
  networkTxBytes: 0n,
};

/** The non-null samples of an answer, as `[timestamp, step, state, cpu, memory, gpu]` rows. */
function recorded(h: WorkerHistoryResponse) {
  const rows: unknown[][] = [];
  h.timestamps.forEach((at, i) => {
    if (h.step[i] === null) return;
    rows.push([
      at,
      h.step[i],
      h.state[i],
      h.cpu_percent[i],
      h.memory_used_bytes[i],
      h.gpu_utilization_percent[i],
    ]);
  });
  return rows;
}

let dir: string;
let coordinator: CoordinatorProcess;
let client: TestClient | undefined;
let base: string;
let startedAt: number;
let beating: ReturnType<typeof setInterval> | undefined;

const args = ["--heartbeat-timeout-ms", String(HEARTBEAT_TIMEOUT_MS)];
const historyOf = (id: string, query = `from=${startedAt}&to=${Date.now() + 60_000}`) =>
  getParsed(base, `/api/workers/${id}/history?${query}`, workerHistoryResponseSchema);

async function restart(signal: NodeJS.Signals): Promise<void> {
  client?.close();
  client = undefined;
  expect(await coordinator.stop(signal)).toBe(signal === "SIGKILL" ? "SIGKILL" : 0);
  coordinator = await startCoordinatorProcess(join(dir, "data"), args);
  base = `http://${coordinator.http}`;
}

beforeAll(async () => {
  startedAt = Date.now();
  dir = makeTempDir();
  coordinator = await startCoordinatorProcess(join(dir, "data"), args);
  base = `http://${coordinator.http}`;
});

afterAll(async () => {
  if (beating !== undefined) clearInterval(beating);
  client?.close();
  await coordinator?.stop();
  removeDir(dir);
});

test("samples appear for heartbeating workers and outlive a death, a restart and a kill -9", async () => {
  client = connect(coordinator.grpc);
  const grpc = client;
  await grpc.registerWorker({ workerId: "w-gpu", gpuCount: 2 });
  await grpc.registerWorker({ workerId: "w-cpu" });
  let step = 0;
  let gpuAlive = true;
  const beat = () => {
    step += 5;
    const beats = [
      grpc.heartbeat({
        workerId: "w-cpu",
        status: status(WorkerStatus_State.IDLE),
      }),
    ];
    if (gpuAlive) {
      beats.push(
        grpc.heartbeat({
          workerId: "w-gpu",
          status: status(WorkerStatus_State.TRAINING, step, 3, "train"),
          resources: gpuResources,
        }),
      );
    }
    return Promise.all(beats);
  };
  await beat();
  beating = setInterval(() => void beat().catch(() => undefined), 300);

  // 1. Within one 10-second slot (plus the monitor's second), both workers have a sample.
  const first = await eventually(
    async () => {
      const h = await historyOf("w-gpu");
      return recorded(h).length > 0 ? h : undefined;
    },
    "a sample of w-gpu",
    15_000,
  );
  const i = first.step.findIndex((v) => v !== null);
  expect(first.worker_id).toBe("w-gpu");
  expect(first.step_ms).toBe(10_000);
  expect(first.state[i]).toBe("training");
  expect(first.step[i]).toBeGreaterThan(0);
  expect(first.epoch[i]).toBe(3);
  expect(first.step_rate[i]).toBeGreaterThan(0);
  expect(first.cpu_percent[i]).toBe(150);
  expect(first.memory_used_bytes[i]).toBe(3_000_000_000);
  expect(first.gpu_utilization_percent[i]).toBe(85);
  expect(first.first_sample_at).toBeGreaterThanOrEqual(startedAt);
  const idle = await eventually(async () => {
    const h = await historyOf("w-cpu");
    return recorded(h).length > 0 ? h : undefined;
  }, "a sample of w-cpu");
  expect(recorded(idle)[0]?.slice(2)).toEqual(["idle", null, null, null]);

  // 2. w-gpu stops heartbeating and is declared dead; its samples stay.
  gpuAlive = false;
  await eventually(async () => {
    const d = await getParsed(base, "/api/workers/w-gpu", workerDetailResponseSchema);
    return d.worker.state === "dead" ? true : undefined;
  }, "w-gpu declared dead");
  clearInterval(beating);
  beating = undefined;
  const window = () => `from=${startedAt}&to=${Date.now() + 60_000}`;
  const beforeRestart = recorded(await historyOf("w-gpu", window()));
  expect(beforeRestart.length).toBeGreaterThan(0);
  expect(beforeRestart).toEqual(expect.arrayContaining(recorded(first)));

  // 3. A clean restart keeps everything (closing flushes the last batch). The restored workers
  // are not sampled until they heartbeat to the new process: no row is made up for them.
  await restart("SIGTERM");
  const gpuAfterRestart = recorded(await historyOf("w-gpu", window()));
  expect(gpuAfterRestart).toEqual(expect.arrayContaining(beforeRestart));
  expect(gpuAfterRestart.length - beforeRestart.length).toBeLessThanOrEqual(1); // its last batch

  // 4. Sampling goes on in the new process for a worker that heartbeats to it.
  client = connect(coordinator.grpc);
  const again = client;
  const restartedAt = Date.now();
  const keepAlive = setInterval(
    () =>
      void again
        .heartbeat({ workerId: "w-cpu", status: status(WorkerStatus_State.IDLE) })
        .catch(() => undefined),
    300,
  );
  try {
    await eventually(
      async () => {
        const h = await historyOf("w-cpu", `from=${restartedAt}&to=${Date.now() + 60_000}`);
        return recorded(h).length > 0 ? true : undefined;
      },
      "a sample of w-cpu after the restart",
      15_000,
    );
    // 5. kill -9 while w-cpu heartbeats and is sampled: every row readable before the kill is
    // still there (what a kill can lose is the batch not yet committed: at most the last second).
    const cpuBeforeKill = recorded(await historyOf("w-cpu", window()));
    await restart("SIGKILL");
    expect(recorded(await historyOf("w-cpu", window()))).toEqual(
      expect.arrayContaining(cpuBeforeKill),
    );
    expect(recorded(await historyOf("w-gpu", window()))).toEqual(gpuAfterRestart);
  } finally {
    clearInterval(keepAlive);
  }
}, 90_000);

test("history bounds: 404 for a worker never known, 400 naming the field for bad values", async () => {
  const error = async (path: string, statusCode: number, field?: string) => {
    const answer = await call(base, path);
    expect([path, answer.status]).toEqual([path, statusCode]);
    const body = apiErrorSchema.parse(answer.body);
    if (field !== undefined) {
      expect(body.field).toBe(field);
      expect(body.message.startsWith(`${field}: `)).toBe(true);
    }
  };
  await error("/api/workers/nobody/history", 404);
  await error("/api/workers/w-gpu/history?from=abc", 400, "from");
  await error("/api/workers/w-gpu/history?to=-5", 400, "to");
  await error("/api/workers/w-gpu/history?from=2000&to=1000", 400, "from");
  await error("/api/workers/w-gpu/history?from=1&to=1", 400, "from");
  await error("/api/workers/w-gpu/history?step_ms=5000", 400, "step_ms");
  await error("/api/workers/w-gpu/history?from=0&to=9999999999999&step_ms=10000", 400, "step_ms");
  await error("/api/workers/w-gpu/history?step_ms=1&step_ms=2", 400, "step_ms");
  // Defaults: the last hour, at most 2,000 points, never finer than the sample interval.
  const h = await getParsed(base, "/api/workers/w-gpu/history", workerHistoryResponseSchema);
  expect(h.to - h.from).toBe(3_600_000);
  expect(h.step_ms).toBe(10_000);
  expect(h.timestamps).toHaveLength(360);
  const week = await getParsed(
    base,
    `/api/workers/w-gpu/history?from=0&to=${7 * 86_400_000}`,
    workerHistoryResponseSchema,
  );
  expect(week.timestamps.length).toBeLessThanOrEqual(2_000);
  expect(week.step_ms).toBe(302_400);
  expect((await call(base, "/api/workers/w-gpu/history", { method: "POST" })).status).toBe(405);
});

test("events and logs filter by time: from inclusive, to exclusive", async () => {
  const all = await getParsed(base, "/api/events/recent?limit=10000", eventsResponseSchema);
  const times = [...new Set(all.events.map((e) => e.at))].sort((a, b) => a - b);
  expect(times.length).toBeGreaterThan(4);
  const from = times[1] as number;
  const to = times[times.length - 2] as number;
  const within = await getParsed(
    base,
    `/api/events/recent?limit=10000&from=${from}&to=${to}`,
    eventsResponseSchema,
  );
  expect(within.events.map((e) => e.seq)).toEqual(
    all.events.filter((e) => e.at >= from && e.at < to).map((e) => e.seq),
  );
  expect(within.events.length).toBeGreaterThan(0);
  expect(within.events.length).toBeLessThan(all.events.length);
  const after = await getParsed(
    base,
    `/api/events/recent?limit=10000&from=${to}`,
    eventsResponseSchema,
  );
  expect(after.events.map((e) => e.seq)).toEqual(
    all.events.filter((e) => e.at >= to).map((e) => e.seq),
  );
  // Paging back within a window stays within it.
  const page = await getParsed(
    base,
    `/api/events/recent?limit=1&from=${from}&to=${to}`,
    eventsResponseSchema,
  );
  const older = await getParsed(
    base,
    `/api/events/recent?limit=10000&from=${from}&to=${to}&before=${page.next_before}`,
    eventsResponseSchema,
  );
  expect([...older.events, ...page.events].map((e) => e.seq)).toEqual(
    within.events.map((e) => e.seq),
  );

  const logs = await getParsed(
    base,
    `/api/logs?limit=10000&level=debug&from=${from}&to=${to}`,
    logsResponseSchema,
  );
  expect(logs.map((l) => l.id)).toEqual(within.events.map((e) => `log_${e.seq}`).reverse());
  const before = await getParsed(
    base,
    `/api/logs?limit=10000&level=debug&to=${from}`,
    logsResponseSchema,
  );
  expect(before.length).toBeGreaterThan(0);
  expect(before.every((l) => l.timestamp < from)).toBe(true);

  for (const path of ["/api/events/recent", "/api/logs"]) {
    for (const [query, field] of [
      ["from=abc", "from"],
      ["to=-1", "to"],
      ["from=5&to=5", "from"],
      ["from=1&from=2", "from"],
    ] as const) {
      const answer = await call(base, `${path}?${query}`);
      expect([path, query, answer.status]).toEqual([path, query, 400]);
      expect(apiErrorSchema.parse(answer.body).field).toBe(field);
    }
  }
});
