import type {
  BarrierRequest,
  CheckpointInfo,
  DatasetInfo,
  HeartbeatRequest,
  ResourceUsage as ProtoResourceUsage,
  WorkerInfo as ProtoWorkerInfo,
  RecoveryRequest,
  RestoreProgressRequest,
  ShardProgress,
  ShardRequest,
} from "@strata/proto";
import { CheckpointType, WorkerStatus_State } from "@strata/proto";
import type {
  CheckpointKind,
  DatasetSpec,
  ResourceUsage,
  SampleRange,
  WorkerState,
} from "@strata/runtime-core";
import type { RestoreProgressInput, ShardRequestInput } from "../engine/index.js";
import {
  boundedList,
  finite,
  int32,
  int64,
  invalidArgument,
  optionalId,
  requireId,
  stringMap,
  text,
} from "./field-validators.js";

/** The job a checkpoint or recovery request belongs to when it names none. */
export const DEFAULT_JOB_ID = "default";
/** Most shards one dataset may have; bounds the coordinator's per-epoch work and memory. */
export const MAX_TOTAL_SHARDS = 1_000_000;
/** Longest per-barrier timeout a client may ask for: one day, in ms. */
export const MAX_BARRIER_TIMEOUT_MS = 86_400_000;
/** Most GPUs one worker may report. */
export const MAX_GPUS = 256;

/** A validated RegisterWorker request. */
export interface RegisterWorkerInput {
  workerId: string;
  hostname: string;
  port: number;
  gpuCount: number;
  memoryBytes: number;
  metadata: Readonly<Record<string, string>>;
}

/**
 * A validated heartbeat. `state` is undefined when the worker sent an UNKNOWN or unrecognised
 * state: the heartbeat still counts for liveness, the recorded state stays as it was.
 * `progress` is undefined when the request had no `status` (then the state is `idle`, as in the
 * original). `resources` is undefined when not reported (the previous report is kept).
 */
export interface HeartbeatInput {
  workerId: string;
  timestampMs: number;
  state: WorkerState | undefined;
  progress: { step: number; epoch: number; task: string } | undefined;
  resources: ResourceUsage | undefined;
}

/** A validated GetDataShard / GetShardAssignments request: exactly what the engine takes. */
export type { ShardRequestInput };

/** A validated ReportShardProgress request. */
export interface ShardProgressInput {
  workerId: string;
  datasetId: string;
  epoch: number;
  shardId: number;
  consumed: readonly SampleRange[];
  /** 0 means "not checked". */
  membershipVersion: number;
}

/** A validated NotifyCheckpoint request. */
export interface CheckpointInput {
  workerId: string;
  checkpointId: string;
  jobId: string;
  step: number;
  epoch: number;
  storagePath: string;
  sizeBytes: number;
  timestampMs: number;
  kind: CheckpointKind;
  metadata: Readonly<Record<string, string>>;
  /**
   * The rank the client claims. 0 is taken as given when `world_size` is set (a client that
   * sends the world size knows its rank); otherwise 0 means "not sent" (old clients always send
   * 0) and the coordinator uses the worker's current rank.
   */
  rank: number | undefined;
  /** The step's membership size the client claims; undefined when 0 (not sent). */
  worldSize: number | undefined;
  /**
   * Neither `job_id` nor `world_size` was sent: a client that knows nothing of multi-rank steps
   * (the original's, or a DDP job where rank 0 saves the whole model). Its checkpoint is whole.
   */
  whole: boolean;
}

/** A validated WaitBarrier request. */
export interface BarrierInput {
  workerId: string;
  barrierId: string;
  step: number;
  /** undefined means the coordinator's default. */
  timeoutMs: number | undefined;
  /** Whether the answer lists the participants' ids. */
  includeParticipantIds: boolean;
}

/** A validated GetLatestCheckpoint request. */
export interface RecoveryInput {
  workerId: string;
  jobId: string;
}

