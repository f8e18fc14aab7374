import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  apiErrorSchema,
  barrierDetailResponseSchema,
  barriersResponseSchema,
  checkpointDetailResponseSchema,
  checkpointsResponseSchema,
  dashboardResponseSchema,
  datasetDetailResponseSchema,
  datasetsResponseSchema,
  eventsResponseSchema,
  healthResponseSchema,
  historyResponseSchema,
  logsResponseSchema,
  metricsResponseSchema,
  statusResponseSchema,
  streamTickSchema,
  tasksResponseSchema,
  workerDetailResponseSchema,
  workersResponseSchema,
} from "../../src/api/index.js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "../helpers/coordinator-process.js";
import { connect, status, type TestClient, WorkerStatus_State } from "../helpers/grpc-clients.js";
import { call, getParsed, SseClient } from "./http-client.js";

// One coordinator process with three real gRPC workers that do a little of everything
// (heartbeats with resources and steps, a dataset with progress, checkpoints, barriers); then
// every route is read and checked against its schema and against what the workers did.
let dir: string;
let dashboardDir: string;
let coordinator: CoordinatorProcess;
let client: TestClient;
let base: string;
let stream: SseClient;
let startedAt: number;
let openBarrier: Promise<unknown>;

const resources = (cpu: number) => ({
  cpuPercent: cpu,
  memoryUsedBytes: 3_000_000_000n,
  gpuUsage: [
    {
      gpuId: 0,
      utilizationPercent: 87.5,
      memoryUsedBytes: 10_000_000_000n,
      memoryTotalBytes: 16_000_000_000n,
      temperatureCelsius: 71,
    },
  ],
  diskReadBytes: 1_000n,
  diskWriteBytes: 2_000n,
  networkRxBytes: 3_000n,
  networkTxBytes: 4_000n,
});

/** The next tick whose worker `id` shows `step`. */
function tickWith(
  id: string,
  predicate: (w: { current_step: number; step_rate: number | null }) => boolean,
) {
  return stream.next((m) => {
    if (m.event !== "tick") return false;
    const tick = streamTickSchema.parse(JSON.parse(m.data));
    const w = tick.workers.find((x) => x.id === id);
    return w !== undefined && predicate(w);
  });
}

