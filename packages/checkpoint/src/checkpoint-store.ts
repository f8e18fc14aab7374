import {
  type CallOptions,
  type Clock,
  Code,
  type Logger,
  RuntimeError,
} from "@strata/runtime-core";
import type { ObjectInfo, StorageBackend } from "@strata/storage";
import { type CheckpointInfo, infoFromStep } from "./checkpoint-listing.js";
import { checksumOf } from "./checksum.js";
import type { CheckpointLayout } from "./layout.js";
import {
  decodeRankManifest,
  decodeStepManifest,
  type ManifestObject,
  type RankManifest,
  type StepManifest,
  type StepManifestRank,
} from "./manifest.js";
import { mapConcurrent } from "./map-concurrent.js";
import { readObject } from "./object-io.js";
import {
  type RankScan,
  rankManifestsNewestFirst,
  type StepScan,
  scanJob,
  scanPrefix,
} from "./step-scan.js";

export type { CheckpointInfo } from "./checkpoint-listing.js";

/** A problem `verify` found. */
export interface VerifyProblem {
  /** The storage key at fault. */
  key: string;
  message: string;
}

/** What `verify` found for one step. */
export interface VerifyReport {
  step: number;
  ok: boolean;
  problems: VerifyProblem[];
  objectCount: number;
  /** Stored bytes read and checked. */
  verifiedBytes: number;
  /** Stored bytes the manifests record. */
  totalBytes: number;
}

/** Options for `verify`. */
export interface VerifyOptions extends CallOptions {
  /** Called as bytes are checked: stored bytes done so far, and the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Objects read at once. Default 4. */
  concurrency?: number;
}

/** A loaded rank part of a checkpoint, checked byte for byte against its manifest. */
export interface LoadedCheckpoint {
  jobId: string;
  step: number;
  epoch: number;
  rank: number;
  worldSize: number;
  /** The raw (decompressed) bytes of every buffer, by name. Use `toTypedArray(bytes, dtype)` to view them. */
  buffers: Record<string, Uint8Array>;
  /** The manifest entries (dtype, sizes, checksums), in save order. */
  objects: ManifestObject[];
  dataPosition: unknown;
  metadata: Record<string, unknown>;
  createdAtMs: number;
}

/** Options for `load`. */
export interface LoadOptions extends CallOptions {
  /** Which rank's part to load. Default: the manager's rank. */
  rank?: number;
  /** Objects read at once. Default 4. */
  concurrency?: number;
}

/** Every manifest of one step. */
export interface CheckpointDescription {
  step: StepManifest;
  ranks: RankManifest[];
}

/** Result of committing a step manifest. */
export interface StepCommit {
  manifest: StepManifest;
  /** False when another process had already committed the step (not an error). */
  created: boolean;
}

/** A step manifest as read: the parsed manifest, and the checksum of its stored bytes. */
export interface ReadStep {
  manifest: StepManifest;
  bytesChecksum: string;
}

/**
 * The read side of a job's checkpoints (listing is in `checkpoint-listing.ts`, committing a step
 * in `step-commit.ts`). It keeps no index: every answer comes from
 * listing and reading storage, so a fresh process (or the CLI) sees exactly what a long-lived one
 * sees. It caches only what cannot change: step manifests it has read (by step and stored
 * version) and which steps it has verified in full.
 * @internal Used by {@link CheckpointManager} and retention; not exported from the package.
 */
export class CheckpointStore {
  readonly #verified = new Set<string>();
  /** Step manifests read, by step; reused while the listing shows the same stored version. */
  readonly #stepManifests = new Map<number, { version: string; read: ReadStep }>();

  constructor(
    readonly storage: StorageBackend,
    readonly layout: CheckpointLayout,
    readonly jobId: string,
    readonly clock: Clock,
    readonly logger: Logger,
  ) {}

  /** Remembers that a step manifest (by its bytes' checksum) was verified, e.g. right after we wrote it. */
  markVerified(step: number, stepManifestChecksum: string): void {
    this.#verified.add(`${step}:${stepManifestChecksum}`);
  }