const STATE_MAP: Readonly<Record<number, WorkerState>> = {
  [WorkerStatus_State.INITIALIZING]: "initializing",
  [WorkerStatus_State.IDLE]: "idle",
  [WorkerStatus_State.LOADING_DATA]: "loading_data",
  [WorkerStatus_State.TRAINING]: "training",
  [WorkerStatus_State.CHECKPOINTING]: "checkpointing",
  [WorkerStatus_State.RECOVERING]: "recovering",
  [WorkerStatus_State.ERROR]: "error",
};

const KIND_MAP: Readonly<Record<number, CheckpointKind>> = {
  [CheckpointType.FULL]: "full",
  [CheckpointType.INCREMENTAL]: "incremental",
  [CheckpointType.OPTIMIZER_ONLY]: "optimizer_only",
  [CheckpointType.MODEL_ONLY]: "model_only",
};

/** Maps a domain state to the proto enum (for answers and the dashboard). */
export function workerStateToProto(state: WorkerState): WorkerStatus_State {
  for (const [number, name] of Object.entries(STATE_MAP)) {
    if (name === state) return Number(number) as WorkerStatus_State;
  }
  return WorkerStatus_State.UNKNOWN;
}

/** Maps a domain checkpoint kind to the proto enum. */
export function checkpointKindToProto(kind: CheckpointKind): CheckpointType {
  for (const [number, name] of Object.entries(KIND_MAP)) {
    if (name === kind) return Number(number) as CheckpointType;
  }
  return CheckpointType.FULL;
}

/** RegisterWorker. */
export function parseRegisterWorker(request: ProtoWorkerInfo): RegisterWorkerInput {
  return {
    workerId: requireId(request.workerId, "worker_id"),
    hostname: text(request.hostname, "hostname", 255),
    port: int32(request.port, "port", 0, 65_535),
    gpuCount: int32(request.gpuCount, "gpu_count", 0, MAX_GPUS),
    memoryBytes: int64(request.memoryBytes, "memory_bytes"),
    metadata: stringMap(request.metadata, "metadata"),
  };
}

/** DeregisterWorker: only worker_id is read, as in the original. */
export function parseDeregisterWorker(request: ProtoWorkerInfo): { workerId: string } {
  return { workerId: requireId(request.workerId, "worker_id") };
}

function parseResources(resources: ProtoResourceUsage): ResourceUsage {
  const gpus = boundedList(resources.gpuUsage, "resources.gpu_usage", MAX_GPUS).map((gpu, i) => {
    const field = `resources.gpu_usage[${i}]`;
    return {
      gpuId: int32(gpu.gpuId, `${field}.gpu_id`, 0, MAX_GPUS * 16),
      utilizationPercent: finite(gpu.utilizationPercent, `${field}.utilization_percent`, 0, 100),
      memoryUsedBytes: int64(gpu.memoryUsedBytes, `${field}.memory_used_bytes`),
      memoryTotalBytes: int64(gpu.memoryTotalBytes, `${field}.memory_total_bytes`),
      temperatureCelsius: finite(
        gpu.temperatureCelsius,
        `${field}.temperature_celsius`,
        -273.15,
        1000,
      ),
    };
  });
  return {
    cpuPercent: finite(resources.cpuPercent, "resources.cpu_percent", 0, 1_000_000),
    memoryUsedBytes: int64(resources.memoryUsedBytes, "resources.memory_used_bytes"),
    gpus,
    diskReadBytes: int64(resources.diskReadBytes, "resources.disk_read_bytes"),
    diskWriteBytes: int64(resources.diskWriteBytes, "resources.disk_write_bytes"),
    networkRxBytes: int64(resources.networkRxBytes, "resources.network_rx_bytes"),
    networkTxBytes: int64(resources.networkTxBytes, "resources.network_tx_bytes"),
  };
}