beforeAll(async () => {
  startedAt = Date.now();
  dir = makeTempDir();
  dashboardDir = join(dir, "dashboard");
  mkdirSync(join(dashboardDir, "assets"), { recursive: true });
  writeFileSync(join(dashboardDir, "assets", "app-3f2a1b.js"), "console.log('strata');\n");
  coordinator = await startCoordinatorProcess(join(dir, "data"), [
    "--heartbeat-timeout-ms",
    "60000",
    "--dashboard-dir",
    dashboardDir,
  ]);
  base = `http://${coordinator.http}`;
  client = connect(coordinator.grpc);
  stream = await SseClient.open(`${base}/api/events`);

  for (const [i, id] of ["w-0", "w-1", "w-2"].entries()) {
    await client.registerWorker({
      workerId: id,
      hostname: `node-${i}`,
      gpuCount: 2,
      metadata: { zone: "a" },
    });
  }
  await client.heartbeat({
    workerId: "w-0",
    status: status(WorkerStatus_State.TRAINING, 10, 0, "train"),
    resources: resources(150),
  });
  await tickWith("w-0", (w) => w.current_step === 10);
  await client.heartbeat({
    workerId: "w-0",
    status: status(WorkerStatus_State.TRAINING, 40, 0, "train"),
  });
  await client.heartbeat({ workerId: "w-1", status: status(WorkerStatus_State.IDLE) });

  await client.registerDataset({
    datasetId: "ds",
    totalSamples: 1_000n,
    shardSize: 100n,
    shuffle: true,
    seed: 7n,
  });
  const assigned = await client.getShardAssignments("w-0", "ds", 0);
  const first = assigned.shards[0];
  if (first === undefined) throw new Error("w-0 got no shards");
  await client.reportShardProgress({
    workerId: "w-0",
    datasetId: "ds",
    epoch: 0n,
    shardId: first.shardId,
    consumed: [{ start: first.startIndex, end: first.startIndex + 25n }],
  });

  await client.notifyCheckpoint({
    workerId: "w-0",
    jobId: "job-a",
    checkpointId: "ck-100-0",
    step: 100n,
    storagePath: "/ckpt/100/rank0",
    sizeBytes: 4_000n,
    rank: 0,
    worldSize: 2,
  });
  await client.notifyCheckpoint({
    workerId: "w-1",
    jobId: "job-a",
    checkpointId: "ck-100-1",
    step: 100n,
    storagePath: "/ckpt/100/rank1",
    sizeBytes: 6_000n,
    rank: 1,
    worldSize: 2,
  });
  await client.notifyCheckpoint({
    workerId: "w-0",
    jobId: "job-a",
    checkpointId: "ck-200-0",
    step: 200n,
    storagePath: "/ckpt/200/rank0",
    sizeBytes: 5_000n,
    rank: 0,
    worldSize: 2,
  });

  // A barrier released after a measurable wait, and one left open (w-0 alone).
  const early = [client.waitBarrier("w-0", "sync-1"), client.waitBarrier("w-1", "sync-1")];
  await stream.next(
    (m) =>
      m.event === "coordinator" && m.data.includes('"barrier_arrived"') && m.data.includes('"w-1"'),
  );
  await new Promise((resolve) => setTimeout(resolve, 40)); // the wait being measured
  await Promise.all([...early, client.waitBarrier("w-2", "sync-1")]);
  openBarrier = client.waitBarrier("w-0", "sync-2", { step: 7 }).catch((e: unknown) => e);
  await stream.next((m) => m.event === "coordinator" && m.data.includes('"sync-2"'));

  // The monitor has seen the second heartbeat (a step rate) and the releases.
  await tickWith("w-0", (w) => w.current_step === 40 && (w.step_rate ?? 0) > 0);
}, 60_000);

afterAll(async () => {
  stream?.close();
  client?.close();
  const code = await coordinator?.stop();
  await openBarrier;
  removeDir(dir);
  expect(code).toBe(0);
});