  /** Whether this process verified (or wrote) exactly this step manifest. */
  isVerified(step: number, stepManifestChecksum: string): boolean {
    return this.#verified.has(`${step}:${stepManifestChecksum}`);
  }

  /** Lists the whole job, grouped by step, rank and attempt. */
  scan(options: CallOptions = {}): Promise<Map<number, StepScan>> {
    return scanJob(this.storage, this.layout, signalOnly(options));
  }

  /** Lists one step. */
  async scanStep(step: number, options: CallOptions = {}): Promise<StepScan> {
    const scan = await scanPrefix(
      this.storage,
      this.layout,
      this.layout.stepDir(step),
      signalOnly(options),
    );
    return scan.get(step) ?? { step, ranks: new Map() };
  }

  async readStepManifest(step: number, options: CallOptions = {}): Promise<ReadStep | undefined> {
    const key = this.layout.stepManifestKey(step);
    const bytes = await getOrUndefined(this.storage, key, options);
    if (bytes === undefined) return undefined;
    const manifest = decodeStepManifest(bytes, key);
    if (manifest.step !== step) {
      throw new RuntimeError(
        `checkpoint manifest ${key} is corrupt: it records step ${manifest.step}`,
        {
          code: Code.DataLoss,
          details: { key },
        },
      );
    }
    return { manifest, bytesChecksum: checksumOf(bytes) };
  }

  /**
   * The step manifest a listing found, read once per stored version (a manifest never changes
   * once written, so a long-lived process reads each one once).
   */
  async cachedStepManifest(
    step: number,
    info: ObjectInfo,
    options: CallOptions = {},
  ): Promise<ReadStep | undefined> {
    const version = `${info.etag ?? ""}:${info.sizeBytes}:${info.modifiedAtMs}`;
    const cached = this.#stepManifests.get(step);
    if (cached?.version === version) return cached.read;
    const read = await this.readStepManifest(step, options);
    if (read === undefined) this.#stepManifests.delete(step);
    else this.#stepManifests.set(step, { version, read });
    return read;
  }

  /** Forgets a step's cached manifest (retention deleted it). */
  forget(step: number): void {
    this.#stepManifests.delete(step);
  }

  /**
   * Reads the rank manifest a step manifest names, checking it against the checksum the step
   * manifest records and that it is the attempt the step manifest names.
   */
  async readCommittedRankManifest(
    step: number,
    entry: StepManifestRank,
    options: CallOptions = {},
  ): Promise<RankManifest> {
    const key = this.layout.resolve(this.layout.stepDir(step), entry.manifestKey);
    const bytes = await getOrUndefined(this.storage, key, options);
    if (bytes === undefined) {
      throw new RuntimeError(`checkpoint manifest ${key} is missing`, {
        code: Code.DataLoss,
        details: { key },
      });
    }
    if (checksumOf(bytes) !== entry.manifestChecksum) {
      throw new RuntimeError(
        `checkpoint manifest ${key} does not match the checksum its step manifest records`,
        { code: Code.DataLoss, details: { key } },
      );
    }
    const manifest = decodeRankManifest(bytes, key);
    if (
      manifest.step !== step ||
      manifest.rank !== entry.rank ||
      manifest.attemptId !== entry.attemptId
    ) {
      throw new RuntimeError(
        `checkpoint manifest ${key} is corrupt: it records step ${manifest.step} rank ${manifest.rank} attempt ${manifest.attemptId}`,
        { code: Code.DataLoss, details: { key } },
      );
    }
    return manifest;
  }

