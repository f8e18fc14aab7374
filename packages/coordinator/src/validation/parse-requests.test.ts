import { CheckpointType, WorkerStatus_State } from "@strata/proto";
import { Code, RuntimeError } from "@strata/runtime-core";
import {
  parseBarrier,
  parseCheckpoint,
  parseHeartbeat,
  parseRegisterDataset,
  parseRegisterWorker,
  parseShardProgress,
} from "./parse-requests.js";

function failure(fn: () => unknown): RuntimeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof RuntimeError) return error;
    throw error;
  }
  throw new Error("expected a RuntimeError");
}

const worker = {
  workerId: "w-1",
  hostname: "host",
  port: 50052,
  gpuCount: 4,
  memoryBytes: 32n * 2n ** 30n,
  metadata: { zone: "a" },
};

describe("parseRegisterWorker", () => {
  test("accepts a valid request and converts int64 to number", () => {
    expect(parseRegisterWorker(worker)).toEqual({ ...worker, memoryBytes: 32 * 2 ** 30 });
  });

  test.each([
    [{ workerId: "" }, "worker_id: is required"],
    [{ workerId: "x".repeat(129) }, "worker_id: must be at most 128 characters"],
    [{ workerId: "../etc/passwd" }, "worker_id: may only contain"],
    [{ port: 70000 }, "port: must be at most 65535"],
    [{ port: -1 }, "port: must not be negative"],
    [{ memoryBytes: -5n }, "memory_bytes: must not be negative"],
    [{ memoryBytes: 2n ** 60n }, "memory_bytes: must be at most"],
    [{ hostname: "a\nb" }, "hostname: must not contain control characters"],
  ])("rejects %p", (patch, message) => {
    const error = failure(() => parseRegisterWorker({ ...worker, ...patch }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toContain(message);
  });

  test("bounds metadata size", () => {
    const metadata = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
    expect(failure(() => parseRegisterWorker({ ...worker, metadata })).rawMessage).toMatch(
      /^metadata: must have at most 64 entries/,
    );
    expect(
      failure(() => parseRegisterWorker({ ...worker, metadata: { k: "v".repeat(2000) } }))
        .rawMessage,
    ).toMatch(/^metadata\["k"\]: must be at most 1024/);
  });
});

describe("parseHeartbeat", () => {
  const base = { workerId: "w", timestampMs: 1n, status: undefined, resources: undefined };

  test("absent status means idle and no progress", () => {
    expect(parseHeartbeat(base)).toMatchObject({ state: "idle", progress: undefined });
  });

  test("UNKNOWN and unrecognised states keep the recorded state", () => {
    const status = {
      state: WorkerStatus_State.UNKNOWN,
      currentStep: 3n,
      currentEpoch: 1n,
      currentTask: "t",
    };
    expect(parseHeartbeat({ ...base, status }).state).toBeUndefined();
    expect(
      parseHeartbeat({ ...base, status: { ...status, state: 42 as WorkerStatus_State } }).state,
    ).toBeUndefined();
    expect(
      parseHeartbeat({ ...base, status: { ...status, state: WorkerStatus_State.TRAINING } }),
    ).toMatchObject({
      state: "training",
      progress: { step: 3, epoch: 1, task: "t" },
    });
  });

  test("names nested fields", () => {
    const status = { state: 4, currentStep: -1n, currentEpoch: 0n, currentTask: "" };
    expect(failure(() => parseHeartbeat({ ...base, status })).rawMessage).toMatch(
      /^status.current_step:/,
    );
    const resources = {
      cpuPercent: Number.NaN,
      memoryUsedBytes: 0n,
      gpuUsage: [],
      diskReadBytes: 0n,
      diskWriteBytes: 0n,
      networkRxBytes: 0n,
      networkTxBytes: 0n,
    };
    expect(failure(() => parseHeartbeat({ ...base, resources })).rawMessage).toMatch(
      /^resources.cpu_percent:/,
    );
    const gpu = {
      gpuId: 0,
      utilizationPercent: 120,
      memoryUsedBytes: 0n,
      memoryTotalBytes: 0n,
      temperatureCelsius: 50,
    };
    expect(
      failure(() =>
        parseHeartbeat({ ...base, resources: { ...resources, cpuPercent: 1, gpuUsage: [gpu] } }),
      ).rawMessage,
    ).toMatch(/^resources.gpu_usage\[0\].utilization_percent:/);
  });
});

describe("parseRegisterDataset", () => {
  const dataset = {
    datasetId: "d",
    path: "/data",
    format: "parquet",
    totalSamples: 100n,
    shardSize: 10n,
    shuffle: true,
    seed: -3n,
    metadata: {},
  };
  test("keeps the seed as bigint (negative allowed)", () => {
    expect(parseRegisterDataset(dataset)).toMatchObject({
      totalSamples: 100,
      shardSize: 10,
      seed: -3n,
    });
  });
  test("shard_size 0 and too many shards are refused", () => {
    expect(failure(() => parseRegisterDataset({ ...dataset, shardSize: 0n })).rawMessage).toMatch(
      /^shard_size: must be at least 1/,
    );
    expect(
      failure(() => parseRegisterDataset({ ...dataset, totalSamples: 2n ** 52n, shardSize: 1n }))
        .rawMessage,
    ).toMatch(/^shard_size: gives/);
  });
});

describe("other requests", () => {
  test("shard progress ranges must be ordered", () => {
    const request = {
      workerId: "w",
      datasetId: "d",
      epoch: 0n,
      shardId: 0n,
      consumed: [{ start: 5n, end: 4n }],
      membershipVersion: 0n,
    };
    expect(failure(() => parseShardProgress(request)).rawMessage).toBe(
      "consumed[0]: end must not be less than start",
    );
    // A zero-length range is a claim: it consumes nothing and pins the shard.
    expect(parseShardProgress({ ...request, consumed: [{ start: 5n, end: 5n }] }).consumed).toEqual(
      [{ start: 5, end: 5 }],
    );
    expect(failure(() => parseShardProgress({ ...request, consumed: [] })).rawMessage).toMatch(
      /^consumed:/,
    );
  });

  test("checkpoint type must be known; job_id defaults; rank 0 means unset unless world_size is sent", () => {
    const info = {
      workerId: "w",
      checkpointId: "c",
      step: 1n,
      epoch: 0n,
      storagePath: "/ckpt",
      sizeBytes: 1n,
      timestampMs: 0n,
      type: CheckpointType.FULL,
      metadata: {},
      jobId: "",
      rank: 0,
      worldSize: 0,
    };
    expect(parseCheckpoint(info)).toMatchObject({
      jobId: "default",
      kind: "full",
      rank: undefined,
      whole: true,
    });
    // With the world size sent, rank 0 is rank 0 (a DDP job's rank 0 after a restart).
    expect(parseCheckpoint({ ...info, worldSize: 3 })).toMatchObject({
      rank: 0,
      worldSize: 3,
      whole: false,
    });
    expect(parseCheckpoint({ ...info, jobId: "j" })).toMatchObject({ whole: false });
    expect(failure(() => parseCheckpoint({ ...info, type: 9 as CheckpointType })).rawMessage).toBe(
      "type: unknown checkpoint type 9",
    );
  });

  test("barrier timeout 0 means default and is bounded", () => {
    const request = {
      workerId: "w",
      barrierId: "b",
      step: 0n,
      timeoutMs: 0n,
      includeParticipantIds: false,
    };
    expect(parseBarrier(request).timeoutMs).toBeUndefined();
    expect(failure(() => parseBarrier({ ...request, timeoutMs: 10n ** 12n })).rawMessage).toMatch(
      /^timeout_ms:/,
    );
  });
});
