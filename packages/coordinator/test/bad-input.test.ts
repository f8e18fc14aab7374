import { status as GrpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";
import { CheckpointType } from "@strata/proto";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "./helpers/coordinator-process.js";
import {
  connect,
  grpcError,
  status,
  type TestClient,
  WorkerStatus_State,
} from "./helpers/grpc-clients.js";

let coordinator: CoordinatorProcess;
let dataDir: string;
let client: TestClient;

beforeAll(async () => {
  dataDir = makeTempDir();
  coordinator = await startCoordinatorProcess(dataDir);
  client = connect(coordinator.grpc);
  await client.registerWorker({ workerId: "valid-worker" });
  await client.registerDataset({ datasetId: "valid-ds", totalSamples: 100n, shardSize: 10n });
});

afterAll(async () => {
  client?.close();
  expect(await coordinator?.stop()).toBe(0);
  removeDir(dataDir);
});

// Every RPC with at least one bad field; the status is INVALID_ARGUMENT and the message starts
// with the proto field name.
const cases: [string, () => Promise<unknown>, string][] = [
  ["RegisterWorker worker_id empty", () => client.registerWorker({ workerId: "" }), "worker_id"],
  [
    "RegisterWorker worker_id with a slash",
    () => client.registerWorker({ workerId: "a/../b" }),
    "worker_id",
  ],
  [
    "RegisterWorker worker_id 129 chars",
    () => client.registerWorker({ workerId: "w".repeat(129) }),
    "worker_id",
  ],
  ["RegisterWorker port", () => client.registerWorker({ workerId: "w", port: 65_536 }), "port"],
  [
    "RegisterWorker gpu_count",
    () => client.registerWorker({ workerId: "w", gpuCount: -1 }),
    "gpu_count",
  ],
  [
    "RegisterWorker memory_bytes",
    () => client.registerWorker({ workerId: "w", memoryBytes: -1n }),
    "memory_bytes",
  ],
  [
    "RegisterWorker metadata",
    () =>
      client.registerWorker({
        workerId: "w",
        metadata: Object.fromEntries([...Array(100).keys()].map((i) => [`k${i}`, "v"])),
      }),
    "metadata",
  ],
  ["Heartbeat worker_id", () => client.heartbeat({ workerId: "bad id" }), "worker_id"],
  [
    "Heartbeat timestamp_ms",
    () => client.heartbeat({ workerId: "valid-worker", timestampMs: -1n }),
    "timestamp_ms",
  ],
  [
    "Heartbeat status.current_step beyond 2^53",
    () =>
      client.heartbeat({
        workerId: "valid-worker",
        status: { ...status(WorkerStatus_State.TRAINING), currentStep: 2n ** 60n },
      }),
    "status.current_step",
  ],
  [
    "Heartbeat resources.cpu_percent",
    () =>
      client.heartbeat({
        workerId: "valid-worker",
        resources: {
          cpuPercent: -1,
          memoryUsedBytes: 0n,
          gpuUsage: [],
          diskReadBytes: 0n,
          diskWriteBytes: 0n,
          networkRxBytes: 0n,
          networkTxBytes: 0n,
        },
      }),
    "resources.cpu_percent",
  ],
  ["DeregisterWorker worker_id", () => client.deregisterWorker(""), "worker_id"],
  [
    "RegisterDataset dataset_id",
    () => client.registerDataset({ datasetId: "", totalSamples: 1n, shardSize: 1n }),
    "dataset_id",
  ],
  [
    "RegisterDataset total_samples",
    () => client.registerDataset({ datasetId: "d", totalSamples: 0n, shardSize: 1n }),
    "total_samples",
  ],
  [
    "RegisterDataset shard_size",
    () => client.registerDataset({ datasetId: "d", totalSamples: 10n, shardSize: 0n }),
    "shard_size",
  ],
  [
    "RegisterDataset path",
    () =>
      client.registerDataset({
        datasetId: "d",
        totalSamples: 10n,
        shardSize: 1n,
        path: "x".repeat(5000),
      }),
    "path",
  ],
  ["GetDataShard epoch", () => client.getDataShard("valid-worker", "valid-ds", -1), "epoch"],
  ["GetDataShard dataset_id", () => client.getDataShard("valid-worker", "", 0), "dataset_id"],
  [
    "GetShardAssignments worker_id",
    () => client.getShardAssignments("", "valid-ds", 0),
    "worker_id",
  ],
  [
    "ReportShardProgress consumed",
    () =>
      client.reportShardProgress({ workerId: "valid-worker", datasetId: "valid-ds", consumed: [] }),
    "consumed",
  ],
  [
    "ReportShardProgress consumed[0]",
    () =>
      client.reportShardProgress({
        workerId: "valid-worker",
        datasetId: "valid-ds",
        consumed: [{ start: 5n, end: 2n }],
      }),
    "consumed[0]",
  ],
  [
    "ReportShardProgress shard_id",
    () =>
      client.reportShardProgress({
        workerId: "valid-worker",
        datasetId: "valid-ds",
        shardId: -1n,
        consumed: [{ start: 0n, end: 1n }],
      }),
    "shard_id",
  ],
  [
    "NotifyCheckpoint checkpoint_id",
    () => client.notifyCheckpoint({ workerId: "valid-worker", checkpointId: "" }),
    "checkpoint_id",
  ],
  [
    "NotifyCheckpoint step",
    () => client.notifyCheckpoint({ workerId: "valid-worker", checkpointId: "c", step: -1n }),
    "step",
  ],
  [
    "NotifyCheckpoint size_bytes",
    () => client.notifyCheckpoint({ workerId: "valid-worker", checkpointId: "c", sizeBytes: -1n }),
    "size_bytes",
  ],
  [
    "NotifyCheckpoint type",
    () =>
      client.notifyCheckpoint({
        workerId: "valid-worker",
        checkpointId: "c",
        type: 17 as CheckpointType,
      }),
    "type",
  ],
  [
    "NotifyCheckpoint job_id",
    () =>
      client.notifyCheckpoint({ workerId: "valid-worker", checkpointId: "c", jobId: "job/../x" }),
    "job_id",
  ],
  ["GetLatestCheckpoint worker_id", () => client.getLatestCheckpoint("", ""), "worker_id"],
  ["GetLatestCheckpoint job_id", () => client.getLatestCheckpoint("valid-worker", "a b"), "job_id"],
  ["WaitBarrier barrier_id", () => client.waitBarrier("valid-worker", ""), "barrier_id"],
  [
    "WaitBarrier timeout_ms",
    () => client.waitBarrier("valid-worker", "b", { timeoutMs: -5 }),
    "timeout_ms",
  ],
];

test.each(cases)("%s → INVALID_ARGUMENT naming the field", async (_name, call, field) => {
  const error = await grpcError(call());
  expect(error.code).toBe(GrpcStatus.INVALID_ARGUMENT);
  expect(error.details.startsWith(`${field}:`)).toBe(true);
  // The field is also in the trailing metadata, for programs.
  expect(error.metadata.get("strata-field")).toEqual([field]);
  // No stack traces or file paths leak.
  expect(error.details).not.toMatch(/\bat .+\.(js|ts):\d+/);
});

test("StreamHeartbeats → the stream ends with INVALID_ARGUMENT naming the field", async () => {
  const stream = client.raw.streamHeartbeats();
  const error = await new Promise<ServiceError>((resolve, reject) => {
    stream.on("error", resolve);
    stream.on("end", () => reject(new Error("stream ended without an error")));
    stream.on("data", () => undefined);
    stream.write({
      workerId: "valid-worker",
      timestampMs: 0n,
      status: { ...status(WorkerStatus_State.IDLE), currentEpoch: -2n },
      resources: undefined,
    });
  });
  expect(error.code).toBe(GrpcStatus.INVALID_ARGUMENT);
  expect(error.details).toMatch(/^status.current_epoch:/);
});

test("oversized messages and metadata are refused", async () => {
  const huge = await grpcError(
    client.registerWorker({ workerId: "w", hostname: "h".repeat(5 * 1024 * 1024) }),
  );
  expect(huge.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
  const metadata = new Metadata();
  metadata.set("x-filler", "y".repeat(20_000));
  const error = await new Promise<ServiceError | null>((resolve) =>
    client.raw.heartbeat(
      { workerId: "valid-worker", timestampMs: 0n, status: undefined, resources: undefined },
      metadata,
      (e) => resolve(e),
    ),
  );
  expect(error?.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
});

test("ids with path characters never reach the file system: the coordinator never touches storage_path", async () => {
  const { writeFileSync, existsSync } = await import("node:fs");
  const { join } = await import("node:path");
  const victim = join(dataDir, "..", `victim-${process.pid}.txt`);
  writeFileSync(victim, "keep me");
  try {
    // Many steps so that any retention pruning runs; the original deleted the oldest storage_path.
    for (let step = 1; step <= 120; step++) {
      await client.notifyCheckpoint({
        workerId: "valid-worker",
        checkpointId: `c${step}`,
        step: BigInt(step),
        storagePath: step === 1 ? victim : `/nonexistent/${step}`,
        type: CheckpointType.FULL,
      });
    }
    expect(existsSync(victim)).toBe(true);
  } finally {
    const { rmSync } = await import("node:fs");
    rmSync(victim, { force: true });
  }
});
