import type {
  CheckpointInfo,
  EpochPosition,
  ShardAssignment as ProtoShardAssignment,
  ShardAssignmentList,
} from "@strata/proto";
import type { CheckpointRecord } from "@strata/runtime-core";
import type {
  EngineShardAssignment,
  EpochPositionResult,
  ShardAssignmentsResult,
} from "../engine/index.js";
import { checkpointKindToProto } from "../validation/parse-requests.js";

/** An engine shard (plain numbers) as the proto message (bigints). */
export function shardToProto(shard: EngineShardAssignment): ProtoShardAssignment {
  return {
    datasetId: shard.datasetId,
    shardId: BigInt(shard.shardId),
    totalShards: BigInt(shard.totalShards),
    startIndex: BigInt(shard.startIndex),
    endIndex: BigInt(shard.endIndex),
    filePaths: [...shard.filePaths],
    epoch: BigInt(shard.epoch),
    remainingRanges: shard.remainingRanges.map((r) => ({
      start: BigInt(r.start),
      end: BigInt(r.end),
    })),
    consumedSamples: BigInt(shard.consumedSamples),
  };
}

/** A worker's assignment list as the proto message. */
export function assignmentsToProto(result: ShardAssignmentsResult): ShardAssignmentList {
  return {
    workerId: result.workerId,
    datasetId: result.datasetId,
    epoch: BigInt(result.epoch),
    membershipVersion: BigInt(result.membershipVersion),
    totalShards: BigInt(result.totalShards),
    shards: result.assignments.map(shardToProto),
    nextPageToken: "",
    assignedShards: BigInt(result.assignedShards),
  };
}

/** A dataset epoch's data position as the proto message. */
export function positionToProto(position: EpochPositionResult): EpochPosition {
  return {
    datasetId: position.datasetId,
    epoch: BigInt(position.epoch),
    totalShards: BigInt(position.totalShards),
    completeShards: Buffer.from(
      position.completeShards.buffer,
      position.completeShards.byteOffset,
      position.completeShards.byteLength,
    ),
    partialShards: position.partialShards.map((p) => ({
      shardId: BigInt(p.shardId),
      consumed: p.consumed.map((r) => ({ start: BigInt(r.start), end: BigInt(r.end) })),
    })),
    consumedSamples: BigInt(position.consumedSamples),
    membershipVersion: BigInt(position.membershipVersion),
  };
}

/** A recorded checkpoint part as the proto message; `worldSize` is the step's rank count. */
export function checkpointToProto(record: CheckpointRecord, worldSize: number): CheckpointInfo {
  return {
    workerId: record.workerId,
    checkpointId: record.checkpointId,
    step: BigInt(record.step),
    epoch: BigInt(record.epoch),
    storagePath: record.storagePath,
    sizeBytes: BigInt(record.sizeBytes),
    timestampMs: BigInt(record.recordedAtMs),
    type: checkpointKindToProto(record.kind),
    metadata: { ...record.metadata },
    jobId: record.jobId,
    rank: record.rank,
    worldSize,
  };
}