describe("the original's routes, every value real", () => {
  test("/api/health and /api/status", async () => {
    expect(await getParsed(base, "/api/health", healthResponseSchema)).toEqual({ status: "ok" });
    const s = await getParsed(base, "/api/status", statusResponseSchema);
    expect(s.address).toBe(coordinator.grpc);
    expect(s.grpc_address).toBe(coordinator.grpc);
    expect(s.http_address).toBe(coordinator.http);
    expect(s.world_size).toBe(3);
    expect(s.store).toBe("sqlite");
    expect(s.auth).toBe(false);
    expect(s.started_at).toBeGreaterThanOrEqual(startedAt);
    expect(s.heartbeat_timeout_ms).toBe(60_000);
  });

  test("/api/workers: states, resources, shards, heartbeat age and step rate", async () => {
    const workers = await getParsed(base, "/api/workers", workersResponseSchema);
    expect(workers.map((w) => w.id)).toEqual(["w-0", "w-1", "w-2"]);
    const w0 = workers[0];
    expect(w0).toMatchObject({
      ip: "node-0",
      status: "active",
      state: "training",
      gpu_count: 2,
      current_step: 40,
      current_task: "train",
      rank: 0,
      alive: true,
      metadata: { zone: "a" },
    });
    expect(w0?.resources?.cpu_percent).toBe(150);
    expect(w0?.resources?.gpus[0]?.utilization_percent).toBe(87.5);
    expect(w0?.resources?.memory_used_bytes).toBe(3_000_000_000);
    expect(w0?.step_rate).toBeGreaterThan(0);
    expect(w0?.assigned_shards).toBeGreaterThan(0);
    expect(w0?.samples_consumed).toBe(25);
    expect(w0?.heartbeat_age_ms).toBeGreaterThanOrEqual(0);
    expect(w0?.last_heartbeat).toBeGreaterThanOrEqual(startedAt);
    expect(workers[1]?.status).toBe("idle");
    expect(workers[2]?.state).toBe("initializing");
    expect(workers[2]?.status).toBe("unknown");
    expect(workers.reduce((n, w) => n + w.assigned_shards, 0)).toBe(10);
  });

  test("/api/datasets: registration time and progress are the real ones", async () => {
    const [ds] = await getParsed(base, "/api/datasets", datasetsResponseSchema);
    expect(ds).toMatchObject({
      id: "ds",
      name: "ds",
      total_samples: 1_000,
      shard_size: 100,
      shard_count: 10,
      shuffle: true,
      seed: "7",
    });
    expect(ds?.registered_at).toBeGreaterThanOrEqual(startedAt);
    expect(ds?.epochs).toEqual([
      { epoch: 0, consumed_samples: 25, complete: false, fraction: 0.025 },
    ]);
    expect(ds?.active_epoch).toBe(0);
  });

  test("/api/checkpoints: newest first, sizes summed, completeness per step", async () => {
    const list = await getParsed(base, "/api/checkpoints", checkpointsResponseSchema);
    expect(list.map((c) => c.id)).toEqual(["job-a:200", "job-a:100"]);
    expect(list[1]).toMatchObject({
      status: "completed",
      size: 10_000,
      ranks_reported: 2,
      ranks_expected: 2,
      path: "/ckpt/100/rank0",
      worker_id: "w-0",
      job_id: "job-a",
    });
    expect(list[1]?.completed_at).not.toBeNull();
    expect(list[0]).toMatchObject({
      status: "in_progress",
      size: 5_000,
      ranks_reported: 1,
      ranks_expected: 2,
      worker_id: "w-0",
      completed_at: null,
    });
    expect(
      await getParsed(base, "/api/checkpoints?job_id=other", checkpointsResponseSchema),
    ).toEqual([]);
    expect(
      await getParsed(base, "/api/checkpoints?limit=1", checkpointsResponseSchema),
    ).toHaveLength(1);
  });

  test("/api/barriers: the open generation and the last release", async () => {
    const barriers = await getParsed(base, "/api/barriers", barriersResponseSchema);
    const open = barriers.find((b) => b.id === "sync-2");
    expect(open).toMatchObject({
      status: "waiting",
      arrived: 1,
      total: 3,
      step: 7,
      arrived_ids: ["w-0"],
      generation: 1,
    });
    expect(open?.missing_ids.sort()).toEqual(["w-1", "w-2"]);
    expect(open?.deadline_at).toBeGreaterThan(Date.now());
    const done = barriers.find((b) => b.id === "sync-1");
    expect(done).toMatchObject({ status: "complete", arrived: 3, total: 3 });
    expect(done?.waited_ms).toBeGreaterThanOrEqual(40);
  });

  test("/api/metrics: measured rates and latencies", async () => {
    const m = await getParsed(base, "/api/metrics", metricsResponseSchema);
    expect(m.total_workers).toBe(3);
    expect(m.live_workers).toBe(3);
    expect(m.active_workers).toBe(2); // w-0 training, w-1 idle; w-2 still initializing
    expect(m.heartbeats_per_second).toBeGreaterThan(0);
    expect(m.coordinator_rps).toBeGreaterThan(0);
    expect(m.barrier_latency_p99).toBeGreaterThanOrEqual(40);
    expect(m.barrier_latency_p50).toBeGreaterThanOrEqual(40);
    expect(m.checkpoint_throughput).toBeGreaterThan(0);
    expect(m.shard_assignment_time).toBeGreaterThan(0);
    expect(m.steps_per_second).toBeGreaterThan(0);
    expect(m.samples_per_second).toBeGreaterThan(0);
    expect(m.open_barriers).toBe(1);
    expect(m.checkpoint_steps_complete).toBe(1);
    expect(m.event_seq).toBeGreaterThan(10);
  });

  test("/api/dashboard: everything at once, real logs, no demo data", async () => {
    const d = await getParsed(base, "/api/dashboard", dashboardResponseSchema);
    expect(d.workers).toHaveLength(3);
    expect(d.datasets).toHaveLength(1);
    expect(d.checkpoints).toHaveLength(2);
    expect(d.tasks).toEqual([]);
    expect(d.logs.length).toBeGreaterThan(5);
    expect(d.logs.some((l) => l.message.includes("worker w-0 registered"))).toBe(true);
    expect(d.logs.every((l) => l.level !== "debug")).toBe(true);
    expect(d.logs.map((l) => l.timestamp)).toEqual(
      [...d.logs.map((l) => l.timestamp)].sort((a, b) => b - a),
    );
    expect(d.coordinator.address).toBe(coordinator.grpc);
  });

  test("/api/logs filters by level, source, worker and text; newest first", async () => {
    const all = await getParsed(base, "/api/logs?limit=500&level=debug", logsResponseSchema);
    expect(all.some((l) => l.level === "debug")).toBe(true);
    const ids = all.map((l) => Number(l.id.slice(4)));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(await getParsed(base, "/api/logs?limit=2", logsResponseSchema)).toHaveLength(2);
    const w1 = await getParsed(base, "/api/logs?worker_id=w-1&level=debug", logsResponseSchema);
    expect(w1.length).toBeGreaterThan(0);
    expect(w1.every((l) => l.worker_id === "w-1")).toBe(true);
    const ck = await getParsed(
      base,
      "/api/logs?source=checkpoints&q=STEP%20100%20COMPLETE",
      logsResponseSchema,
    );
    expect(ck).toHaveLength(1);
    expect(await getParsed(base, "/api/tasks", tasksResponseSchema)).toEqual([]);
  });

  test("/api/events/recent pages back through history", async () => {
    const first = await getParsed(base, "/api/events/recent?limit=3", eventsResponseSchema);
    expect(first.events).toHaveLength(3);
    expect(first.next_before).toBe(first.events[0]?.seq);
    const seqs = first.events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const older = await getParsed(
      base,
      `/api/events/recent?limit=3&before=${first.next_before}`,
      eventsResponseSchema,
    );
    expect(older.events.every((e) => e.seq < (first.next_before as number))).toBe(true);
    const typed = await getParsed(
      base,
      "/api/events/recent?type=checkpoint_recorded,checkpoint_completed",
      eventsResponseSchema,
    );
    expect(typed.events.map((e) => e.type)).toEqual([
      "checkpoint_recorded",
      "checkpoint_recorded",
      "checkpoint_completed",
      "checkpoint_recorded",
    ]);
    expect(typed.next_before).toBeNull();
  });

  test("/api/history: one-second samples of the measured series", async () => {
    const h = await getParsed(
      base,
      `/api/history?series=workers_alive,heartbeats_per_second&from=${startedAt}`,
      historyResponseSchema,
    );
    expect(h.step_ms).toBe(1_000);
    expect(Object.keys(h.series).sort()).toEqual(["heartbeats_per_second", "workers_alive"]);
    expect(h.timestamps.length).toBe(h.series.workers_alive?.length);
    expect(h.series.workers_alive).toContain(3);
    expect((h.series.heartbeats_per_second ?? []).some((v) => v !== null && v > 0)).toBe(true);
    const all = await getParsed(base, "/api/history", historyResponseSchema);
    expect(Object.keys(all.series)).toHaveLength(9);
    expect(all.to - all.from).toBe(3_600_000);
  });
});

