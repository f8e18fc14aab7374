import { Code, RuntimeError } from "@strata/runtime-core";
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, checksumOf } from "./checksum.js";
import { COMPRESSIONS, type Compression } from "./compression.js";

/**
 * The manifest format this version writes. Readers refuse newer formats with `FailedPrecondition`.
 * 2: each save attempt keeps its rank manifest in its own folder
 * (`rank-NNNNN/<attempt>/MANIFEST.json`, named by the step manifest's `manifestKey`), so a new
 * attempt at a step can supersede a partial one. 1: one rank manifest per rank
 * (`rank-NNNNN/MANIFEST.json`); still read.
 */
export const FORMAT_VERSION = 2;

/** How a typed array's elements are laid out, so a loader can rebuild the same view. */
export type Dtype =
  | "uint8"
  | "int8"
  | "uint8clamped"
  | "uint16"
  | "int16"
  | "uint32"
  | "int32"
  | "float32"
  | "float64"
  | "bigint64"
  | "biguint64"
  | "bytes";

export const DTYPES: readonly Dtype[] = [
  "uint8",
  "int8",
  "uint8clamped",
  "uint16",
  "int16",
  "uint32",
  "int32",
  "float32",
  "float64",
  "bigint64",
  "biguint64",
  "bytes",
];

/** One stored object, as a rank manifest records it. */
export interface ManifestObject {
  /** The caller's name for the buffer (`"model.layers.0.weight"`). */
  name: string;
  /** Storage key of the pack holding it, relative to the rank folder (`<attempt>/pack-00000.bin`). */
  key: string;
  /** Byte offset of its stored bytes inside the pack. */
  offset: number;
  /** Stored size in bytes (after compression). */
  sizeBytes: number;
  /** Checksum of the stored bytes. */
  checksum: string;
  algorithm: ChecksumAlgorithm;
  compression: Compression;
  /** Size of the caller's bytes before compression. */
  rawSizeBytes: number;
  /** The element type of the typed array saved (`bytes` for a plain Buffer/Uint8Array). */
  dtype: Dtype;
}

/** One rank's part of one step: written create-only after all its data objects. */
export interface RankManifest {
  formatVersion: number;
  kind: "rank";
  jobId: string;
  step: number;
  epoch: number;
  rank: number;
  worldSize: number;
  /** Random id of the save attempt that wrote the data. */
  attemptId: string;
  /** ms since the Unix epoch. */
  createdAtMs: number;
  objects: ManifestObject[];
  /** Sum of the objects' stored sizes, in bytes. */
  totalSizeBytes: number;
  /** Opaque JSON (the data loader's epoch position), `null` when not given. */
  dataPosition: unknown;
  /** The caller's JSON metadata. */
  metadata: Record<string, unknown>;
}

/** A rank's entry in a step manifest. */
export interface StepManifestRank {
  rank: number;
  /** Rank manifest key, relative to the step folder (`rank-00003/<attempt>/MANIFEST.json`). */
  manifestKey: string;
  /** The save attempt whose data the rank committed: everything else in the rank folder is an orphan. */
  attemptId: string;
  /** Checksum (XXH3-64) of the rank manifest's stored bytes. */
  manifestChecksum: string;
  totalSizeBytes: number;
  objectCount: number;
}

/** The step manifest: the step is complete (and visible to readers) once this exists. */
export interface StepManifest {
  formatVersion: number;
  kind: "step";
  jobId: string;
  step: number;
  epoch: number;
  worldSize: number;
  createdAtMs: number;
  ranks: StepManifestRank[];
  totalSizeBytes: number;
  dataPosition: unknown;
  metadata: Record<string, unknown>;
}

/**
 * Serialises a manifest with a self-checksum: `manifestChecksum` is the XXH3-64 of the compact JSON
 * of every other field, in order. A reader re-serialises the parsed fields and compares, so a
 * flipped byte anywhere in the manifest is caught, even one that still parses.
 */
export function encodeManifest(manifest: RankManifest | StepManifest): Uint8Array {
  const body = JSON.stringify(manifest);
  const withChecksum = { ...manifest, manifestChecksum: checksumOf(body) };
  return Buffer.from(`${JSON.stringify(withChecksum, null, 2)}\n`, "utf8");
}

function decodeJson(bytes: Uint8Array, key: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8"));
  } catch (error) {
    throw corrupt(key, "it is not valid JSON", error);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw corrupt(key, "it is not a JSON object");
  }
  const record = parsed as Record<string, unknown>;
  const { manifestChecksum, ...body } = record;
  if (typeof manifestChecksum !== "string") throw corrupt(key, "manifestChecksum is missing");
  if (checksumOf(JSON.stringify(body)) !== manifestChecksum) {
    throw corrupt(key, "its self-checksum does not match (the manifest was modified or damaged)");
  }
  const version = body.formatVersion;
  if (typeof version !== "number") throw corrupt(key, "formatVersion is missing");
  if (version > FORMAT_VERSION) {
    throw new RuntimeError(
      `manifest ${key} has format version ${version}; this reader understands up to ${FORMAT_VERSION}`,
      { code: Code.FailedPrecondition, details: { key } },
    );
  }
  return body;
}

