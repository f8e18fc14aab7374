import {
  type CallOptions,
  type Clock,
  Code,
  type Logger,
  RuntimeError,
} from "@strata/runtime-core";
import type { ObjectInfo, StorageBackend } from "@strata/storage";
import { checksumOf } from "./checksum.js";
import type { CheckpointLayout } from "./layout.js";
import {
  decodeRankManifest,
  decodeStepManifest,
  encodeManifest,
  FORMAT_VERSION,
  type ManifestObject,
  type RankManifest,
  type StepManifest,
} from "./manifest.js";
import { mapConcurrent } from "./map-concurrent.js";
import { readObject } from "./object-io.js";
import {
  normalizeRetention,
  planRetention,
  type RetentionCandidate,
  type RetentionPolicy,
} from "./retention.js";

/** A checkpoint (one step) as `list` reports it. */
export interface CheckpointInfo {
  jobId: string;
  step: number;
  epoch: number;
  worldSize: number;
  /** Ranks whose part is committed. */
  ranks: number[];
  /** Stored bytes of every rank's data objects. */
  totalSizeBytes: number;
  /** When the step manifest (or, for a partial step, the newest rank manifest) was written, ms since the epoch. */
  createdAtMs: number;
  /**
   * `complete`: the step manifest exists and parses. `partial`: some ranks committed, the step
   * did not (never visible to `latest`/`load`). `corrupt`: the step manifest is damaged.
   */
  state: "complete" | "partial" | "corrupt";
  /** Why a step is `corrupt`. */
  problem?: string;
}

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

/** Options for `prune`. */
export interface PruneOptions extends CallOptions, Partial<RetentionPolicy> {
  /** Report what would be deleted, delete nothing. Default false. */
  dryRun?: boolean;
}

/** What `prune` did (or, in a dry run, would do). */
export interface PruneResult {
  dryRun: boolean;
  kept: number[];
  /** Complete steps deleted. */
  deletedSteps: number[];
  /** Keys of data and manifests from uncommitted or abandoned saves that were deleted. */
  deletedOrphanKeys: string[];
  newestVerifiedStep: number | undefined;
  /** Why each kept step is kept. */
  reasons: Record<number, string[]>;
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

interface StepScan {
  step: number;
  stepManifest?: ObjectInfo;
  rankManifests: Map<number, ObjectInfo>;
  data: ObjectInfo[];
}

interface ReadStep {
  manifest: StepManifest;
  bytesChecksum: string;
  info: ObjectInfo | undefined;
}

/**
 * The read, commit and prune side of a job's checkpoints. It keeps no index: every answer comes
 * from listing and reading storage, so a fresh process (or the CLI) sees exactly what a long-lived
 * one sees. It only caches which step manifests it has verified in full.
 * @internal Used by {@link CheckpointManager}; not exported from the package.
 */
export class CheckpointStore {
  readonly #verified = new Set<string>();

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

  async scan(options: CallOptions = {}): Promise<Map<number, StepScan>> {
    const steps = new Map<number, StepScan>();
    const get = (step: number) => {
      let s = steps.get(step);
      if (s === undefined) {
        s = { step, rankManifests: new Map(), data: [] };
        steps.set(step, s);
      }
      return s;
    };
    for await (const info of this.storage.list(this.layout.jobRoot, signalOnly(options))) {
      const parsed = this.layout.parse(info.key);
      if (parsed === undefined) continue;
      const s = get(parsed.step);
      if (parsed.kind === "step-manifest") s.stepManifest = info;
      else if (parsed.kind === "rank-manifest") s.rankManifests.set(parsed.rank, info);
      else s.data.push(info);
    }
    return steps;
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
    return { manifest, bytesChecksum: checksumOf(bytes), info: undefined };
  }

  /** Reads a rank manifest; `expectedChecksum` (from the step manifest) must match its bytes. */
  async readRankManifest(
    step: number,
    rank: number,
    expectedChecksum: string | undefined,
    options: CallOptions = {},
  ): Promise<{ manifest: RankManifest; bytes: Uint8Array } | undefined> {
    const key = this.layout.rankManifestKey(step, rank);
    const bytes = await getOrUndefined(this.storage, key, options);
    if (bytes === undefined) return undefined;
    if (expectedChecksum !== undefined && checksumOf(bytes) !== expectedChecksum) {
      throw new RuntimeError(
        `checkpoint manifest ${key} does not match the checksum its step manifest records`,
        { code: Code.DataLoss, details: { key } },
      );
    }
    const manifest = decodeRankManifest(bytes, key);
    if (manifest.step !== step || manifest.rank !== rank) {
      throw new RuntimeError(
        `checkpoint manifest ${key} is corrupt: it records step ${manifest.step} rank ${manifest.rank}`,
        { code: Code.DataLoss, details: { key } },
      );
    }
    return { manifest, bytes };
  }

