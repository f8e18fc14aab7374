import { randomBytes } from "node:crypto";
import {
  type CallOptions,
  type Clock,
  Code,
  createDeadlineSignal,
  createSilentLogger,
  type Logger,
  RuntimeError,
  retry,
  systemClock,
} from "@strata/runtime-core";
import type { StorageBackend } from "@strata/storage";
import {
  type CheckpointState,
  type StateSnapshot,
  snapshotState,
  validateState,
} from "./checkpoint-state.js";
import {
  type CheckpointDescription,
  type CheckpointInfo,
  CheckpointStore,
  type LoadedCheckpoint,
  type LoadOptions,
  type PruneOptions,
  type PruneResult,
  type StepCommit,
  signalOnly,
  type VerifyOptions,
  type VerifyReport,
} from "./checkpoint-store.js";
import { CHECKSUM_ALGORITHM, checksumOf } from "./checksum.js";
import { COMPRESSIONS, type Compression } from "./compression.js";
import { CheckpointLayout, MAX_RANK, packFileName } from "./layout.js";
import {
  encodeManifest,
  FORMAT_VERSION,
  type ManifestObject,
  type RankManifest,
} from "./manifest.js";
import { mapConcurrent } from "./map-concurrent.js";
import { writePack } from "./object-io.js";
import { normalizeRetention, type RetentionPolicy } from "./retention.js";

/**
 * What `save` does when `maxInFlight` snapshots are already waiting or being written:
 * - `block` (default): `save` waits until a write finishes and frees a slot. Training stalls,
 *   but no checkpoint is lost and memory stays bounded.
 * - `skip`: the new save is not taken; its handle has `status: "skipped"` and its `committed`
 *   promise rejects with `ResourceExhausted`. For "checkpoint when you can" schedules.
 * - `drop-oldest`: the oldest snapshot that has not started writing is dropped (its `committed`
 *   rejects with `Aborted`) to make room, so the newest state wins. If none is waiting (every
 *   slot is writing), it blocks like `block`.
 *
 * Skips and drops are counted (see `stats()`) and logged once per episode: one warning when
 * pressure starts and one with the count when a save next goes through without pressure.
 */
export type BackpressurePolicy = "block" | "skip" | "drop-oldest";

/** When a rank's commit also commits the step manifest. */
export type StepCommitMode = "auto" | "manual";

/** Options for {@link createCheckpointManager}. */
export interface CheckpointManagerOptions {
  /** Where checkpoints go. The manager never closes it: the caller owns it. */
  storage: StorageBackend;
  /** Key prefix inside the storage (`"checkpoints"`). Default `""` (the storage root). */
  prefix?: string;
  /** The training job; checkpoints of different jobs never meet. `A-Z a-z 0-9 . _ -`, up to 128. */
  jobId: string;
  /** This process's rank. Default 0. */
  rank?: number;
  /** Ranks that save each step. A step is complete only when all of them committed. Default 1. */
  worldSize?: number;
  /**
   * Snapshots held at once, waiting or being written (each is a full copy of the state in
   * memory). Writes run one at a time, in order. Default 2: one writing, one waiting.
   */
  maxInFlight?: number;
  /** See {@link BackpressurePolicy}. Default `block`. */
  backpressure?: BackpressurePolicy;
  /** How data objects are stored. Default `none`. `lz4` trades CPU for bytes. */
  compression?: Compression;
  /** Retention, applied in the background after each commit. Default: keep everything. */
  retention?: RetentionPolicy;
  /**
   * `auto` (default): after committing its part, a rank commits the step manifest if every rank
   * has committed (the last rank to finish does it; create-only makes races harmless). `manual`:
   * only `commitGlobalManifest` does, e.g. called by the coordinator's chosen rank.
   */
  stepCommit?: StepCommitMode;
  /** Bytes per streamed chunk when writing. Default 8 MiB. */
  chunkBytes?: number;
  /**
   * Buffers are written back to back into pack objects of up to this many raw bytes (a larger
   * buffer gets a pack of its own). Fewer objects mean fewer fsyncs on disk and fewer requests on
   * S3. Default 1 GiB.
   */
  maxPackBytes?: number;
  /**
   * Objects of one save written at once. Default: 1 for `file:` storage (a local disk took
   * sequential writes fastest in our benchmark; parallel fsyncs contend), 4 for anything else
   * (S3 requests overlap their latency).
   */
  writeConcurrency?: number;
  /**
   * Upper bound for writing one checkpoint, in ms; past it the save fails with
   * `DeadlineExceeded` instead of hanging on a stalled upload. Default: no bound.
   */
  persistTimeoutMs?: number;
  /** How long `close` lets in-flight saves finish before aborting them, in ms. Default 30,000. */
  closeGraceMs?: number;
  /** Time source (manifest times, grace periods). Default the system clock. */
  clock?: Clock;
  /** Default: silent. */
  logger?: Logger;
}