/** Parses and checks a rank manifest read from `key`. Any defect is `DataLoss`. */
export function decodeRankManifest(bytes: Uint8Array, key: string): RankManifest {
  const body = decodeJson(bytes, key);
  const check = new FieldChecker(key, body);
  const objects = check.array("objects").map((value, i) => {
    const o = new FieldChecker(`${key} objects[${i}]`, asRecord(value, `${key} objects[${i}]`));
    const compression = o.string("compression");
    if (!COMPRESSIONS.includes(compression as Compression))
      throw corrupt(key, `objects[${i}].compression ${JSON.stringify(compression)} is unknown`);
    const algorithm = o.string("algorithm");
    if (!CHECKSUM_ALGORITHMS.includes(algorithm as ChecksumAlgorithm))
      throw corrupt(key, `objects[${i}].algorithm ${JSON.stringify(algorithm)} is unknown`);
    const dtype = o.string("dtype");
    if (!DTYPES.includes(dtype as Dtype))
      throw corrupt(key, `objects[${i}].dtype ${JSON.stringify(dtype)} is unknown`);
    return {
      name: o.string("name"),
      key: o.string("key"),
      offset: o.count("offset"),
      sizeBytes: o.count("sizeBytes"),
      checksum: o.string("checksum"),
      algorithm: algorithm as ChecksumAlgorithm,
      compression: compression as Compression,
      rawSizeBytes: o.count("rawSizeBytes"),
      dtype: dtype as Dtype,
    } satisfies ManifestObject;
  });
  if (body.kind !== "rank") throw corrupt(key, `kind ${JSON.stringify(body.kind)} is not "rank"`);
  return {
    formatVersion: check.count("formatVersion"),
    kind: "rank",
    jobId: check.string("jobId"),
    step: check.count("step"),
    epoch: check.count("epoch"),
    rank: check.count("rank"),
    worldSize: check.count("worldSize"),
    attemptId: check.string("attemptId"),
    createdAtMs: check.count("createdAtMs"),
    objects,
    totalSizeBytes: check.count("totalSizeBytes"),
    dataPosition: body.dataPosition ?? null,
    metadata: asRecord(body.metadata ?? {}, `${key} metadata`),
  };
}

/** Parses and checks a step manifest read from `key`. Any defect is `DataLoss`. */
export function decodeStepManifest(bytes: Uint8Array, key: string): StepManifest {
  const body = decodeJson(bytes, key);
  const check = new FieldChecker(key, body);
  const ranks = check.array("ranks").map((value, i) => {
    const r = new FieldChecker(`${key} ranks[${i}]`, asRecord(value, `${key} ranks[${i}]`));
    return {
      rank: r.count("rank"),
      manifestKey: r.string("manifestKey"),
      attemptId: r.string("attemptId"),
      manifestChecksum: r.string("manifestChecksum"),
      totalSizeBytes: r.count("totalSizeBytes"),
      objectCount: r.count("objectCount"),
    } satisfies StepManifestRank;
  });
  if (body.kind !== "step") throw corrupt(key, `kind ${JSON.stringify(body.kind)} is not "step"`);
  const manifest: StepManifest = {
    formatVersion: check.count("formatVersion"),
    kind: "step",
    jobId: check.string("jobId"),
    step: check.count("step"),
    epoch: check.count("epoch"),
    worldSize: check.count("worldSize"),
    createdAtMs: check.count("createdAtMs"),
    ranks,
    totalSizeBytes: check.count("totalSizeBytes"),
    dataPosition: body.dataPosition ?? null,
    metadata: asRecord(body.metadata ?? {}, `${key} metadata`),
  };
  if (manifest.ranks.length !== manifest.worldSize || manifest.ranks.some((r, i) => r.rank !== i)) {
    throw corrupt(key, `it must list ranks 0..${manifest.worldSize - 1} in order`);
  }
  return manifest;
}

function corrupt(key: string, why: string, cause?: unknown): RuntimeError {
  return new RuntimeError(`checkpoint manifest ${key} is corrupt: ${why}`, {
    code: Code.DataLoss,
    cause,
    details: { key },
  });
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw corrupt(where, "expected a JSON object");
  }
  return value as Record<string, unknown>;
}

class FieldChecker {
  constructor(
    readonly where: string,
    readonly record: Record<string, unknown>,
  ) {}

  string(field: string): string {
    const value = this.record[field];
    if (typeof value !== "string") throw corrupt(this.where, `${field} must be a string`);
    return value;
  }

  count(field: string): number {
    const value = this.record[field];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw corrupt(this.where, `${field} must be a non-negative integer`);
    }
    return value;
  }

  array(field: string): unknown[] {
    const value = this.record[field];
    if (!Array.isArray(value)) throw corrupt(this.where, `${field} must be an array`);
    return value;
  }
}