/** Heartbeat and each StreamHeartbeats message. */
export function parseHeartbeat(request: HeartbeatRequest): HeartbeatInput {
  const workerId = requireId(request.workerId, "worker_id");
  const timestampMs = int64(request.timestampMs, "timestamp_ms");
  const status = request.status;
  let state: WorkerState | undefined;
  let progress: HeartbeatInput["progress"];
  if (status === undefined) {
    // The original treats an absent status as IDLE; old clients rely on it.
    state = "idle";
  } else {
    // UNKNOWN (0) and numbers this build does not know keep the recorded state.
    state = STATE_MAP[status.state];
    progress = {
      step: int64(status.currentStep, "status.current_step"),
      epoch: int64(status.currentEpoch, "status.current_epoch"),
      task: text(status.currentTask, "status.current_task", 1024),
    };
  }
  return {
    workerId,
    timestampMs,
    state,
    progress,
    resources: request.resources === undefined ? undefined : parseResources(request.resources),
  };
}

/** RegisterDataset. */
export function parseRegisterDataset(request: DatasetInfo): DatasetSpec {
  const datasetId = requireId(request.datasetId, "dataset_id");
  const totalSamples = int64(request.totalSamples, "total_samples", 1);
  const shardSize = int64(request.shardSize, "shard_size", 1);
  const totalShards = Math.ceil(totalSamples / shardSize);
  if (totalShards > MAX_TOTAL_SHARDS) {
    throw invalidArgument(
      "shard_size",
      `gives ${totalShards} shards for ${totalSamples} samples; at most ${MAX_TOTAL_SHARDS} are allowed`,
    );
  }
  return {
    datasetId,
    path: text(request.path, "path"),
    format: text(request.format, "format", 64),
    totalSamples,
    shardSize,
    shuffle: request.shuffle,
    seed: request.seed,
    metadata: stringMap(request.metadata, "metadata"),
  };
}

/** Shards in one GetShardAssignments page when the client asks for none (page_size 0). */
export const DEFAULT_PAGE_SIZE = 10_000;
/** Most shards in one GetShardAssignments page (keeps an answer inside the message size limit). */
export const MAX_PAGE_SIZE = 100_000;

/** GetDataShard, GetShardProgress: who, which dataset, which epoch. */
export function parseShardRequest(request: ShardRequest): ShardRequestInput {
  return {
    workerId: requireId(request.workerId, "worker_id"),
    datasetId: requireId(request.datasetId, "dataset_id"),
    epoch: int64(request.epoch, "epoch"),
  };
}

/**
 * GetShardAssignments: the request plus its page (`page_size` 0 = {@link DEFAULT_PAGE_SIZE},
 * capped at {@link MAX_PAGE_SIZE}; `page_token` from the previous page's `next_page_token`).
 */
export function parseShardPageRequest(request: ShardRequest): ShardRequestInput {
  const pageSize = int64(request.pageSize, "page_size", 0, Number.MAX_SAFE_INTEGER);
  const limit = pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
  const base = { ...parseShardRequest(request), offset: 0, limit };
  if (request.pageToken === "") return base;
  const token = parsePageToken(request.pageToken);
  return { ...base, offset: token.offset, expectMembershipVersion: token.membershipVersion };
}

/** The opaque page token: `<membership version>.<offset>`. */
export function pageToken(membershipVersion: number, offset: number): string {
  return `${membershipVersion}.${offset}`;
}

function parsePageToken(token: string): { membershipVersion: number; offset: number } {
  const match = /^(\d{1,15})\.(\d{1,15})$/.exec(token);
  if (match === null) {
    throw invalidArgument("page_token", "is not a token this coordinator handed out");
  }
  return { membershipVersion: Number(match[1]), offset: Number(match[2]) };
}

/** Most partly consumed shards a position may list (one or two per worker in practice). */
export const MAX_PARTIAL_SHARDS = 100_000;