  /** Reads and checks a rank manifest by key (one attempt's, or a format-1 one). */
  async readRankManifestAt(
    key: string,
    step: number,
    rank: number,
    options: CallOptions = {},
  ): Promise<{ manifest: RankManifest; bytes: Uint8Array } | undefined> {
    const bytes = await getOrUndefined(this.storage, key, options);
    if (bytes === undefined) return undefined;
    const manifest = decodeRankManifest(bytes, key);
    if (manifest.step !== step || manifest.rank !== rank) {
      throw new RuntimeError(
        `checkpoint manifest ${key} is corrupt: it records step ${manifest.step} rank ${manifest.rank}`,
        { code: Code.DataLoss, details: { key } },
      );
    }
    return { manifest, bytes };
  }

  /** The newest rank manifest of a rank that parses, or undefined. */
  /** @internal */
  async newestReadableManifest(
    step: number,
    r: RankScan,
    options: CallOptions,
  ): Promise<{ manifest: RankManifest; bytes: Uint8Array; key: string } | undefined> {
    for (const info of rankManifestsNewestFirst(r)) {
      try {
        const read = await this.readRankManifestAt(info.key, step, r.rank, options);
        if (read !== undefined) return { ...read, key: info.key };
      } catch (error) {
        const e = RuntimeError.from(error);
        if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
        this.logger.warn({ step, key: info.key, err: e }, "skipping an unreadable rank manifest");
      }
    }
    return undefined;
  }

  /**
   * One rank's part of a committed step, checked without reading data: its rank manifest (by the
   * checksum the step manifest records) and the sizes of its packs. `problem` says what is wrong.
   */
  async committedPart(
    step: number,
    rank: number,
    options: CallOptions = {},
  ): Promise<{
    manifest?: RankManifest;
    rankManifestKey: string;
    worldSize: number;
    problem?: string;
  }> {
    const stepDir = this.layout.stepDir(step);
    let read: ReadStep | undefined;
    try {
      read = await this.readStepManifest(step, options);
    } catch (error) {
      const e = RuntimeError.from(error);
      if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
      return { rankManifestKey: "", worldSize: 0, problem: e.rawMessage };
    }
    const entry = read?.manifest.ranks[rank];
    if (read === undefined || entry === undefined) {
      return {
        rankManifestKey: "",
        worldSize: read?.manifest.worldSize ?? 0,
        problem: `it has no rank ${rank}`,
      };
    }
    const rankManifestKey = `${stepDir}${entry.manifestKey}`;
    try {
      const manifest = await this.readCommittedRankManifest(step, entry, options);
      const problem = (
        await this.packProblems(this.layout.rankDir(step, rank), manifest.objects, options)
      )[0];
      return {
        manifest,
        rankManifestKey,
        worldSize: read.manifest.worldSize,
        ...(problem === undefined ? {} : { problem: problem.message }),
      };
    } catch (error) {
      const e = RuntimeError.from(error);
      if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
      return { rankManifestKey, worldSize: read.manifest.worldSize, problem: e.rawMessage };
    }
  }

  /** The step manifest and every rank manifest of a complete step (no data is read). */
  async describe(step: number, options: CallOptions = {}): Promise<CheckpointDescription> {
    const read = await this.readStepManifest(step, options);
    if (read === undefined) {
      throw new RuntimeError(`checkpoint step ${step} of job ${this.jobId} is not committed`, {
        code: Code.NotFound,
        details: { step },
      });
    }
    const ranks: RankManifest[] = [];
    for (const r of read.manifest.ranks) {
      ranks.push(await this.readCommittedRankManifest(step, r, options));
    }
    return { step: read.manifest, ranks };
  }

  async isStepComplete(step: number, options: CallOptions = {}): Promise<boolean> {
    try {
      return (await this.readStepManifest(step, options)) !== undefined;
    } catch (error) {
      const e = RuntimeError.from(error);
      if (e.code === Code.DataLoss) return false;
      throw e;
    }
  }