/** A committed rank part, as the `committed` promise of a save reports it. */
export interface CheckpointRef {
  jobId: string;
  step: number;
  epoch: number;
  rank: number;
  worldSize: number;
  rankManifestKey: string;
  stepManifestKey: string;
  /** Whether the whole step is committed (always true with worldSize 1 and `stepCommit: auto`). */
  stepComplete: boolean;
  objectCount: number;
  /** Stored bytes of this rank's data objects. */
  totalSizeBytes: number;
  /** The caller's bytes before compression. */
  rawSizeBytes: number;
  /** Time from the start of the write to the commit, in ms. */
  persistMs: number;
}

/** What `save` hands back as soon as the state is snapshotted. */
export interface SaveHandle {
  step: number;
  /** `queued`: it will be written. `skipped`: backpressure policy `skip` refused it. */
  status: "queued" | "skipped";
  /** Settles when the checkpoint is committed (or fails, is dropped, or is skipped). */
  committed: Promise<CheckpointRef>;
}

/** Counters since the manager was created. */
export interface CheckpointManagerStats {
  committed: number;
  failed: number;
  skipped: number;
  dropped: number;
  /** Snapshots waiting or being written now. */
  inFlight: number;
}

interface Job {
  step: number;
  snapshot: StateSnapshot | undefined;
  controller: AbortController;
  promise: Promise<CheckpointRef>;
  resolve: (ref: CheckpointRef) => void;
  reject: (error: RuntimeError) => void;
}

/** Options for {@link CheckpointManager.close}. */
export interface CloseOptions {
  /** Overrides `closeGraceMs` for this call. */
  graceMs?: number;
}

/**
 * Asynchronous, atomic, verified checkpoints for one rank of one job over any
 * {@link StorageBackend}.
 *
 * `save` copies the state (the only stall training sees) and returns; a background pipeline
 * streams each buffer to storage with its XXH3-64 checksum computed on the way, then writes the rank
 * manifest create-only, then (when every rank has committed) the step manifest. Readers only see
 * steps whose step manifest exists, so a crash at any moment leaves either the previous
 * checkpoints or the new one, never a half-written one that looks complete.
 */
export class CheckpointManager implements AsyncDisposable {
  readonly jobId: string;
  readonly rank: number;
  readonly worldSize: number;
  readonly #storage: StorageBackend;
  readonly #layout: CheckpointLayout;
  readonly #store: CheckpointStore;
  readonly #maxInFlight: number;
  readonly #backpressure: BackpressurePolicy;
  readonly #compression: Compression;
  readonly #retention: Required<RetentionPolicy> | undefined;
  readonly #stepCommit: StepCommitMode;
  readonly #chunkBytes: number;
  readonly #writeConcurrency: number;
  readonly #maxPackBytes: number;
  readonly #persistTimeoutMs: number | undefined;
  readonly #closeGraceMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;

  readonly #queue: Job[] = [];
  #writing: Job | undefined;
  #slotWaiters: (() => void)[] = [];
  #closing: Promise<void> | undefined;
  #retentionChain: Promise<void> = Promise.resolve();
  #pressureEpisode = 0;
  readonly #stats = { committed: 0, failed: 0, skipped: 0, dropped: 0 };

