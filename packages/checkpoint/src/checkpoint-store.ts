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
  type StepManifestRank,
} from "./manifest.js";
import { mapConcurrent } from "./map-concurrent.js";
import { readObject } from "./object-io.js";
import {
  allObjects,
  type RankScan,
  rankManifestsNewestFirst,
  type StepScan,
  scanJob,
  scanPrefix,
} from "./step-scan.js";

/** A checkpoint (one step) as `list` reports it. */
export interface CheckpointInfo {
  jobId: string;
  step: number;
  /** The epoch; for a partial step, the one its newest rank manifest records (0 when none did). */
  epoch: number;
  /** Ranks that save the step; 0 when unknown (a partial step whose ranks committed nothing). */
  worldSize: number;
  /** Ranks whose part is committed. */
  ranks: number[];
  /** Stored bytes of every rank's data objects (for a partial or deleting step: what is left). */
  totalSizeBytes: number;
  /** When the step manifest (or, for a partial step, the newest rank manifest) was written, ms since the epoch. */
  createdAtMs: number;
  /**
   * `complete`: the step manifest exists and parses. `partial`: the step was never committed
   * (some ranks committed, or a save stopped before any did; never visible to `latest`/`load`).
   * `corrupt`: the step manifest is damaged. `deleting`: retention started deleting the step and
   * was interrupted; the next retention run removes the rest.
   */
  state: "complete" | "partial" | "corrupt" | "deleting";
  /** Why a step is `corrupt`. */
  problem?: string;
  /** What a `partial` or `deleting` step holds, in words ("1 of 2 ranks committed; ..."). */
  note?: string;
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

/** What retention writes into `DELETING`: the step it is deleting, so listings can show it. */
export interface DeletingMarker {
  kind: "deleting";
  step: number;
  epoch: number;
  worldSize: number;
  ranks: number[];
  totalSizeBytes: number;
  createdAtMs: number;
  /** When deletion started, ms since the epoch. */
  startedAtMs: number;
}

/** The part of a step commit that this process wrote itself: it must be the one committed. */
export interface OwnPart {
  rank: number;
  attemptId: string;
}

/**
 * The read and commit side of a job's checkpoints. It keeps no index: every answer comes from
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

  async list(options: CallOptions & { includePartial?: boolean } = {}): Promise<CheckpointInfo[]> {
    const scan = await this.scan(options);
    const out: CheckpointInfo[] = [];
    for (const s of [...scan.values()].sort((a, b) => a.step - b.step)) {
      if (s.stepManifest !== undefined) {
        try {
          const read = await this.cachedStepManifest(s.step, s.stepManifest, options);
          if (read === undefined) continue; // deleted between list and read
          const info = infoFromStep(read.manifest, this.jobId);
          if (s.deleting === undefined) out.push(info);
          else if (options.includePartial) out.push(deletingInfo(info, s, "the step manifest"));
        } catch (error) {
          const e = RuntimeError.from(error);
          if (e.code !== Code.DataLoss && e.code !== Code.FailedPrecondition) throw e;
          this.logger.warn({ step: s.step, err: e }, "checkpoint step manifest is unreadable");
          if (options.includePartial) {
            out.push({
              ...(await this.#partialInfo(s, options)),
              state: "corrupt",
              problem: e.rawMessage,
            });
          }
        }
      } else if (options.includePartial) {
        if (s.deleting !== undefined) out.push(await this.#deletingInfoFromMarker(s, options));
        else if (s.ranks.size > 0) out.push(await this.#partialInfo(s, options));
      }
    }
    return out;
  }

  /** A partial step, from its newest rank manifest per rank (what each rank committed). */
  async #partialInfo(s: StepScan, options: CallOptions): Promise<CheckpointInfo> {
    const committed: RankManifest[] = [];
    for (const r of [...s.ranks.values()].sort((a, b) => a.rank - b.rank)) {
      const newest = await this.#newestReadableManifest(s.step, r, options);
      if (newest !== undefined) committed.push(newest.manifest);
    }
    const objects = allObjects(s);
    const worldSize = committed.reduce((w, m) => Math.max(w, m.worldSize), 0);
    const epoch = committed.reduce((e, m) => Math.max(e, m.epoch), 0);
    const attempts = [...s.ranks.values()].reduce((n, r) => n + r.attempts.size, 0);
    const note =
      committed.length === 0
        ? `no rank committed: data of ${attempts} unfinished save attempt(s)`
        : `${committed.length} of ${worldSize} rank(s) committed; no step manifest`;
    return {
      jobId: this.jobId,
      step: s.step,
      epoch,
      worldSize,
      ranks: committed.map((m) => m.rank),
      totalSizeBytes: objects
        .filter((i) => i.key.endsWith(".bin"))
        .reduce((n, i) => n + i.sizeBytes, 0),
      createdAtMs: committed.length
        ? Math.max(...committed.map((m) => m.createdAtMs))
        : objects.reduce((m, i) => Math.max(m, i.modifiedAtMs), 0),
      state: "partial",
      note,
    };
  }

  /** A step whose deletion was interrupted after its step manifest went: from retention's marker. */
  async #deletingInfoFromMarker(s: StepScan, options: CallOptions): Promise<CheckpointInfo> {
    const marker = await this.#readDeletingMarker(s.step, options);
    if (marker === undefined) {
      const partial = await this.#partialInfo(s, options);
      return { ...partial, state: "deleting", note: `retention was deleting it; ${partial.note}` };
    }
    return deletingInfo(
      {
        jobId: this.jobId,
        step: marker.step,
        epoch: marker.epoch,
        worldSize: marker.worldSize,
        ranks: marker.ranks,
        totalSizeBytes: marker.totalSizeBytes,
        createdAtMs: marker.createdAtMs,
        state: "complete",
      },
      s,
      undefined,
    );
  }

  async #readDeletingMarker(
    step: number,
    options: CallOptions,
  ): Promise<DeletingMarker | undefined> {
    const bytes = await getOrUndefined(this.storage, this.layout.deletingKey(step), options);
    if (bytes === undefined) return undefined;
    try {
      const parsed = JSON.parse(Buffer.from(bytes).toString("utf8")) as Partial<DeletingMarker>;
      if (parsed.kind !== "deleting" || parsed.step !== step) return undefined;
      return parsed as DeletingMarker;
    } catch {
      return undefined;
    }
  }

  /** The newest rank manifest of a rank that parses, or undefined. */
  async #newestReadableManifest(
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
        await this.#packProblems(this.layout.rankDir(step, rank), manifest.objects, options)
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
        for (const problem of await this.#packProblems(dir, rank.objects, options)) {
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

  /**
   * Writes the step manifest (create-only) once every rank has committed a part that checks out:
   * its rank manifest parses, records this step and world size, and each of its objects exists
   * with the recorded size (`deep` also re-reads and checksums every byte). For each rank the
   * newest committed attempt is taken (a new attempt at a step supersedes a partial earlier one);
   * `own` names this process's attempt, which is the one taken for its rank. Missing ranks are
   * `FailedPrecondition`. If another process committed the step first, returns its manifest with
   * `created: false`.
   */
  async commitStep(
    step: number,
    worldSize: number,
    options: CallOptions & { deep?: boolean; own?: OwnPart } = {},
  ): Promise<StepCommit> {
    const existing = await this.readStepManifest(step, options);
    if (existing !== undefined) return { manifest: existing.manifest, created: false };
    const s = await this.scanStep(step, options);
    const parts: { manifest: RankManifest; bytes: Uint8Array; key: string }[] = [];
    const missing: number[] = [];
    for (let r = 0; r < worldSize; r++) {
      const rankScan = s.ranks.get(r);
      const own = options.own?.rank === r ? options.own : undefined;
      let part: { manifest: RankManifest; bytes: Uint8Array; key: string } | undefined;
      if (own !== undefined) {
        const key = this.layout.rankManifestKey(step, r, own.attemptId);
        const read = await this.readRankManifestAt(key, step, r, options);
        part = read === undefined ? undefined : { ...read, key };
      } else if (rankScan !== undefined) {
        part = await this.#newestReadableManifest(step, rankScan, options);
      }
      if (part === undefined) missing.push(r);
      else parts.push(part);
    }
    if (missing.length > 0) {
      throw new RuntimeError(
        `checkpoint step ${step} is not complete: rank(s) ${missing.join(", ")} of ${worldSize} have not committed`,
        { code: Code.FailedPrecondition, details: { step, missingRanks: missing } },
      );
    }
    for (const { manifest } of parts) {
      if (manifest.worldSize !== worldSize) {
        throw new RuntimeError(
          `rank ${manifest.rank} saved step ${step} with world size ${manifest.worldSize}, not ${worldSize}`,
          { code: Code.FailedPrecondition, details: { step, rank: manifest.rank } },
        );
      }
      // Every part is checked, ours too: a stat per pack is cheap, and it catches data that
      // disappeared under a save that stalled for long (e.g. swept as a dead attempt).
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
    const stepDir = this.layout.stepDir(step);
    const manifest: StepManifest = {
      formatVersion: FORMAT_VERSION,
      kind: "step",
      jobId: this.jobId,
      step,
      epoch: first.epoch,
      worldSize,
      createdAtMs: this.clock.now(),
      ranks: parts.map(({ manifest: m, bytes, key }) => ({
        rank: m.rank,
        manifestKey: key.slice(stepDir.length),
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

/** A complete step's info turned into what is left of it while retention deletes it. */
function deletingInfo(
  info: CheckpointInfo,
  s: StepScan,
  stillThere: string | undefined,
): CheckpointInfo {
  const left = allObjects(s).filter((i) => i.key.endsWith(".bin"));
  return {
    ...info,
    state: "deleting",
    totalSizeBytes: left.reduce((n, i) => n + i.sizeBytes, 0),
    note: `retention was deleting it (interrupted); ${stillThere === undefined ? "the step manifest is gone" : `${stillThere} is still there`}, ${left.length} data object(s) left; the next retention run removes the rest`,
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