describe("detail routes", () => {
  test("/api/workers/:id: its events and its shards", async () => {
    const d = await getParsed(base, "/api/workers/w-0", workerDetailResponseSchema);
    expect(d.worker.id).toBe("w-0");
    expect(d.events.some((e) => e.type === "worker_registered")).toBe(true);
    expect(d.events.every((e) => e.worker_id === "w-0")).toBe(true);
    const shards = d.shards.find((s) => s.dataset_id === "ds");
    expect(shards?.total).toBe(d.worker.assigned_shards);
    expect(shards?.shard_ids).toHaveLength(shards?.total ?? -1);
  });

  test("/api/datasets/:id: the shard map in columns, paged", async () => {
    const d = await getParsed(base, "/api/datasets/ds", datasetDetailResponseSchema);
    expect(d.total_shards).toBe(10);
    expect(d.owner).toHaveLength(10);
    expect(d.consumed.reduce((a, b) => a + b, 0)).toBe(25);
    expect(Object.values(d.shards_per_worker).reduce((a, b) => a + b, 0)).toBe(10);
    for (const o of d.owner) expect(d.workers[o]).toBeDefined();
    const page = await getParsed(
      base,
      "/api/datasets/ds?offset=8&limit=5",
      datasetDetailResponseSchema,
    );
    expect(page.offset).toBe(8);
    expect(page.owner).toHaveLength(2);
  });

  test("/api/checkpoints/:job/:step: parts and missing ranks", async () => {
    const done = await getParsed(
      base,
      "/api/checkpoints/job-a/100",
      checkpointDetailResponseSchema,
    );
    expect(done.parts.map((p) => [p.rank, p.worker_id, p.path, p.size])).toEqual([
      [0, "w-0", "/ckpt/100/rank0", 4_000],
      [1, "w-1", "/ckpt/100/rank1", 6_000],
    ]);
    expect(done.missing_ranks).toEqual([]);
    const open = await getParsed(
      base,
      "/api/checkpoints/job-a/200",
      checkpointDetailResponseSchema,
    );
    expect(open.parts.map((p) => [p.rank, p.checkpoint_id, p.size])).toEqual([
      [0, "ck-200-0", 5_000],
    ]);
    expect(open.missing_ranks).toEqual([1]);
  });

  test("/api/barriers/:id: arrivals with times, and the generations before", async () => {
    const released = await getParsed(base, "/api/barriers/sync-1", barrierDetailResponseSchema);
    expect(released.barrier.status).toBe("complete");
    expect(released.arrivals.map((a) => a.worker_id).sort()).toEqual(["w-0", "w-1", "w-2"]);
    expect(released.history).toEqual([
      expect.objectContaining({ generation: 1, outcome: "released", participants: 3 }),
    ]);
    const open = await getParsed(base, "/api/barriers/sync-2", barrierDetailResponseSchema);
    expect(open.barrier.status).toBe("waiting");
    expect(open.arrivals).toEqual([expect.objectContaining({ worker_id: "w-0", order: 1 })]);
  });
});