  constructor(options: CheckpointManagerOptions) {
    if (typeof options !== "object" || options === null) invalid("options", "must be an object");
    if (
      typeof options.storage !== "object" ||
      options.storage === null ||
      typeof options.storage.put !== "function"
    ) {
      invalid("storage", "must be a StorageBackend");
    }
    this.#storage = options.storage;
    this.#layout = new CheckpointLayout(options.prefix ?? "", options.jobId);
    this.jobId = options.jobId;
    this.worldSize = integer("worldSize", options.worldSize ?? 1, 1, MAX_RANK + 1);
    this.rank = integer("rank", options.rank ?? 0, 0, this.worldSize - 1);
    this.#maxInFlight = integer("maxInFlight", options.maxInFlight ?? 2, 1, 1024);
    this.#backpressure = options.backpressure ?? "block";
    if (!["block", "skip", "drop-oldest"].includes(this.#backpressure)) {
      invalid(
        "backpressure",
        `must be block, skip or drop-oldest, got ${String(this.#backpressure)}`,
      );
    }
    this.#compression = options.compression ?? "none";
    if (!COMPRESSIONS.includes(this.#compression)) {
      invalid(
        "compression",
        `must be one of ${COMPRESSIONS.join(", ")}, got ${String(this.#compression)}`,
      );
    }
    this.#retention =
      options.retention === undefined ? undefined : normalizeRetention(options.retention);
    this.#stepCommit = options.stepCommit ?? "auto";
    if (this.#stepCommit !== "auto" && this.#stepCommit !== "manual") {
      invalid("stepCommit", `must be auto or manual, got ${String(this.#stepCommit)}`);
    }
    this.#chunkBytes = integer(
      "chunkBytes",
      options.chunkBytes ?? 8 * 1024 * 1024,
      4096,
      64 * 1024 * 1024,
    );
    this.#writeConcurrency = integer(
      "writeConcurrency",
      options.writeConcurrency ?? (String(options.storage.uri).startsWith("file:") ? 1 : 4),
      1,
      64,
    );
    this.#maxPackBytes = integer(
      "maxPackBytes",
      options.maxPackBytes ?? 1024 * 1024 * 1024,
      1,
      Number.MAX_SAFE_INTEGER,
    );
    this.#persistTimeoutMs =
      options.persistTimeoutMs === undefined
        ? undefined
        : integer("persistTimeoutMs", options.persistTimeoutMs, 1, Number.MAX_SAFE_INTEGER);
    this.#closeGraceMs = integer(
      "closeGraceMs",
      options.closeGraceMs ?? 30_000,
      0,
      Number.MAX_SAFE_INTEGER,
    );
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? createSilentLogger();
    this.#store = new CheckpointStore(
      this.#storage,
      this.#layout,
      this.jobId,
      this.#clock,
      this.#logger,
    );
  }

  /** `<prefix>/<jobId>/`: every key this manager writes or deletes starts with it. */
  get jobRoot(): string {
    return this.#layout.jobRoot;
  }

  /**
   * Snapshots `state` and schedules its write. Resolves as soon as the state is copied (every
   * buffer once, plus the JSON parts), so the caller may change or reuse its buffers right away;
   * that copy is the whole training stall, unless the backpressure policy makes `save` wait for
   * a slot first. `options` bound only that wait.
   *
   * Fails at once with `InvalidArgument` for a bad state, `AlreadyExists` if this step is already
   * in flight here, and `FailedPrecondition` once `close` was called. Write failures reject the
   * handle's `committed` promise instead (`AlreadyExists` if the step and rank were committed
   * before; storage errors as they are); a failed save leaves earlier checkpoints untouched.
   */
  async save(state: CheckpointState, options: CallOptions = {}): Promise<SaveHandle> {
    this.#assertOpen();
    // Validate before any backpressure decision: a bad state fails, it is never "skipped".
    const { step } = validateState(state);
    this.#assertNotInFlight(step);
    if (this.#inFlight() >= this.#maxInFlight) {
      if (this.#backpressure === "skip") {
        this.#stats.skipped++;
        this.#notePressure("skip", step);
        const committed = Promise.reject(
          new RuntimeError(
            `checkpoint step ${step} skipped: ${this.#maxInFlight} saves already in flight (backpressure skip)`,
            { code: Code.ResourceExhausted, details: { step } },
          ),
        );
        committed.catch(() => {});
        return { step, status: "skipped", committed };
      }
      if (this.#backpressure === "drop-oldest") {
        const oldest = this.#queue.shift();
        if (oldest !== undefined) {
          this.#stats.dropped++;
          this.#notePressure("drop-oldest", step);
          oldest.snapshot = undefined;
          oldest.reject(
            new RuntimeError(
              `checkpoint step ${oldest.step} dropped for newer step ${step} (backpressure drop-oldest)`,
              {
                code: Code.Aborted,
                details: { step: oldest.step },
              },
            ),
          );
        }
      }
      await this.#waitForSlot(options);
      this.#assertOpen();
      this.#assertNotInFlight(step);
    } else {
      this.#endPressureEpisode();
    }
    const snapshot = snapshotState(state);
    let resolve!: (ref: CheckpointRef) => void;
    let reject!: (error: RuntimeError) => void;
    const promise = new Promise<CheckpointRef>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // The caller may never await `committed`; failures are still logged and counted.
    promise.catch(() => {});
    const job: Job = {
      step: snapshot.step,
      snapshot,
      controller: new AbortController(),
      promise,
      resolve,
      reject,
    };
    this.#queue.push(job);
    this.#pump();
    return { step: snapshot.step, status: "queued", committed: promise };
  }

  /**
   * Waits until every save issued before this call has settled, and the retention run they
   * triggered. Rejects if any of them failed (naming how many and the first error), but the
   * failure is not sticky: a later flush only reports later saves. `timeoutMs`/`signal` bound the
   * wait only; the writes go on.
   */
  async flush(options: CallOptions = {}): Promise<void> {
    const jobs = [...(this.#writing ? [this.#writing] : []), ...this.#queue];
    const deadline = createDeadlineSignal("checkpoint flush", options);
    try {
      const settled = await raceSignal(
        Promise.allSettled(jobs.map((j) => j.promise)).then(async (r) => {
          await this.#retentionChain;
          return r;
        }),
        deadline.signal,
        "checkpoint flush",
      );
      const failures = settled.flatMap((r) =>
        r.status === "rejected" ? [RuntimeError.from(r.reason)] : [],
      );
      const first = failures[0];
      if (first !== undefined) {
        throw new RuntimeError(
          `${failures.length} of ${jobs.length} checkpoint saves failed; first: ${first.rawMessage}`,
          { code: first.code, cause: first },
        );
      }
    } finally {
      deadline.cleanup();
    }
  }

  /**
   * Stops taking saves, lets in-flight ones finish for up to `closeGraceMs`, then aborts what is
   * left (their `committed` promises reject with `Canceled`; nothing half-written becomes
   * visible). Idempotent: every call returns the same promise. Never rejects. Does not close the
   * storage backend.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options.graceMs ?? this.#closeGraceMs);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Counters, for metrics and tests. */
  stats(): CheckpointManagerStats {
    return { ...this.#stats, inFlight: this.#inFlight() };
  }

  /**
   * Complete checkpoints of this job, oldest step first (step, epoch, ranks, size). A step appears
   * once its step manifest exists; pass `includePartial` to also see partial and corrupt steps.
   * Listing does not verify data; `latest` and `verify` do.
   */
  list(options: CallOptions & { includePartial?: boolean } = {}): Promise<CheckpointInfo[]> {
    return this.#withDeadline("list checkpoints", options, (o) =>
      this.#store.list({ ...o, includePartial: options.includePartial ?? false }),
    );
  }

  /**
   * The newest complete checkpoint whose every object verifies (sizes and checksums of all
   * ranks; results are cached per step in this process), or `undefined`. A corrupt or partial
   * newer step is skipped with a warning and the previous good one is returned.
   */
  latest(options: CallOptions = {}): Promise<CheckpointInfo | undefined> {
    return this.#withDeadline("latest checkpoint", options, (o) => this.#store.latest(o));
  }

  /**
   * Loads one rank's part of `step` (default: `latest()`; default rank: this manager's rank),
   * checking every object's size and checksum. A missing, truncated or damaged object is
   * `DataLoss` naming it; a step that does not exist is `NotFound`; a partial step is
   * `FailedPrecondition`.
   */
  async load(step?: number, options: LoadOptions = {}): Promise<LoadedCheckpoint> {
    if (step !== undefined) integer("step", step, 0, Number.MAX_SAFE_INTEGER);
    const rank = options.rank ?? this.rank;
    integer("rank", rank, 0, MAX_RANK);
    return this.#withDeadline(`load checkpoint ${step ?? "latest"}`, options, (o) =>
      this.#store.load(step, rank, { ...options, ...o }),
    );
  }

  /**
   * Reads every object of every rank of `step` and checks sizes and checksums; reports all
   * problems instead of stopping at the first. `NotFound` if the step does not exist at all.
   */
  async verify(step: number, options: VerifyOptions = {}): Promise<VerifyReport> {
    integer("step", step, 0, Number.MAX_SAFE_INTEGER);
    return this.#withDeadline(`verify checkpoint ${step}`, options, (o) =>
      this.#store.verify(step, { ...options, ...o }),
    );
  }

  /** The step manifest and every rank manifest of a committed step, checked but without reading data. */
  async describe(step: number, options: CallOptions = {}): Promise<CheckpointDescription> {
    integer("step", step, 0, Number.MAX_SAFE_INTEGER);
    return this.#withDeadline(`describe checkpoint ${step}`, options, (o) =>
      this.#store.describe(step, o),
    );
  }

  /** Whether `step`'s step manifest exists and is intact (every rank committed). */
  async isStepComplete(step: number, options: CallOptions = {}): Promise<boolean> {
    integer("step", step, 0, Number.MAX_SAFE_INTEGER);
    return this.#withDeadline("isStepComplete", options, (o) =>
      this.#store.isStepComplete(step, o),
    );
  }

  /**
   * Commits the step manifest of `step` for `worldSize` ranks (default: the manager's) once
   * every rank's manifest exists and checks out (objects present with the recorded sizes; `deep`
   * re-reads every byte). `FailedPrecondition` names missing ranks. Create-only: when another
   * process won, returns its manifest with `created: false`.
   */
  async commitGlobalManifest(
    step: number,
    worldSize: number = this.worldSize,
    options: CallOptions & { deep?: boolean } = {},
  ): Promise<StepCommit> {
    integer("step", step, 0, Number.MAX_SAFE_INTEGER);
    integer("worldSize", worldSize, 1, MAX_RANK + 1);
    return this.#withDeadline(`commit step ${step}`, options, (o) =>
      this.#store.commitStep(step, worldSize, { ...o, ...(options.deep ? { deep: true } : {}) }),
    );
  }

  /**
   * Applies the retention policy now (default: the manager's `retention`; fields given here
   * override it). `dryRun` reports without deleting. See {@link RetentionPolicy} for the rules.
   */
  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    const keepLast = options.keepLast ?? this.#retention?.keepLast;
    if (keepLast === undefined) {
      invalid("keepLast", "is required (the manager has no retention policy)");
    }
    const policy: RetentionPolicy = {
      keepLast,
      ...((options.keepEvery ?? this.#retention?.keepEvery) === undefined
        ? {}
        : { keepEvery: options.keepEvery ?? this.#retention?.keepEvery }),
      ...((options.orphanGraceMs ?? this.#retention?.orphanGraceMs) === undefined
        ? {}
        : { orphanGraceMs: options.orphanGraceMs ?? this.#retention?.orphanGraceMs }),
    };
    return this.#withDeadline("prune checkpoints", options, (o) =>
      this.#store.prune(policy, { ...o, dryRun: options.dryRun ?? false }),
    );
  }

  /** The step the `LATEST` hint names, if any. Only a hint: it may lag or name a deleted step. */
  readLatestHint(options: CallOptions = {}): Promise<number | undefined> {
    return this.#withDeadline("read LATEST", options, (o) => this.#store.readLatestHint(o));
  }

  // ---- internals ----

  #inFlight(): number {
    return this.#queue.length + (this.#writing === undefined ? 0 : 1);
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) {
      throw new RuntimeError("checkpoint manager is closed", { code: Code.FailedPrecondition });
    }
  }

  #assertNotInFlight(step: unknown): void {
    if (this.#writing?.step === step || this.#queue.some((j) => j.step === step)) {
      throw new RuntimeError(`checkpoint step ${String(step)} is already being saved`, {
        code: Code.AlreadyExists,
        details: { step },
      });
    }
  }

  #notePressure(policy: BackpressurePolicy, step: number): void {
    if (this.#pressureEpisode === 0) {
      this.#logger.warn(
        { step, policy, maxInFlight: this.#maxInFlight },
        "checkpoint backpressure: saves arrive faster than storage takes them",
      );
    }
    this.#pressureEpisode++;
  }

  #endPressureEpisode(): void {
    if (this.#pressureEpisode > 0) {
      this.#logger.warn(
        { count: this.#pressureEpisode, policy: this.#backpressure },
        "checkpoint backpressure episode ended",
      );
      this.#pressureEpisode = 0;
    }
  }

  async #waitForSlot(options: CallOptions): Promise<void> {
    const deadline = createDeadlineSignal("checkpoint save (waiting for a free slot)", options);
    try {
      while (this.#inFlight() >= this.#maxInFlight) {
        this.#assertOpen();
        await raceSignal(
          new Promise<void>((resolve) => this.#slotWaiters.push(resolve)),
          deadline.signal,
          "checkpoint save",
        );
      }
    } finally {
      deadline.cleanup();
    }
  }

  #wakeSlotWaiters(): void {
    const waiters = this.#slotWaiters;
    this.#slotWaiters = [];
    for (const wake of waiters) wake();
  }

  #pump(): void {
    if (this.#writing !== undefined) return;
    const job = this.#queue.shift();
    if (job === undefined) return;
    this.#writing = job;
    const started = this.#clock.now();
    const settle = () => {
      // Free the slot before settling, so code awaiting `committed` may save again at once.
      job.snapshot = undefined;
      this.#writing = undefined;
      this.#wakeSlotWaiters();
      queueMicrotask(() => this.#pump());
    };
    this.#persist(job, started).then(
      (ref) => {
        settle();
        this.#stats.committed++;
        this.#logger.info(
          { step: ref.step, rank: ref.rank, bytes: ref.totalSizeBytes, persistMs: ref.persistMs },
          "checkpoint committed",
        );
        if (ref.stepComplete) this.#scheduleRetention();
        job.resolve(ref);
      },
      (error: unknown) => {
        settle();
        const e = RuntimeError.from(error);
        this.#stats.failed++;
        this.#logger.error({ step: job.step, err: e }, "checkpoint save failed");
        job.reject(e);
      },
    );
  }

  async #persist(job: Job, startedMs: number): Promise<CheckpointRef> {
    const snapshot = job.snapshot;
    if (snapshot === undefined)
      throw new RuntimeError("snapshot released", { code: Code.Internal });
    const deadline = createDeadlineSignal(`checkpoint step ${job.step}`, {
      signal: job.controller.signal,
      ...(this.#persistTimeoutMs === undefined ? {} : { timeoutMs: this.#persistTimeoutMs }),
    });
    const signal = deadline.signal;
    const step = snapshot.step;
    const rankManifestKey = this.#layout.rankManifestKey(step, this.rank);
    const written: string[] = [];
    try {
      if ((await this.#storage.stat(rankManifestKey, { signal })) !== undefined) {
        throw new RuntimeError(
          `checkpoint step ${step} rank ${this.rank} of job ${this.jobId} is already committed`,
          { code: Code.AlreadyExists, details: { step, key: rankManifestKey } },
        );
      }
      const attemptId = randomBytes(6).toString("hex");
      const dir = this.#layout.rankDir(step, this.rank);
      const packs = groupIntoPacks(snapshot.buffers, this.#maxPackBytes);
      const packed = await mapConcurrent(packs, this.#writeConcurrency, async (pack, p) => {
        const relativeKey = `${attemptId}/${packFileName(p)}`;
        const key = `${dir}${relativeKey}`;
        written.push(key);
        const placed = await writePack(
          this.#storage,
          key,
          pack.map((b) => b.bytes),
          { compression: this.#compression, chunkBytes: this.#chunkBytes, signal },
        );
        return pack.map((b, i) => {
          const where = placed[i] as (typeof placed)[number];
          return {
            name: b.name,
            key: relativeKey,
            offset: where.offset,
            sizeBytes: where.sizeBytes,
            checksum: where.checksum,
            algorithm: CHECKSUM_ALGORITHM,
            compression: this.#compression,
            rawSizeBytes: where.rawSizeBytes,
            dtype: b.dtype,
          } satisfies ManifestObject;
        });
      });
      const objects = packed.flat();
      const manifest: RankManifest = {
        formatVersion: FORMAT_VERSION,
        kind: "rank",
        jobId: this.jobId,
        step,
        epoch: snapshot.epoch,
        rank: this.rank,
        worldSize: this.worldSize,
        attemptId,
        createdAtMs: this.#clock.now(),
        objects,
        totalSizeBytes: objects.reduce((n, o) => n + o.sizeBytes, 0),
        dataPosition: snapshot.dataPosition,
        metadata: snapshot.metadata,
      };
      // The snapshot is no longer needed; let it go before the (small) commit writes.
      job.snapshot = undefined;
      await this.#commitRankManifest(rankManifestKey, manifest, signal, () => {
        // The outcome of the manifest write is unknown: the data might now be referenced, so it
        // must not be deleted here (prune's orphan sweep removes it if the commit did not land).
        written.length = 0;
      });
      written.length = 0; // committed: the data now belongs to the manifest
      let stepComplete = false;
      if (this.#stepCommit === "auto") {
        try {
          const commit = await this.#store.commitStep(step, this.worldSize, {
            signal,
            known: new Map([[this.rank, manifest]]),
          });
          stepComplete = true;
          // We wrote (and checksummed) every byte of a single-rank step ourselves.
          if (commit.created && this.worldSize === 1) {
            this.#store.markVerified(step, checksumOf(encodeManifest(commit.manifest)));
          }
        } catch (error) {
          const e = RuntimeError.from(error);
          if (e.code !== Code.FailedPrecondition) throw e;
          this.#logger.debug(
            { step, err: e },
            "step not complete yet; another rank will commit it",
          );
        }
      }
      return {
        jobId: this.jobId,
        step,
        epoch: snapshot.epoch,
        rank: this.rank,
        worldSize: this.worldSize,
        rankManifestKey,
        stepManifestKey: this.#layout.stepManifestKey(step),
        stepComplete,
        objectCount: objects.length,
        totalSizeBytes: manifest.totalSizeBytes,
        rawSizeBytes: snapshot.rawSizeBytes,
        persistMs: this.#clock.now() - startedMs,
      };
    } catch (error) {
      if (written.length > 0) {
        // Uncommitted data is invisible to readers; deleting it now only saves space (prune's
        // orphan sweep catches whatever this misses, e.g. after a crash).
        await this.#storage.deleteMany([...written]).catch((cleanupError: unknown) => {
          this.#logger.debug({ err: cleanupError, step }, "could not delete uncommitted data");
        });
      }
      throw signal.aborted ? RuntimeError.from(signal.reason) : error;
    } finally {
      deadline.cleanup();
    }
  }

  /**
   * Writes the rank manifest create-only, retrying transient failures. A write can succeed on the
   * server and still fail for us (a timeout after the upload landed), so on `AlreadyExists` or an
   * unknown outcome we read the manifest back: if it carries our attempt id, the commit landed.
   */
  async #commitRankManifest(
    key: string,
    manifest: RankManifest,
    signal: AbortSignal,
    onUncertain: () => void,
  ): Promise<void> {
    const bytes = encodeManifest(manifest);
    const ours = async (): Promise<boolean | undefined> => {
      try {
        const stored = await this.#store.readRankManifest(manifest.step, manifest.rank, undefined, {
          signal,
        });
        return stored === undefined ? false : stored.manifest.attemptId === manifest.attemptId;
      } catch {
        return undefined; // unreadable: we cannot tell
      }
    };
    try {
      await retry(
        async (attemptSignal) => {
          try {
            await this.#storage.put(key, bytes, { createOnly: true, signal: attemptSignal });
          } catch (error) {
            const e = RuntimeError.from(error);
            if (e.code === Code.AlreadyExists && (await ours()) === true) return;
            if (e.code !== Code.AlreadyExists) onUncertain();
            throw e;
          }
        },
        { operation: `commit ${key}`, maxAttempts: 3, signal },
      );
    } catch (error) {
      const e = RuntimeError.from(error);
      if (e.code === Code.AlreadyExists) {
        throw new RuntimeError(
          `checkpoint step ${manifest.step} rank ${manifest.rank} was committed by another writer first`,
          { code: Code.AlreadyExists, cause: e, details: { step: manifest.step, key } },
        );
      }
      if ((await ours()) === true) return;
      throw e;
    }
  }

  #scheduleRetention(): void {
    const retention = this.#retention;
    if (retention === undefined) return;
    this.#retentionChain = this.#retentionChain
      .then(async () => {
        const result = await this.#store.prune(retention);
        if (result.deletedSteps.length > 0 || result.deletedOrphanKeys.length > 0) {
          this.#logger.info(
            { deletedSteps: result.deletedSteps, orphans: result.deletedOrphanKeys.length },
            "retention applied",
          );
        }
      })
      .catch((error: unknown) => {
        this.#logger.warn({ err: error }, "retention failed; will retry after the next commit");
      });
  }

  async #close(graceMs: number): Promise<void> {
    this.#wakeSlotWaiters();
    const jobs = [...(this.#writing ? [this.#writing] : []), ...this.#queue];
    let forced = false;
    const timer = this.#clock.setTimeout(
      () => {
        forced = true;
        this.#logger.warn(
          { inFlight: this.#inFlight(), graceMs },
          "checkpoint close: grace period over, aborting saves",
        );
        for (const job of this.#queue.splice(0)) {
          job.snapshot = undefined;
          job.reject(
            new RuntimeError(`checkpoint step ${job.step} canceled by close`, {
              code: Code.Canceled,
            }),
          );
        }
        this.#writing?.controller.abort(
          new RuntimeError("checkpoint save canceled by close", { code: Code.Canceled }),
        );
      },
      graceMs,
      { unref: true },
    );
    try {
      await Promise.allSettled(jobs.map((j) => j.promise));
      await this.#retentionChain;
    } finally {
      this.#clock.clearTimeout(timer);
    }
    if (forced) this.#logger.warn("checkpoint manager closed after aborting in-flight saves");
  }

  async #withDeadline<T>(
    operation: string,
    options: CallOptions,
    fn: (options: CallOptions) => Promise<T>,
  ): Promise<T> {
    const deadline = createDeadlineSignal(operation, options);
    try {
      return await raceSignal(
        fn(signalOnly({ signal: deadline.signal })),
        deadline.signal,
        operation,
      );
    } finally {
      deadline.cleanup();
    }
  }
}

