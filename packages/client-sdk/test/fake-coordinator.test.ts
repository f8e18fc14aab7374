import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import type {
  HeartbeatRequest,
  HeartbeatResponse,
  ShardAssignment,
  WorkerConfig,
} from "@strata/proto";
import {
  connectWorker,
  createResourceSampler,
  parseWorkerCommand,
  type StrataWorker,
  type WorkerCommand,
} from "../src/index.js";
import { makeTempDir, removeDir, waitFor } from "./helpers/coordinator-process.js";
import { type FakeCoordinator, startFakeCoordinator } from "./helpers/fake-coordinator.js";

// Behaviour that a real coordinator cannot be made to show on demand: missing streams,
// commands, paging, a coordinator that forgot the worker, GPUs.
const config = (rank = 0): WorkerConfig => ({
  assignedId: "w",
  rank,
  worldSize: 1,
  heartbeatIntervalMs: 50n,
  config: {},
  membershipVersion: 1n,
});

const beat = (commands: string[] = []): HeartbeatResponse => ({
  acknowledged: true,
  serverTimestampMs: 1n,
  pendingCommands: commands,
  membershipVersion: 1n,
  rank: 0,
  worldSize: 1,
});

let fake: FakeCoordinator;
let worker: StrataWorker | undefined;

beforeEach(async () => {
  fake = await startFakeCoordinator();
  fake.handle("registerWorker", () => config());
  fake.handle("deregisterWorker", () => config());
});

afterEach(async () => {
  await worker?.close({ timeoutMs: 1_000 });
  worker = undefined;
  fake.close();
});

test("heartbeats fall back to unary calls when the coordinator has no StreamHeartbeats", async () => {
  fake.handle("heartbeat", () => beat());
  worker = await connectWorker({ addresses: fake.address, workerId: "w", resources: false });
  await waitFor("unary heartbeats", () => (fake.calls.heartbeat?.length ?? 0) >= 2);
  expect(worker.heartbeatTransport).toBe("unary");
  expect(worker.lastHeartbeatMs).toBeGreaterThan(0);
});

test("pending commands reach the worker's code, parsed, each once", async () => {
  const queue = [
    "checkpoint",
    "stop",
    'start_task:{"task_id":"task_1","name":"resnet","type":"train","dataset_id":"ds","worker_ids":["w"],"config":{"total_steps":10}}',
    'stop_task:{"task_id":"task_1"}',
    "rebalance:{}",
  ];
  fake.streamHeartbeats = () => beat(queue.splice(0));
  worker = await connectWorker({ addresses: fake.address, workerId: "w", resources: false });
  const seen: WorkerCommand[] = [];
  for await (const command of worker.commands()) {
    seen.push(command);
    if (seen.length === 5) break;
  }
  expect(seen.map((c) => c.type)).toEqual([
    "checkpoint",
    "stop",
    "start_task",
    "stop_task",
    "unknown",
  ]);
  expect(seen[2]).toMatchObject({
    task: { task_id: "task_1", dataset_id: "ds", config: { total_steps: 10 } },
  });
  expect(seen[3]).toMatchObject({ taskId: "task_1" });
  expect(seen[4]).toMatchObject({ name: "rebalance" });
  expect(worker.heartbeatTransport).toBe("stream");
  expect(parseWorkerCommand("start_task:{not json")).toMatchObject({
    type: "unknown",
    name: "start_task",
  });
});

test("a coordinator that forgot the worker (NOT_FOUND) makes it register again under its id", async () => {
  let forgotten = true;
  fake.handle("heartbeat", () =>
    forgotten
      ? { code: status.NOT_FOUND, details: 'worker "w" is not registered; register again' }
      : beat(),
  );
  fake.handle("registerWorker", () => {
    if ((fake.calls.registerWorker?.length ?? 0) > 1) forgotten = false;
    return config();
  });
  worker = await connectWorker({
    addresses: fake.address,
    workerId: "w",
    resources: false,
    heartbeatTransport: "unary",
  });
  const again = new Promise((resolve) => worker?.once("reregistered", resolve));
  await again;
  expect(fake.calls.registerWorker).toHaveLength(2);
  expect(fake.calls.registerWorker?.map((r) => (r as { workerId: string }).workerId)).toEqual([
    "w",
    "w",
  ]);
});