/** RestoreShardProgress: the position's shape; the engine checks it against the dataset. */
export function parseRestoreProgress(request: RestoreProgressRequest): RestoreProgressInput {
  const workerId = requireId(request.workerId, "worker_id");
  const position = request.position;
  if (position === undefined) throw invalidArgument("position", "is required");
  const totalShards = int64(position.totalShards, "position.total_shards", 1, MAX_TOTAL_SHARDS);
  const partialShards = boundedList(
    position.partialShards,
    "position.partial_shards",
    MAX_PARTIAL_SHARDS,
  ).map((p, i) => {
    const field = `position.partial_shards[${i}]`;
    const shardId = int64(p.shardId, `${field}.shard_id`, 0, MAX_TOTAL_SHARDS - 1);
    const consumed = boundedList(p.consumed, `${field}.consumed`).map((r, j) => {
      const start = int64(r.start, `${field}.consumed[${j}].start`);
      const end = int64(r.end, `${field}.consumed[${j}].end`);
      if (end <= start) {
        throw invalidArgument(`${field}.consumed[${j}]`, "end must be greater than start");
      }
      return { start, end };
    });
    return { shardId, consumed };
  });
  return {
    workerId,
    position: {
      datasetId: requireId(position.datasetId, "position.dataset_id"),
      epoch: int64(position.epoch, "position.epoch"),
      totalShards,
      completeShards: position.completeShards,
      partialShards,
      consumedSamples: int64(position.consumedSamples, "position.consumed_samples"),
    },
  };
}

/**
 * ReportShardProgress. At least one range, each ordered within itself; a zero-length range
 * (`start == end`) consumes nothing and claims the shard (the engine's `upTo: start`), so a worker
 * can pin a shard before it reads the first sample.
 */
export function parseShardProgress(request: ShardProgress): ShardProgressInput {
  const workerId = requireId(request.workerId, "worker_id");
  const datasetId = requireId(request.datasetId, "dataset_id");
  const epoch = int64(request.epoch, "epoch");
  const shardId = int64(request.shardId, "shard_id", 0, MAX_TOTAL_SHARDS - 1);
  const ranges = boundedList(request.consumed, "consumed");
  if (ranges.length === 0) throw invalidArgument("consumed", "must list at least one range");
  const consumed = ranges.map((range, i) => {
    const start = int64(range.start, `consumed[${i}].start`);
    const end = int64(range.end, `consumed[${i}].end`);
    if (end < start) throw invalidArgument(`consumed[${i}]`, "end must not be less than start");
    return { start, end };
  });
  return {
    workerId,
    datasetId,
    epoch,
    shardId,
    consumed,
    membershipVersion: int64(request.membershipVersion, "membership_version"),
  };
}

/** NotifyCheckpoint. */
export function parseCheckpoint(request: CheckpointInfo): CheckpointInput {
  const kind = KIND_MAP[request.type];
  if (kind === undefined) throw invalidArgument("type", `unknown checkpoint type ${request.type}`);
  return {
    workerId: requireId(request.workerId, "worker_id"),
    checkpointId: requireId(request.checkpointId, "checkpoint_id"),
    jobId: optionalId(request.jobId, "job_id", DEFAULT_JOB_ID),
    step: int64(request.step, "step"),
    epoch: int64(request.epoch, "epoch"),
    storagePath: text(request.storagePath, "storage_path"),
    sizeBytes: int64(request.sizeBytes, "size_bytes"),
    timestampMs: int64(request.timestampMs, "timestamp_ms"),
    kind,
    metadata: stringMap(request.metadata, "metadata"),
    rank:
      request.rank === 0 && request.worldSize === 0
        ? undefined
        : int32(request.rank, "rank", 0, 1_000_000),
    worldSize:
      request.worldSize === 0 ? undefined : int32(request.worldSize, "world_size", 1, 1_000_000),
    whole: request.jobId === "" && request.worldSize === 0,
  };
}

/** WaitBarrier. */
export function parseBarrier(request: BarrierRequest): BarrierInput {
  const timeoutMs = int64(request.timeoutMs, "timeout_ms", 0, MAX_BARRIER_TIMEOUT_MS);
  return {
    workerId: requireId(request.workerId, "worker_id"),
    barrierId: requireId(request.barrierId, "barrier_id"),
    step: int64(request.step, "step"),
    timeoutMs: timeoutMs === 0 ? undefined : timeoutMs,
    includeParticipantIds: request.includeParticipantIds,
  };
}

/** GetLatestCheckpoint. */
export function parseRecovery(request: RecoveryRequest): RecoveryInput {
  return {
    workerId: requireId(request.workerId, "worker_id"),
    jobId: optionalId(request.jobId, "job_id", DEFAULT_JOB_ID),
  };
}
