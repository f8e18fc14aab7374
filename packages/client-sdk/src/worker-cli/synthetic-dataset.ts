import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { createSeededRandom, type SeededRandom } from "@strata/data-shard";
import { Code, RuntimeError } from "@strata/runtime-core";

/** What a generated dataset is: `dataset.json` next to its shard files. */
export interface SyntheticDatasetSpec {
  datasetId: string;
  totalSamples: number;
  shardSize: number;
  /** Features per sample (the label is stored after them). */
  features: number;
  /** Generator seed: the same seed writes the same bytes. */
  seed: number;
}

/** File format tag in `dataset.json`. */
export const SYNTHETIC_FORMAT = "strata-f32-rows-v1";

/**
 * A binary classification dataset written as real shard files: `shard-00000.bin` holds
 * `shardSize` rows of `features + 1` little-endian float32 values (features, then the 0/1
 * label). Features are standard normal; the label is drawn from a logistic model with hidden
 * weights, so logistic regression can learn it and its loss falls from ln 2 ≈ 0.693 to about 0.3.
 */
export class SyntheticDataset {
  readonly dir: string;
  readonly spec: SyntheticDatasetSpec;
  readonly totalShards: number;
  readonly #cache = new Map<number, Float32Array>();

  constructor(dir: string, spec: SyntheticDatasetSpec) {
    this.dir = dir;
    this.spec = spec;
    this.totalShards = Math.ceil(spec.totalSamples / spec.shardSize);
  }

  /** Path of one shard file. */
  shardPath(shardId: number): string {
    return path.join(this.dir, `shard-${String(shardId).padStart(5, "0")}.bin`);
  }

  /**
   * Reads sample `index` (features and label), loading its shard file on first use. Keeps the
   * two most recently used shards in memory.
   */
  async sample(index: number): Promise<{ features: Float32Array; label: number }> {
    const { shardSize, features } = this.spec;
    const shardId = Math.floor(index / shardSize);
    let rows = this.#cache.get(shardId);
    if (rows === undefined) {
      const bytes = await readFile(this.shardPath(shardId));
      const expected = shardLength(this.spec, shardId) * (features + 1) * 4;
      if (bytes.length !== expected) {
        throw new RuntimeError(
          `${this.shardPath(shardId)} has ${bytes.length} bytes, expected ${expected}; delete the dataset folder to regenerate it`,
          { code: Code.DataLoss, details: { shardId } },
        );
      }
      rows = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      this.#cache.set(shardId, rows);
      if (this.#cache.size > 2) this.#cache.delete(this.#cache.keys().next().value as number);
    }
    const offset = (index - shardId * shardSize) * (features + 1);
    return {
      features: rows.subarray(offset, offset + features),
      label: rows[offset + features] as number,
    };
  }
}

/**
 * Opens the dataset in `dir`, writing it first when absent (several processes may race to write
 * it: each shard is written to a private temporary file and renamed into place, and
 * `dataset.json` comes last). A folder holding a different dataset is `FailedPrecondition`.
 */
export async function ensureSyntheticDataset(
  dir: string,
  spec: SyntheticDatasetSpec,
  onProgress?: (written: number, total: number) => void,
): Promise<SyntheticDataset> {
  const dataset = new SyntheticDataset(dir, spec);
  const metaPath = path.join(dir, "dataset.json");
  const existing = await readFile(metaPath, "utf8").then(
    (text) => JSON.parse(text) as Record<string, unknown>,
    () => undefined,
  );
  if (existing !== undefined) {
    const differs = (Object.keys(spec) as (keyof SyntheticDatasetSpec)[]).filter(
      (k) => existing[k] !== spec[k],
    );
    if (differs.length > 0) {
      throw new RuntimeError(
        `${metaPath} describes a different dataset (differs in: ${differs.join(", ")}); use another --data-dir or delete it`,
        { code: Code.FailedPrecondition, details: { fields: differs } },
      );
    }
    return dataset;
  }
  await mkdir(dir, { recursive: true });
  const weights = hiddenWeights(spec);
  for (let shardId = 0; shardId < dataset.totalShards; shardId++) {
    const rows = generateShard(spec, weights, shardId);
    const target = dataset.shardPath(shardId);
    const tmp = `${target}.${process.pid}.tmp`;
    await writeFile(tmp, new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
    await rename(tmp, target).catch(async (error) => {
      await rm(tmp, { force: true });
      throw error;
    });
    onProgress?.(shardId + 1, dataset.totalShards);
  }
  const tmp = `${metaPath}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ ...spec, format: SYNTHETIC_FORMAT }, null, 2)}\n`);
  await rename(tmp, metaPath);
  return dataset;
}

/** Samples in shard `shardId` (the last shard may be shorter). */
export function shardLength(spec: SyntheticDatasetSpec, shardId: number): number {
  return Math.min(spec.shardSize, spec.totalSamples - shardId * spec.shardSize);
}

function hiddenWeights(spec: SyntheticDatasetSpec): Float64Array {
  const random = createSeededRandom(BigInt(spec.seed) * 1_000_003n + 17n);
  const w = new Float64Array(spec.features + 1);
  // Logits with a standard deviation of about 3: learnable, but not separable.
  const scale = 3 / Math.sqrt(spec.features);
  for (let i = 0; i < w.length; i++) w[i] = gaussian(random) * scale;
  return w;
}

function generateShard(spec: SyntheticDatasetSpec, w: Float64Array, shardId: number): Float32Array {
  const n = shardLength(spec, shardId);
  const f = spec.features;
  const rows = new Float32Array(n * (f + 1));
  const random = createSeededRandom((BigInt(spec.seed) << 20n) + BigInt(shardId));
  for (let r = 0; r < n; r++) {
    let logit = w[f] as number;
    for (let i = 0; i < f; i++) {
      const x = gaussian(random);
      rows[r * (f + 1) + i] = x;
      logit += x * (w[i] as number);
    }
    const p = 1 / (1 + Math.exp(-logit));
    rows[r * (f + 1) + f] = uniform(random) < p ? 1 : 0;
  }
  return rows;
}

function uniform(random: SeededRandom): number {
  return (random.nextUint32() + 0.5) / 4_294_967_296;
}

function gaussian(random: SeededRandom): number {
  return Math.sqrt(-2 * Math.log(uniform(random))) * Math.cos(2 * Math.PI * uniform(random));
}