describe("errors", () => {
  const expectError = async (
    path: string,
    status: number,
    code: string,
    field?: string,
    options: Parameters<typeof call>[2] = {},
  ) => {
    const answer = await call(base, path, options);
    expect(answer.status).toBe(status);
    const body = apiErrorSchema.parse(answer.body);
    expect(body.code).toBe(code);
    if (field !== undefined) {
      expect(body.field).toBe(field);
      expect(body.message.startsWith(`${field}: `)).toBe(true);
    }
    return answer;
  };

  test("unknown resources are 404", async () => {
    await expectError("/api/workers/nobody", 404, "not_found");
    await expectError("/api/datasets/nothing", 404, "not_found");
    await expectError("/api/checkpoints/job-a/999", 404, "not_found");
    await expectError("/api/barriers/never", 404, "not_found");
    await expectError("/api/tasks/task_00000000", 404, "not_found");
    await expectError("/api/tasks/task_00000000/stop", 404, "not_found", undefined, {
      method: "POST",
    });
    await expectError("/api/no-such-route", 404, "not_found");
  });

  test("bad query values are 400 naming the field", async () => {
    await expectError("/api/logs?limit=abc", 400, "invalid_argument", "limit");
    await expectError("/api/logs?limit=0", 400, "invalid_argument", "limit");
    await expectError("/api/logs?level=loud", 400, "invalid_argument", "level");
    await expectError("/api/logs?limit=1&limit=2", 400, "invalid_argument", "limit");
    await expectError("/api/history?series=bogus", 400, "invalid_argument", "series");
    await expectError("/api/history?from=2000&to=1000", 400, "invalid_argument", "from");
    await expectError(
      "/api/history?from=0&to=9999999999999&step_ms=1000",
      400,
      "invalid_argument",
      "step_ms",
    );
    await expectError("/api/events/recent?type=nope", 400, "invalid_argument", "type");
    await expectError("/api/checkpoints/job-a/abc", 400, "invalid_argument", "step");
    await expectError("/api/datasets/ds?limit=100001", 400, "invalid_argument", "limit");
    await expectError("/api/events?after=-1", 400, "invalid_argument", "after");
  });

  test("bad bodies are 400 naming the field; a huge body is 413", async () => {
    await expectError("/api/tasks", 400, "invalid_argument", "body", { rawBody: "{not json" });
    await expectError("/api/tasks", 400, "invalid_argument", "body", { method: "POST" });
    await expectError("/api/tasks", 400, "invalid_argument", "worker_count", {
      body: { name: "t", type: "train", dataset_id: "", worker_count: 0, config: {} },
    });
    await expectError("/api/tasks", 400, "invalid_argument", "dataset_id", {
      body: { name: "t", type: "train", dataset_id: "missing", worker_count: 1, config: {} },
    });
    await expectError("/api/tasks", 413, "resource_exhausted", "body", {
      body: {
        name: "t",
        type: "train",
        dataset_id: "",
        worker_count: 1,
        config: { blob: "x".repeat(300_000) },
      },
    });
  });

  test("a wrong method is 405 with Allow", async () => {
    const answer = await expectError("/api/workers", 405, "unimplemented", undefined, {
      method: "DELETE",
    });
    expect(answer.headers.get("allow")).toBe("GET, HEAD");
    const tasks = await expectError("/api/tasks", 405, "unimplemented", undefined, {
      method: "PUT",
    });
    expect(tasks.headers.get("allow")).toBe("GET, POST, HEAD");
  });
});

