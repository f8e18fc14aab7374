import {
  type ChannelCredentials,
  credentials,
  type CallOptions as GrpcCallOptions,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import type {
  BarrierResponse,
  CheckpointAck,
  CheckpointInfo,
  DatasetAck,
  DatasetInfo,
  HeartbeatRequest,
  HeartbeatResponse,
  RecoveryResponse,
  ShardAssignment,
  ShardAssignmentList,
  ShardProgress,
  ShardProgressAck,
  WorkerConfig,
  WorkerInfo,
} from "@strata/proto";
import { CheckpointType, CoordinatorClient, WorkerStatus_State } from "@strata/proto";

type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<GrpcCallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

/** A promise-returning wrapper over the generated client, for tests. */
export interface TestClient {
  readonly raw: CoordinatorClient;
  registerWorker(request: Partial<WorkerInfo>): Promise<WorkerConfig>;
  deregisterWorker(workerId: string): Promise<WorkerConfig>;
  heartbeat(request: Partial<HeartbeatRequest>): Promise<HeartbeatResponse>;
  registerDataset(request: Partial<DatasetInfo>): Promise<DatasetAck>;
  getDataShard(workerId: string, datasetId: string, epoch: number): Promise<ShardAssignment>;
  getShardAssignments(
    workerId: string,
    datasetId: string,
    epoch: number,
  ): Promise<ShardAssignmentList>;
  reportShardProgress(request: Partial<ShardProgress>): Promise<ShardProgressAck>;
  notifyCheckpoint(request: Partial<CheckpointInfo>): Promise<CheckpointAck>;
  getLatestCheckpoint(workerId: string, jobId?: string): Promise<RecoveryResponse>;
  waitBarrier(
    workerId: string,
    barrierId: string,
    options?: { step?: number; timeoutMs?: number; deadlineMs?: number; ids?: boolean },
  ): Promise<BarrierResponse>;
  close(): void;
}

/** Options for {@link connect}. */
export interface ConnectOptions {
  token?: string;
  credentials?: ChannelCredentials;
  /** grpc-js channel options (e.g. ssl target name override). */
  channelOptions?: Record<string, string | number>;
}

/** Connects a test client to `address`. */
export function connect(address: string, options: ConnectOptions = {}): TestClient {
  const raw = new CoordinatorClient(
    address,
    options.credentials ?? credentials.createInsecure(),
    options.channelOptions ?? {},
  );
  const metadata = () => {
    const m = new Metadata();
    if (options.token !== undefined) m.set("authorization", `Bearer ${options.token}`);
    return m;
  };
  function call<Req, Res>(
    method: Unary<Req, Res>,
    request: Req,
    deadlineMs = 10_000,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(
        raw,
        request,
        metadata(),
        { deadline: Date.now() + deadlineMs },
        (error, response) => {
          if (error) reject(error);
          else resolve(response);
        },
      );
    });
  }
  return {
    raw,
    registerWorker: (r) =>
      call(raw.registerWorker as Unary<WorkerInfo, WorkerConfig>, {
        workerId: "",
        hostname: "test-host",
        port: 0,
        gpuCount: 0,
        memoryBytes: 0n,
        metadata: {},
        ...r,
      }),
    deregisterWorker: (workerId) =>
      call(raw.deregisterWorker as Unary<WorkerInfo, WorkerConfig>, {
        workerId,
        hostname: "",
        port: 0,
        gpuCount: 0,
        memoryBytes: 0n,
        metadata: {},
      }),
    heartbeat: (r) =>
      call(raw.heartbeat as Unary<HeartbeatRequest, HeartbeatResponse>, {
        workerId: "",
        timestampMs: BigInt(Date.now()),
        status: undefined,
        resources: undefined,
        ...r,
      }),
    registerDataset: (r) =>
      call(raw.registerDataset as Unary<DatasetInfo, DatasetAck>, {
        datasetId: "",
        path: "/data",
        format: "parquet",
        totalSamples: 0n,
        shardSize: 0n,
        shuffle: false,
        seed: 0n,
        metadata: {},
        ...r,
      }),
    getDataShard: (workerId, datasetId, epoch) =>
      call(raw.getDataShard as Unary<unknown, ShardAssignment>, {
        workerId,
        datasetId,
        epoch: BigInt(epoch),
        pageSize: 0n,
        pageToken: "",
      }),
    getShardAssignments: (workerId, datasetId, epoch) =>
      call(raw.getShardAssignments as Unary<unknown, ShardAssignmentList>, {
        workerId,
        datasetId,
        epoch: BigInt(epoch),
        pageSize: 0n,
        pageToken: "",
      }),
    reportShardProgress: (r) =>
      call(raw.reportShardProgress as Unary<ShardProgress, ShardProgressAck>, {
        workerId: "",
        datasetId: "",
        epoch: 0n,
        shardId: 0n,
        consumed: [],
        membershipVersion: 0n,
        ...r,
      }),
    notifyCheckpoint: (r) =>
      call(raw.notifyCheckpoint as Unary<CheckpointInfo, CheckpointAck>, {
        workerId: "",
        checkpointId: "",
        step: 0n,
        epoch: 0n,
        storagePath: "",
        sizeBytes: 0n,
        timestampMs: BigInt(Date.now()),
        type: CheckpointType.FULL,
        metadata: {},
        jobId: "",
        rank: 0,
        worldSize: 0,
        ...r,
      }),
    getLatestCheckpoint: (workerId, jobId = "") =>
      call(raw.getLatestCheckpoint as Unary<unknown, RecoveryResponse>, { workerId, jobId }),
    waitBarrier: (workerId, barrierId, o = {}) =>
      call(
        raw.waitBarrier as Unary<unknown, BarrierResponse>,
        {
          workerId,
          barrierId,
          step: BigInt(o.step ?? 0),
          timeoutMs: BigInt(o.timeoutMs ?? 0),
          includeParticipantIds: o.ids ?? true,
        },
        o.deadlineMs ?? 30_000,
      ),
    close: () => raw.close(),
  };
}

/** A heartbeat status. */
export function status(state: WorkerStatus_State, step = 0, epoch = 0, task = "") {
  return { state, currentStep: BigInt(step), currentEpoch: BigInt(epoch), currentTask: task };
}

/** Awaits a rejected gRPC call and returns its error. */
export async function grpcError(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error("expected the call to fail");
}

export { WorkerStatus_State };