  async list(options: CallOptions & { includePartial?: boolean } = {}): Promise<CheckpointInfo[]> {
    const scan = await this.scan(options);
    const out: CheckpointInfo[] = [];
    for (const s of [...scan.values()].sort((a, b) => a.step - b.step)) {
      if (s.stepManifest !== undefined) {
        try {
          const read = await this.readStepManifest(s.step, options);
          if (read === undefined) continue; // deleted between list and read
          out.push(infoFromStep(read.manifest, this.jobId));
        } catch (error) {
          const e = RuntimeError.from(error);
          if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
          this.logger.warn({ step: s.step, err: e }, "checkpoint step manifest is unreadable");
          if (options.includePartial) {
            out.push({
              ...emptyInfo(this.jobId, s),
              state: "corrupt",
              problem: e.rawMessage,
            });
          }
        }
      } else if (options.includePartial && (s.rankManifests.size > 0 || s.data.length > 0)) {
        out.push(emptyInfo(this.jobId, s));
      }
    }
    return out;
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
      const rank = await this.readRankManifest(step, r.rank, r.manifestChecksum, options);
      if (rank === undefined) {
        const key = this.layout.rankManifestKey(step, r.rank);
        throw new RuntimeError(`checkpoint manifest ${key} is missing`, {
          code: Code.DataLoss,
          details: { key },
        });
      }
      ranks.push(rank.manifest);
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
      const rankKey = this.layout.rankManifestKey(step, r.rank);
      try {
        const rank = await this.readRankManifest(step, r.rank, r.manifestChecksum, options);
        if (rank === undefined) {
          report.problems.push({ key: rankKey, message: "the rank manifest is missing" });
          continue;
        }
        const dir = this.layout.rankDir(step, r.rank);
        const bad = new Set<string>();
        for (const problem of await this.#packProblems(dir, rank.manifest.objects, options)) {
          report.problems.push(problem);
          bad.add(problem.key);
        }
        for (const entry of rank.manifest.objects) {
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
    if (this.#verified.has(`${step}:${read.bytesChecksum}`)) return true;
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
    const scan = await this.scan(options);
    const complete = [...scan.values()]
      .filter((s) => s.stepManifest !== undefined)
      .map((s) => s.step);
    const step = await this.newestVerifiedStep(complete, options);
    if (step === undefined) return undefined;
    const read = await this.readStepManifest(step, options);
    return read === undefined ? undefined : infoFromStep(read.manifest, this.jobId);
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
      const rankManifest = await this.storage.stat(
        this.layout.rankManifestKey(target, rank),
        signalOnly(options),
      );
      if (rankManifest !== undefined) {
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
    const rankRead = await this.readRankManifest(target, rank, entry.manifestChecksum, options);
    if (rankRead === undefined) {
      const key = this.layout.rankManifestKey(target, rank);
      throw new RuntimeError(`checkpoint manifest ${key} is missing`, {
        code: Code.DataLoss,
        details: { key },
      });
    }
    const manifest = rankRead.manifest;
    const dir = this.layout.rankDir(target, rank);
    const problem = (await this.#packProblems(dir, manifest.objects, options))[0];
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
    const scan = await this.scan(options);
    const complete = [...scan.values()]
      .filter((s) => s.stepManifest !== undefined)
      .map((s) => s.step)
      .sort((a, b) => b - a);
    for (const step of complete) {
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

  /**
   * Writes the step manifest (create-only) once every rank's manifest exists and checks out: each
   * parses, records this step and world size, and each of its objects exists with the recorded
   * size (`deep` also re-reads and checksums every byte). Missing ranks are `FailedPrecondition`.
   * If another process committed the step first, returns its manifest with `created: false`.
   */
  async commitStep(
    step: number,
    worldSize: number,
    options: CallOptions & { deep?: boolean; known?: Map<number, RankManifest> } = {},
  ): Promise<StepCommit> {
    const existing = await this.readStepManifest(step, options);
    if (existing !== undefined) return { manifest: existing.manifest, created: false };
    const ranks = await mapConcurrent(
      Array.from({ length: worldSize }, (_, r) => r),
      8,
      async (r) => this.readRankManifest(step, r, undefined, options),
    );
    const missing = ranks.flatMap((r, i) => (r === undefined ? [i] : []));
    if (missing.length > 0) {
      throw new RuntimeError(
        `checkpoint step ${step} is not complete: rank(s) ${missing.join(", ")} of ${worldSize} have not committed`,
        { code: Code.FailedPrecondition, details: { step, missingRanks: missing } },
      );
    }
    const parts = ranks as { manifest: RankManifest; bytes: Uint8Array }[];
    for (const { manifest } of parts) {
      if (manifest.worldSize !== worldSize) {
        throw new RuntimeError(
          `rank ${manifest.rank} saved step ${step} with world size ${manifest.worldSize}, not ${worldSize}`,
          { code: Code.FailedPrecondition, details: { step, rank: manifest.rank } },
        );
      }
      // Objects we wrote ourselves a moment ago need no second look.
      if (options.known?.get(manifest.rank)?.attemptId === manifest.attemptId) continue;
      const dir = this.layout.rankDir(step, manifest.rank);
      const problem = (await this.#packProblems(dir, manifest.objects, options))[0];
      if (problem !== undefined) {
        throw new RuntimeError(problem.message, {
          code: Code.DataLoss,
          details: { key: problem.key },
        });
      }
      if (options.deep) {
        await mapConcurrent(manifest.objects, 4, (o) =>
          readObject(this.storage, this.layout.resolve(dir, o.key), o, {
            collect: false,
            ...signalOnly(options),
          }),
        );
      }
    }
    const first = parts[0]?.manifest as RankManifest;
    const manifest: StepManifest = {
      formatVersion: FORMAT_VERSION,
      kind: "step",
      jobId: this.jobId,
      step,
      epoch: first.epoch,
      worldSize,
      createdAtMs: this.clock.now(),
      ranks: parts.map(({ manifest: m, bytes }) => ({
        rank: m.rank,
        manifestKey: this.layout
          .rankManifestKey(step, m.rank)
          .slice(this.layout.stepDir(step).length),
        manifestChecksum: checksumOf(bytes),
        attemptId: m.attemptId,
        totalSizeBytes: m.totalSizeBytes,
        objectCount: m.objects.length,
      })),
      totalSizeBytes: parts.reduce((sum, p) => sum + p.manifest.totalSizeBytes, 0),
      dataPosition: first.dataPosition,
      metadata: first.metadata,
    };
    const bytes = encodeManifest(manifest);
    try {
      await this.storage.put(this.layout.stepManifestKey(step), bytes, {
        createOnly: true,
        ...signalOnly(options),
      });
    } catch (error) {
      const e = RuntimeError.from(error);
      if (e.code !== Code.AlreadyExists) throw e;
      const winner = await this.readStepManifest(step, options);
      if (winner === undefined) throw e;
      return { manifest: winner.manifest, created: false };
    }
    await this.#writeLatestHint(step);
    return { manifest, created: true };
  }

  /** Best effort: the `LATEST` object is only a hint for humans and tools; listing is the truth. */
  async #writeLatestHint(step: number): Promise<void> {
    try {
      const key = this.layout.latestKey();
      const current = await getOrUndefined(this.storage, key, {});
      if (current !== undefined) {
        const previous = Number(
          (JSON.parse(Buffer.from(current).toString("utf8")) as { step?: unknown }).step,
        );
        if (Number.isSafeInteger(previous) && previous > step) return;
      }
      const hint = {
        step,
        stepManifestKey: this.layout.stepManifestKey(step),
        updatedAtMs: this.clock.now(),
      };
      await this.storage.put(key, Buffer.from(`${JSON.stringify(hint)}\n`));
    } catch (error) {
      this.logger.debug({ err: error, step }, "could not update the LATEST hint (harmless)");
    }
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
   * Applies a retention policy: plans with {@link planRetention}, deletes each dropped step
   * manifest first and its rank manifests and data after (so a half-deleted step is never listed
   * as complete), then deletes orphans: everything of a partial step older than the newest
   * complete step, and data in a complete step that no rank manifest references, when older than
   * `orphanGraceMs`. Every key is checked to lie inside this job before it is deleted.
   */
  async prune(policy: RetentionPolicy, options: PruneOptions = {}): Promise<PruneResult> {
    const p = normalizeRetention(policy);
    const dryRun = options.dryRun ?? false;
    const scan = await this.scan(options);
    const candidates: RetentionCandidate[] = [];
    const stepManifests = new Map<number, StepManifest>();
    for (const s of scan.values()) {
      if (s.stepManifest === undefined) continue;
      let createdAtMs = s.stepManifest.modifiedAtMs;
      try {
        const read = await this.readStepManifest(s.step, options);
        if (read !== undefined) {
          createdAtMs = read.manifest.createdAtMs;
          stepManifests.set(s.step, read.manifest);
        }
      } catch (error) {
        const e = RuntimeError.from(error);
        if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
      }
      candidates.push({ step: s.step, createdAtMs });
    }
    const newestVerified = await this.newestVerifiedStep([...stepManifests.keys()], options);
    const plan = planRetention(candidates, p, newestVerified);
    const result: PruneResult = {
      dryRun,
      kept: plan.keep,
      deletedSteps: plan.delete,
      deletedOrphanKeys: [],
      newestVerifiedStep: newestVerified,
      reasons: Object.fromEntries(plan.reasons),
    };
    for (const step of plan.delete) {
      const s = scan.get(step);
      if (s === undefined || dryRun) continue;
      this.logger.info({ step }, "retention: deleting checkpoint");
      if (s.stepManifest !== undefined) await this.#delete([s.stepManifest.key], options);
      await this.#delete(
        [...s.rankManifests.values()].map((i) => i.key),
        options,
      );
      await this.#delete(
        s.data.map((i) => i.key),
        options,
      );
    }
    const newestComplete = candidates.reduce((m, c) => Math.max(m, c.step), -1);
    const cutoffMs = this.clock.now() - p.orphanGraceMs;
    const deleted = new Set(plan.delete);
    for (const s of scan.values()) {
      if (deleted.has(s.step)) continue;
      const old = (i: ObjectInfo) => i.modifiedAtMs <= cutoffMs;
      if (s.stepManifest === undefined) {
        // A partial step: some ranks never committed. Only once a later step is complete, and
        // only when all of it is older than the grace period, is it certainly abandoned.
        const all = [...s.rankManifests.values(), ...s.data];
        if (s.step >= newestComplete || all.length === 0 || !all.every(old)) continue;
        const manifests = [...s.rankManifests.values()].map((i) => i.key);
        const data = s.data.map((i) => i.key);
        result.deletedOrphanKeys.push(...manifests, ...data);
        if (!dryRun) {
          await this.#delete(manifests, options);
          await this.#delete(data, options);
        }
        continue;
      }
      const manifest = stepManifests.get(s.step);
      if (manifest === undefined) continue;
      // Committed data lives under <rank>/<attemptId>/; anything else in the step is left over
      // from a save attempt that lost (a crash, a retry, a racing writer).
      const committedDirs = manifest.ranks.map(
        (r) => `${this.layout.rankDir(s.step, r.rank)}${r.attemptId}/`,
      );
      const referenced = { has: (key: string) => committedDirs.some((d) => key.startsWith(d)) };
      const orphans = s.data.filter((i) => !referenced.has(i.key) && old(i)).map((i) => i.key);
      result.deletedOrphanKeys.push(...orphans);
      if (!dryRun) await this.#delete(orphans, options);
    }
    return result;
  }

  /**
   * Checks that every pack the entries name exists with exactly the size its entries add up to
   * (a range read alone would miss bytes appended after the last entry, or a pack cut short
   * inside an entry's range on some backends). One problem per bad pack.
   */
  async #packProblems(
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

  async #delete(keys: string[], options: CallOptions): Promise<void> {
    if (keys.length === 0) return;
    for (const key of keys) {
      if (!this.layout.owns(key) || this.layout.parse(key) === undefined) {
        throw new RuntimeError(`refusing to delete ${key}: it is outside ${this.layout.jobRoot}`, {
          code: Code.Internal,
          details: { key },
        });
      }
    }
    await this.storage.deleteMany(keys, signalOnly(options));
  }
}

function infoFromStep(manifest: StepManifest, jobId: string): CheckpointInfo {
  return {
    jobId,
    step: manifest.step,
    epoch: manifest.epoch,
    worldSize: manifest.worldSize,
    ranks: manifest.ranks.map((r) => r.rank),
    totalSizeBytes: manifest.totalSizeBytes,
    createdAtMs: manifest.createdAtMs,
    state: "complete",
  };
}

function emptyInfo(jobId: string, s: StepScan): CheckpointInfo {
  const all = [...s.rankManifests.values(), ...s.data];
  return {
    jobId,
    step: s.step,
    epoch: 0,
    worldSize: 0,
    ranks: [...s.rankManifests.keys()].sort((a, b) => a - b),
    totalSizeBytes: s.data.reduce((n, i) => n + i.sizeBytes, 0),
    createdAtMs: all.reduce((m, i) => Math.max(m, i.modifiedAtMs), 0),
    state: "partial",
  };
}

/** Only the parts of CallOptions that storage calls take per call (the signal). */
export function signalOnly(options: CallOptions): CallOptions {
  return options.signal === undefined ? {} : { signal: options.signal };
}

async function getOrUndefined(
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