describe("headers and the dashboard", () => {
  test("security headers; API answers are not cached; cross-origin is denied by default", async () => {
    const answer = await call(base, "/api/status", { headers: { origin: "https://evil.example" } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(answer.headers.get("content-security-policy")).not.toContain(
      "upgrade-insecure-requests",
    );
    expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    expect(answer.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(answer.headers.get("x-powered-by")).toBeNull();
    expect(answer.headers.get("cache-control")).toBe("no-store");
    expect(answer.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("/ explains how to build the dashboard until it is built; then serves it with cache rules", async () => {
    const before = await call(base, "/", { headers: { accept: "text/html" } });
    expect(before.status).toBe(200);
    expect(before.headers.get("content-type")).toContain("text/html");
    expect(before.text).toContain("pnpm --filter @strata/dashboard build");

    writeFileSync(
      join(dashboardDir, "index.html"),
      '<!doctype html><div id="root">strata dashboard</div>',
    );
    for (const path of ["/", "/workers/w-0", "/tasks"]) {
      const page = await call(base, path, { headers: { accept: "text/html" } });
      expect(page.status).toBe(200);
      expect(page.text).toContain("strata dashboard");
      expect(page.headers.get("cache-control")).toBe("no-cache");
    }
    const asset = await call(base, "/assets/app-3f2a1b.js");
    expect(asset.status).toBe(200);
    expect(asset.text).toContain("strata");
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const missing = await call(base, "/assets/app-000000.js");
    expect(missing.status).toBe(404);
    expect(apiErrorSchema.parse(missing.body).code).toBe("not_found");
    // API paths never fall back to the page.
    expect((await call(base, "/api/nope", { headers: { accept: "text/html" } })).status).toBe(404);
  });
});