  async verify(step: number, options: VerifyOptions = {}): Promise<VerifyReport> {
    const report: VerifyReport = {
      step,
      ok: false,
      problems: [],
      objectCount: 0,
      verifiedBytes: 0,
      totalBytes: 0,
    };
    const stepKey = this.layout.stepManifestKey(step);
    let read: ReadStep | undefined;
    try {
      read = await this.readStepManifest(step, options);
    } catch (error) {
      const e = RuntimeError.from(error);
      if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
      report.problems.push({ key: stepKey, message: e.rawMessage });
      return report;
    }
    if (read === undefined) {
      const partial = await firstKey(this.storage, this.layout.stepDir(step), options);
      if (partial === undefined) {
        throw new RuntimeError(`checkpoint step ${step} of job ${this.jobId} does not exist`, {
          code: Code.NotFound,
          details: { step },
        });
      }
      report.problems.push({
        key: stepKey,
        message: "the step manifest is missing: the step is partial (never committed)",
      });
      return report;
    }
    const { manifest } = read;
    report.totalBytes = manifest.totalSizeBytes;
    const work: { key: string; entry: ManifestObject }[] = [];
    for (const r of manifest.ranks) {
      const rankKey = this.layout.resolve(this.layout.stepDir(step), r.manifestKey);
      try {
        const rank = await this.readCommittedRankManifest(step, r, options);
        const dir = this.layout.rankDir(step, r.rank);
        const bad = new Set<string>();
        for (const problem of await this.packProblems(dir, rank.objects, options)) {
          report.problems.push(problem);
          bad.add(problem.key);
        }
        for (const entry of rank.objects) {
          const key = this.layout.resolve(dir, entry.key);
          // A missing or wrongly sized pack is reported once, above; its entries are not read.
          if (!bad.has(key)) work.push({ key, entry });
          else report.verifiedBytes += entry.sizeBytes;
        }
      } catch (error) {
        const e = RuntimeError.from(error);
        if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
        report.problems.push({ key: rankKey, message: e.rawMessage });
      }
    }
    report.objectCount = work.length;
    options.onProgress?.(0, report.totalBytes);
    await mapConcurrent(work, options.concurrency ?? 4, async ({ key, entry }) => {
      let counted = 0;
      try {
        await readObject(this.storage, key, entry, {
          collect: false,
          ...signalOnly(options),
          onBytes: (n) => {
            counted += n;
            report.verifiedBytes += n;
            options.onProgress?.(report.verifiedBytes, report.totalBytes);
          },
        });
      } catch (error) {
        const e = RuntimeError.from(error);
        if (e.code !== Code.DataLoss) throw e;
        // Count the rest of the object as done so the progress bar still reaches the end.
        report.verifiedBytes += Math.max(0, entry.sizeBytes - counted);
        options.onProgress?.(report.verifiedBytes, report.totalBytes);
        report.problems.push({ key, message: e.rawMessage });
      }
    });
    report.ok = report.problems.length === 0;
    if (report.ok) this.markVerified(step, read.bytesChecksum);
    return report;
  }