/** Creates a {@link CheckpointManager}; see {@link CheckpointManagerOptions} for defaults. */
export function createCheckpointManager(options: CheckpointManagerOptions): CheckpointManager {
  return new CheckpointManager(options);
}

/** Splits buffers, in order, into packs of at most `maxPackBytes` raw bytes (never splitting a buffer). */
function groupIntoPacks<T extends { bytes: Uint8Array }>(
  buffers: readonly T[],
  maxPackBytes: number,
): T[][] {
  const packs: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const b of buffers) {
    if (current.length > 0 && size + b.bytes.length > maxPackBytes) {
      packs.push(current);
      current = [];
      size = 0;
    }
    current.push(b);
    size += b.bytes.length;
  }
  if (current.length > 0) packs.push(current);
  return packs;
}

function invalid(field: string, why: string): never {
  throw new RuntimeError(`invalid checkpoint option: ${field} ${why}`, {
    code: Code.InvalidArgument,
    details: { field },
  });
}

function integer(field: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    invalid(field, `must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

/** Settles with `promise`, or rejects with the abort reason as soon as `signal` aborts. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal, operation: string): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortError(signal, operation));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal, operation));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function abortError(signal: AbortSignal, operation: string): RuntimeError {
  const reason: unknown = signal.reason;
  if (reason instanceof RuntimeError) return reason;
  return new RuntimeError(`${operation} was canceled`, { code: Code.Canceled, cause: reason });
}