test("shard assignments are read page by page, starting over when membership changes mid-way", async () => {
  fake.streamHeartbeats = () => beat();
  const shard = (id: number): ShardAssignment => ({
    datasetId: "ds",
    shardId: BigInt(id),
    totalShards: 10n,
    startIndex: BigInt(id * 10),
    endIndex: BigInt(id * 10 + 10),
    filePaths: [],
    epoch: 0n,
    remainingRanges: [],
    consumedSamples: 0n,
  });
  let version = 5n;
  let failedOnce = false;
  fake.handle("getShardAssignments", (request: { pageToken: string; pageSize: bigint }) => {
    const from = request.pageToken === "" ? 0 : Number(request.pageToken);
    if (from === 3 && !failedOnce) {
      failedOnce = true;
      version = 6n; // the membership changed: tokens of version 5 are no longer valid
      return {
        code: status.FAILED_PRECONDITION,
        details: "page token is for membership version 5",
      };
    }
    const ids = [0, 1, 2, 3, 4, 5, 6].slice(from, from + Number(request.pageSize));
    const next = from + ids.length;
    return {
      workerId: "w",
      datasetId: "ds",
      epoch: 0n,
      membershipVersion: version,
      totalShards: 10n,
      shards: ids.map(shard),
      nextPageToken: next < 7 ? String(next) : "",
      assignedShards: 7n,
    };
  });
  worker = await connectWorker({ addresses: fake.address, workerId: "w", resources: false });
  const list = await worker.shardAssignments("ds", 0, { pageSize: 3 });
  expect(list.shards.map((s) => Number(s.shardId))).toEqual([0, 1, 2, 3, 4, 5, 6]);
  expect(list.membershipVersion).toBe(6);
  expect(fake.calls.getShardAssignments?.length).toBe(2 + 3); // two pages, a refusal, then three pages
});

test("heartbeats carry real resource usage, with GPUs from nvidia-smi when it exists", async () => {
  const dir = makeTempDir("strata-fake-smi-");
  try {
    const smi = join(dir, "nvidia-smi");
    writeFileSync(
      smi,
      "#!/bin/sh\necho '0, 87, 18000, 24576, 71'\necho '1, 12, 1024, 24576, 40'\n",
    );
    chmodSync(smi, 0o755);
    const requests: HeartbeatRequest[] = [];
    fake.streamHeartbeats = (r) => {
      requests.push(r);
      return beat();
    };
    worker = await connectWorker({
      addresses: fake.address,
      workerId: "w",
      resources: createResourceSampler({ nvidiaSmi: smi }),
    });
    await waitFor("a heartbeat with resources", () =>
      requests.some((r) => r.resources !== undefined),
    );
    const resources = requests.find((r) => r.resources !== undefined)?.resources;
    expect(resources?.memoryUsedBytes).toBeGreaterThan(0n);
    expect(resources?.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(resources?.gpuUsage).toHaveLength(2);
    expect(resources?.gpuUsage[0]).toMatchObject({
      gpuId: 0,
      utilizationPercent: 87,
      temperatureCelsius: 71,
    });
    expect(resources?.gpuUsage[0]?.memoryTotalBytes).toBe(24_576n * 1024n * 1024n);
    // Registration reported the GPU count it found.
    expect((fake.calls.registerWorker?.[0] as { gpuCount: number } | undefined)?.gpuCount).toBe(2);
    // No nvidia-smi: no GPUs, and no error.
    const none = await createResourceSampler({ nvidiaSmi: join(dir, "missing") }).sample();
    expect(none.gpuUsage).toEqual([]);
  } finally {
    removeDir(dir);
  }
});
