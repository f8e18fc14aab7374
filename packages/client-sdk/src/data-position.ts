import type { EpochPosition } from "@strata/proto";
import { Code, RuntimeError } from "@strata/runtime-core";

/**
 * One dataset epoch's data position as JSON (what a checkpoint stores): complete shards as a
 * base64 bitmap (bit i of byte i/8, least significant first) and partly consumed shards with
 * their consumed `[start, end)` position ranges.
 */
export interface DatasetPositionJson {
  datasetId: string;
  epoch: number;
  totalShards: number;
  completeShards: string;
  partialShards: { shardId: number; consumed: [number, number][] }[];
  consumedSamples: number;
}

/** The data position a Strata checkpoint keeps: every dataset the job reads, at its epoch. */
export interface DataPositionJson {
  /** Format version; 1. */
  strataDataPosition: 1;
  datasets: DatasetPositionJson[];
}

/** The proto position (from `GetShardProgress`) as JSON. */
export function positionToJson(position: EpochPosition): DatasetPositionJson {
  return {
    datasetId: position.datasetId,
    epoch: Number(position.epoch),
    totalShards: Number(position.totalShards),
    completeShards: Buffer.from(position.completeShards).toString("base64"),
    partialShards: position.partialShards.map((p) => ({
      shardId: Number(p.shardId),
      consumed: p.consumed.map((r): [number, number] => [Number(r.start), Number(r.end)]),
    })),
    consumedSamples: Number(position.consumedSamples),
  };
}

/** JSON back to the proto position (for `RestoreShardProgress`). */
export function positionFromJson(json: DatasetPositionJson): EpochPosition {
  return {
    datasetId: json.datasetId,
    epoch: BigInt(json.epoch),
    totalShards: BigInt(json.totalShards),
    completeShards: Buffer.from(json.completeShards, "base64"),
    partialShards: json.partialShards.map((p) => ({
      shardId: BigInt(p.shardId),
      consumed: p.consumed.map(([start, end]) => ({ start: BigInt(start), end: BigInt(end) })),
    })),
    consumedSamples: BigInt(json.consumedSamples),
    membershipVersion: 0n,
  };
}

/** An empty position: nothing of `epoch` consumed (a job starting from scratch). */
export function emptyPosition(
  datasetId: string,
  epoch: number,
  totalShards: number,
): DatasetPositionJson {
  return {
    datasetId,
    epoch,
    totalShards,
    completeShards: Buffer.alloc(Math.ceil(totalShards / 8)).toString("base64"),
    partialShards: [],
    consumedSamples: 0,
  };
}

/**
 * Validates a stored data position (it comes from a file someone could have edited): the shape
 * must match, or `DataLoss` names the field.
 */
export function parseDataPosition(value: unknown): DataPositionJson | undefined {
  if (value === null || value === undefined) return undefined;
  const bad = (field: string): never => {
    throw new RuntimeError(`checkpoint dataPosition.${field} is malformed`, {
      code: Code.DataLoss,
      details: { field: `dataPosition.${field}` },
    });
  };
  if (typeof value !== "object") return bad("");
  const v = value as Partial<DataPositionJson>;
  if (v.strataDataPosition !== 1) return undefined; // someone else's position format
  if (!Array.isArray(v.datasets)) return bad("datasets");
  v.datasets.forEach((d, i) => {
    if (typeof d?.datasetId !== "string") bad(`datasets[${i}].datasetId`);
    for (const key of ["epoch", "totalShards", "consumedSamples"] as const) {
      if (!Number.isSafeInteger(d[key]) || d[key] < 0) bad(`datasets[${i}].${key}`);
    }
    if (typeof d.completeShards !== "string") bad(`datasets[${i}].completeShards`);
    if (!Array.isArray(d.partialShards)) bad(`datasets[${i}].partialShards`);
    for (const p of d.partialShards) {
      if (!Number.isSafeInteger(p?.shardId) || !Array.isArray(p.consumed)) {
        bad(`datasets[${i}].partialShards`);
      }
      for (const r of p.consumed) {
        if (!Array.isArray(r) || !Number.isSafeInteger(r[0]) || !Number.isSafeInteger(r[1])) {
          bad(`datasets[${i}].partialShards.consumed`);
        }
      }
    }
  });
  return v as DataPositionJson;
}

/** Whether every shard of the position's epoch is consumed (all `totalShards` bits set). */
export function isPositionComplete(position: DatasetPositionJson): boolean {
  const bytes = Buffer.from(position.completeShards, "base64");
  let set = 0;
  for (const byte of bytes) {
    let b = byte;
    while (b !== 0) {
      set += b & 1;
      b >>>= 1;
    }
  }
  return position.totalShards > 0 && set >= position.totalShards;
}

/**
 * A complete epoch and the untouched next epoch are the same place in the data: the position of
 * a complete epoch becomes the empty position of the next one, so ranks that read "end of epoch
 * e" and ranks that read "start of epoch e + 1" agree.
 */
export function normalizePosition(position: DatasetPositionJson): DatasetPositionJson {
  return isPositionComplete(position)
    ? emptyPosition(position.datasetId, position.epoch + 1, position.totalShards)
    : position;
}
