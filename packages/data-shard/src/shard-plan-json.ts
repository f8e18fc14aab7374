import type { ShardPlan } from "./assign-shards.js";
import { compareIds, MAX_WORKERS } from "./assign-shards.js";
import { MAX_TOTAL_SHARDS } from "./dataset-geometry.js";
import { shuffledShardOrder } from "./shuffle.js";
import {
  invalidArgument,
  requireId,
  requireInteger,
  requireNumber,
  requireSeed,
} from "./validate.js";

/** Version tag of the serialised {@link ShardPlan}. */
export const SHARD_PLAN_VERSION = 1;

/**
 * JSON text of a plan, so the plan in force can be persisted (e.g. with coordinator state) and a
 * restarted process can keep re-planning in sticky mode (`previous`) instead of falling back to a
 * canonical plan. Owners are stored as base64 of little-endian int32 (4 bytes per shard).
 */
export function serializeShardPlan(plan: ShardPlan): string {
  const owners = Buffer.from(plan.owners.buffer, plan.owners.byteOffset, plan.owners.byteLength);
  return JSON.stringify({
    version: SHARD_PLAN_VERSION,
    datasetId: plan.datasetId,
    epoch: plan.epoch,
    seed: plan.seed.toString(),
    totalShards: plan.totalShards,
    epsilon: plan.epsilon,
    workerIds: plan.workerIds,
    minLoads: plan.workerIds.map((id) => plan.minLoads.get(id) ?? 0),
    maxLoads: plan.workerIds.map((id) => plan.maxLoads.get(id) ?? 0),
    owners: owners.toString("base64"),
  });
}

/**
 * Parses and validates {@link serializeShardPlan} output (text or parsed object) back into a
 * {@link ShardPlan}; per-worker lists are rebuilt in the plan epoch's order.
 *
 * @throws RuntimeError(InvalidArgument) naming the bad field.
 */
export function parseShardPlan(input: string | unknown): ShardPlan {
  let value: unknown = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (error) {
      return invalidArgument("shardPlan", `is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return invalidArgument("shardPlan", "must be a JSON object");
  }
  const o = value as Record<string, unknown>;
  if (o.version !== SHARD_PLAN_VERSION) {
    return invalidArgument("version", `must be ${SHARD_PLAN_VERSION}`, o.version);
  }
  const datasetId = requireId("datasetId", o.datasetId);
  const epoch = requireInteger("epoch", o.epoch, 0, Number.MAX_SAFE_INTEGER);
  if (typeof o.seed !== "string" || !/^[0-9]{1,20}$/.test(o.seed)) {
    return invalidArgument("seed", "must be a decimal integer string", o.seed);
  }
  const seed = requireSeed("seed", BigInt(o.seed));
  const totalShards = requireInteger("totalShards", o.totalShards, 0, MAX_TOTAL_SHARDS);
  const epsilon = requireNumber("epsilon", o.epsilon, 0, 1);
  if (!Array.isArray(o.workerIds) || o.workerIds.length === 0 || o.workerIds.length > MAX_WORKERS) {
    return invalidArgument("workerIds", `must be an array of 1 to ${MAX_WORKERS} ids`);
  }
  const workerIds = o.workerIds.map((id: unknown, i: number) => requireId(`workerIds[${i}]`, id));
  for (let i = 1; i < workerIds.length; i++) {
    if (compareIds(workerIds[i - 1] as string, workerIds[i] as string) >= 0) {
      return invalidArgument(`workerIds[${i}]`, "must be sorted and unique", workerIds[i]);
    }
  }
  const bounds = (field: string): number[] => {
    const list = o[field];
    if (!Array.isArray(list) || list.length !== workerIds.length) {
      return invalidArgument(field, `must be an array of ${workerIds.length} integers`);
    }
    return list.map((v: unknown, i: number) =>
      requireInteger(`${field}[${i}]`, v, 0, MAX_TOTAL_SHARDS),
    );
  };
  const minLoads = bounds("minLoads");
  const maxLoads = bounds("maxLoads");
  if (typeof o.owners !== "string") return invalidArgument("owners", "must be a base64 string");
  const bytes = Buffer.from(o.owners, "base64");
  if (bytes.length !== totalShards * 4) {
    return invalidArgument(
      "owners",
      `must hold ${totalShards} int32 values, got ${bytes.length} bytes`,
    );
  }
  const owners = new Int32Array(totalShards);
  for (let s = 0; s < totalShards; s++) {
    const owner = bytes.readInt32LE(s * 4);
    if (owner < -1 || owner >= workerIds.length) {
      return invalidArgument(
        `owners[${s}]`,
        `must be −1 or a worker index below ${workerIds.length}`,
        owner,
      );
    }
    owners[s] = owner;
  }
  const lists: number[][] = workerIds.map(() => []);
  const order = shuffledShardOrder(seed, datasetId, epoch, totalShards);
  for (let i = 0; i < order.length; i++) {
    const shardId = order[i] as number;
    const owner = owners[shardId] as number;
    if (owner >= 0) (lists[owner] as number[]).push(shardId);
  }
  return {
    datasetId,
    epoch,
    seed,
    totalShards,
    epsilon,
    workerIds,
    owners,
    shardsByWorker: new Map(workerIds.map((id, i) => [id, lists[i] as number[]])),
    loads: new Map(workerIds.map((id, i) => [id, (lists[i] as number[]).length])),
    maxLoads: new Map(workerIds.map((id, i) => [id, maxLoads[i] as number])),
    minLoads: new Map(workerIds.map((id, i) => [id, minLoads[i] as number])),
  };
}