  /** Whether a complete step verifies, using the cache of steps already verified in this process. */
  async #isGood(step: number, options: CallOptions): Promise<boolean> {
    let read: ReadStep | undefined;
    try {
      read = await this.readStepManifest(step, options);
    } catch (error) {
      const e = RuntimeError.from(error);
      if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
      this.logger.warn({ step, err: e }, "skipping a checkpoint whose step manifest is unreadable");
      return false;
    }
    if (read === undefined) return false;
    if (this.isVerified(step, read.bytesChecksum)) return true;
    const report = await this.verify(step, options);
    if (!report.ok) {
      this.logger.warn(
        { step, problems: report.problems },
        "checkpoint failed verification; falling back to an earlier one",
      );
    }
    return report.ok;
  }

  /** The newest complete step that verifies, newest first, or undefined. */
  async newestVerifiedStep(
    completeSteps: readonly number[],
    options: CallOptions = {},
  ): Promise<number | undefined> {
    for (const step of [...completeSteps].sort((a, b) => b - a)) {
      if (await this.#isGood(step, options)) return step;
    }
    return undefined;
  }

  async latest(options: CallOptions = {}): Promise<CheckpointInfo | undefined> {
    const complete = await this.#completeSteps(options);
    const step = await this.newestVerifiedStep(complete, options);
    if (step === undefined) return undefined;
    const read = await this.readStepManifest(step, options);
    return read === undefined ? undefined : infoFromStep(read.manifest, this.jobId);
  }

  /** Steps with a step manifest and no deletion under way, newest first. */
  async #completeSteps(options: CallOptions): Promise<number[]> {
    const scan = await this.scan(options);
    return [...scan.values()]
      .filter((s) => s.stepManifest !== undefined && s.deleting === undefined)
      .map((s) => s.step)
      .sort((a, b) => b - a);
  }

  async load(
    step: number | undefined,
    rank: number,
    options: LoadOptions = {},
  ): Promise<LoadedCheckpoint> {
    if (step === undefined) return this.#loadLatest(rank, options);
    const target = step;
    const read = await this.readStepManifest(target, options);
    if (read === undefined) {
      const s = await this.scanStep(target, options);
      if (s.ranks.size > 0) {
        throw new RuntimeError(
          `checkpoint step ${target} of job ${this.jobId} is partial: not every rank committed, so it cannot be loaded`,
          { code: Code.FailedPrecondition, details: { step: target } },
        );
      }
      throw new RuntimeError(`checkpoint step ${target} of job ${this.jobId} does not exist`, {
        code: Code.NotFound,
        details: { step: target },
      });
    }
    const entry = read.manifest.ranks[rank];
    if (entry === undefined) {
      throw new RuntimeError(
        `checkpoint step ${target} has ranks 0..${read.manifest.worldSize - 1}; rank ${rank} does not exist`,
        { code: Code.InvalidArgument, details: { field: "rank" } },
      );
    }
    const manifest = await this.readCommittedRankManifest(target, entry, options);
    const dir = this.layout.rankDir(target, rank);
    const problem = (await this.packProblems(dir, manifest.objects, options))[0];
    if (problem !== undefined) {
      throw new RuntimeError(problem.message, {
        code: Code.DataLoss,
        details: { key: problem.key },
      });
    }
    const datas = await mapConcurrent(manifest.objects, options.concurrency ?? 4, (o) =>
      readObject(this.storage, this.layout.resolve(dir, o.key), o, {
        collect: true,
        ...signalOnly(options),
      }),
    );
    const buffers: Record<string, Uint8Array> = {};
    manifest.objects.forEach((o, i) => {
      buffers[o.name] = datas[i] as Uint8Array;
    });
    return {
      jobId: manifest.jobId,
      step: manifest.step,
      epoch: manifest.epoch,
      rank,
      worldSize: manifest.worldSize,
      buffers,
      objects: manifest.objects,
      dataPosition: manifest.dataPosition,
      metadata: manifest.metadata,
      createdAtMs: manifest.createdAtMs,
    };
  }

  /**
   * Loads the newest good checkpoint. A single-rank step is verified by loading it (one read of
   * the data instead of a verify pass and a load pass); a multi-rank step is verified in full
   * first, so every rank falls back to the same step. A step that fails is skipped with a warning.
   */
  async #loadLatest(rank: number, options: LoadOptions): Promise<LoadedCheckpoint> {
    for (const step of await this.#completeSteps(options)) {
      let read: ReadStep | undefined;
      try {
        read = await this.readStepManifest(step, options);
      } catch (error) {
        const e = RuntimeError.from(error);
        if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
        this.logger.warn(
          { step, err: e },
          "skipping a checkpoint whose step manifest is unreadable",
        );
        continue;
      }
      if (read === undefined) continue;
      if (read.manifest.worldSize > 1 && !(await this.#isGood(step, options))) continue;
      try {
        const loaded = await this.load(step, rank, options);
        if (read.manifest.worldSize === 1) this.markVerified(step, read.bytesChecksum);
        return loaded;
      } catch (error) {
        const e = RuntimeError.from(error);
        if (e.code !== Code.DataLoss) throw e;
        this.logger.warn(
          { step, err: e },
          "checkpoint failed verification; falling back to an earlier one",
        );
      }
    }
    throw new RuntimeError(`job ${this.jobId} has no complete, verified checkpoint`, {
      code: Code.NotFound,
    });
  }

  /** Reads the `LATEST` hint, if any. It may lag behind or point at a step since deleted. */
  async readLatestHint(options: CallOptions = {}): Promise<number | undefined> {
    const bytes = await getOrUndefined(this.storage, this.layout.latestKey(), options);
    if (bytes === undefined) return undefined;
    try {
      const step = Number(
        (JSON.parse(Buffer.from(bytes).toString("utf8")) as { step?: unknown }).step,
      );
      return Number.isSafeInteger(step) ? step : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Checks that every pack the entries name exists with exactly the size its entries add up to
   * (a range read alone would miss bytes appended after the last entry, or a pack cut short
   * inside an entry's range on some backends). One problem per bad pack.
   */
  /** @internal */
  async packProblems(
    dir: string,
    objects: readonly ManifestObject[],
    options: CallOptions,
  ): Promise<VerifyProblem[]> {
    const expected = new Map<string, { size: number; names: string[] }>();
    for (const o of objects) {
      const key = this.layout.resolve(dir, o.key);
      const e = expected.get(key) ?? { size: 0, names: [] };
      e.size = Math.max(e.size, o.offset + o.sizeBytes);
      e.names.push(o.name);
      expected.set(key, e);
    }
    const problems: VerifyProblem[] = [];
    await mapConcurrent([...expected], 8, async ([key, e]) => {
      const info = await this.storage.stat(key, signalOnly(options));
      const holds = `holding ${e.names.slice(0, 5).join(", ")}${e.names.length > 5 ? ", ..." : ""}`;
      if (info === undefined) {
        problems.push({ key, message: `checkpoint object ${key} (${holds}) is missing` });
      } else if (info.sizeBytes < e.size) {
        problems.push({
          key,
          message: `checkpoint object ${key} (${holds}) is truncated: ${info.sizeBytes} of ${e.size} bytes`,
        });
      } else if (info.sizeBytes > e.size) {
        problems.push({
          key,
          message: `checkpoint object ${key} (${holds}) is longer than the ${e.size} bytes its manifest records (${info.sizeBytes})`,
        });
      }
    });
    return problems;
  }

  /**
   * Deletes keys of this job, refusing (as a bug) anything outside it or that is not a
   * checkpoint key.
   */
  async deleteKeys(keys: readonly string[], options: CallOptions = {}): Promise<void> {
    if (keys.length === 0) return;
    for (const key of keys) {
      const parsed = this.layout.owns(key) ? this.layout.parse(key) : undefined;
      if (parsed === undefined || parsed.kind === "other") {
        throw new RuntimeError(`refusing to delete ${key}: it is outside ${this.layout.jobRoot}`, {
          code: Code.Internal,
          details: { key },
        });
      }
    }
    await this.storage.deleteMany(keys, signalOnly(options));
  }
}

/** Only the parts of CallOptions that storage calls take per call (the signal). */
export function signalOnly(options: CallOptions): CallOptions {
  return options.signal === undefined ? {} : { signal: options.signal };
}

/** A stored object's bytes, or undefined when it does not exist. @internal */
export async function getOrUndefined(
  storage: StorageBackend,
  key: string,
  options: CallOptions,
): Promise<Uint8Array | undefined> {
  try {
    return await storage.get(key, signalOnly(options));
  } catch (error) {
    const e = RuntimeError.from(error);
    if (e.code === Code.NotFound) return undefined;
    throw e;
  }
}

async function firstKey(
  storage: StorageBackend,
  prefix: string,
  options: CallOptions,
): Promise<string | undefined> {
  for await (const info of storage.list(prefix, { ...signalOnly(options), pageSize: 1 })) {
    return info.key;
  }
  return undefined;
}
