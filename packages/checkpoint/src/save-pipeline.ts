import { randomBytes } from "node:crypto";
import {
  type CallOptions,
  type Clock,
  Code,
  createDeadlineSignal,
  type Logger,
  RuntimeError,
  retry,
} from "@strata/runtime-core";
import type { StorageBackend } from "@strata/storage";
import {
  type CheckpointState,
  type StateSnapshot,
  snapshotState,
  validateState,
} from "./checkpoint-state.js";
import type { CheckpointStore } from "./checkpoint-store.js";
import { CHECKSUM_ALGORITHM, checksumOf } from "./checksum.js";
import type { Compression } from "./compression.js";
import { type CheckpointLayout, newAttemptId, packFileName } from "./layout.js";
import {
  encodeManifest,
  FORMAT_VERSION,
  type ManifestObject,
  type RankManifest,
} from "./manifest.js";
import { mapConcurrent } from "./map-concurrent.js";
import { writePack } from "./object-io.js";
import { raceSignal } from "./race-signal.js";
import { commitStep } from "./step-commit.js";

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
  /** The save attempt whose data is this rank's part of the step (the folder it lives in). */
  attemptId: string;
  /**
   * False when the step was committed by another process with an intact part of this rank from
   * an earlier attempt (after a restart, another rank completed the step with it), so the bytes
   * of this save are not used (retention removes them). The step is committed either way.
   */
  ownAttemptCommitted: boolean;
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

interface Job {
  step: number;
  snapshot: StateSnapshot | undefined;
  controller: AbortController;
  promise: Promise<CheckpointRef>;
  resolve: (ref: CheckpointRef) => void;
  reject: (error: RuntimeError) => void;
}

/** Everything the write pipeline needs, validated by the manager. @internal */
export interface SavePipelineOptions {
  storage: StorageBackend;
  layout: CheckpointLayout;
  store: CheckpointStore;
  jobId: string;
  rank: number;
  worldSize: number;
  maxInFlight: number;
  backpressure: BackpressurePolicy;
  compression: Compression;
  stepCommit: StepCommitMode;
  chunkBytes: number;
  writeConcurrency: number;
  maxPackBytes: number;
  persistTimeoutMs: number | undefined;
  clock: Clock;
  logger: Logger;
  /**
   * Called after each commit of this rank's part (before its `committed` promise resolves);
   * `createdStep` says whether this commit also wrote the step manifest.
   */
  onCommitted: (ref: CheckpointRef, createdStep: boolean) => void;
  /**
   * Runs once before the first write of this process (errors are the hook's to handle), e.g. a
   * retention run that clears what a previous, killed process left before anything is added.
   */
  beforeFirstWrite?: () => Promise<void>;
}

/**
 * The write side of a {@link CheckpointManager}: `save` snapshots the state into a slot, and a
 * background pump writes the snapshots one at a time, in order. Each write streams the buffers
 * into pack objects of a fresh attempt folder (checksums computed on the way), writes the rank
 * manifest create-only (the rank's commit point), then, with `stepCommit: "auto"`, the step
 * manifest once every rank has committed (the step's commit point).
 *
 * @internal
 */
export class SavePipeline {
  readonly #options: SavePipelineOptions;
  readonly #queue: Job[] = [];
  #writing: Job | undefined;
  #slotWaiters: (() => void)[] = [];
  #closing: Promise<void> | undefined;
  #pressureEpisode = 0;
  readonly #stats = { committed: 0, failed: 0, skipped: 0, dropped: 0 };
  /** Steps this pipeline committed: saving one of them again is a caller's mistake. */
  readonly #committedHere = new Set<number>();
  /** Steps whose step manifest this pipeline wrote, until `onCommitted` reports them. */
  readonly #createdSteps = new Set<number>();
  #prepared: Promise<void> | undefined;

  constructor(options: SavePipelineOptions) {
    this.#options = options;
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Counters, for metrics and tests. */
  stats(): CheckpointManagerStats {
    return { ...this.#stats, inFlight: this.#inFlight() };
  }

  /** The promises of every save waiting or being written now. */
  pending(): Promise<CheckpointRef>[] {
    return [...(this.#writing ? [this.#writing] : []), ...this.#queue].map((j) => j.promise);
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
    if (this.#inFlight() >= this.#options.maxInFlight) {
      if (this.#options.backpressure === "skip") {
        this.#stats.skipped++;
        this.#notePressure("skip", step);
        const committed = Promise.reject(
          new RuntimeError(
            `checkpoint step ${step} skipped: ${this.#options.maxInFlight} saves already in flight (backpressure skip)`,
            { code: Code.ResourceExhausted, details: { step } },
          ),
        );
        committed.catch(() => {});
        return { step, status: "skipped", committed };
      }
      if (this.#options.backpressure === "drop-oldest") {
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
      this.#options.logger.warn(
        { step, policy, maxInFlight: this.#options.maxInFlight },
        "checkpoint backpressure: saves arrive faster than storage takes them",
      );
    }
    this.#pressureEpisode++;
  }

  #endPressureEpisode(): void {
    if (this.#pressureEpisode > 0) {
      this.#options.logger.warn(
        { count: this.#pressureEpisode, policy: this.#options.backpressure },
        "checkpoint backpressure episode ended",
      );
      this.#pressureEpisode = 0;
    }
  }

  async #waitForSlot(options: CallOptions): Promise<void> {
    const deadline = createDeadlineSignal("checkpoint save (waiting for a free slot)", options);
    try {
      while (this.#inFlight() >= this.#options.maxInFlight) {
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
    const settle = () => {
      // Free the slot before settling, so code awaiting `committed` may save again at once.
      job.snapshot = undefined;
      this.#writing = undefined;
      this.#wakeSlotWaiters();
      queueMicrotask(() => this.#pump());
    };
    this.#prepared ??= (this.#options.beforeFirstWrite?.() ?? Promise.resolve()).catch(
      () => undefined,
    );
    this.#prepared
      .then(() => this.#persist(job, this.#options.clock.now()))
      .then(
        (ref) => {
          if (ref.stepComplete) this.#committedHere.add(ref.step);
          settle();
          this.#stats.committed++;
          this.#options.logger.info(
            { step: ref.step, rank: ref.rank, bytes: ref.totalSizeBytes, persistMs: ref.persistMs },
            "checkpoint committed",
          );
          this.#options.onCommitted(ref, this.#createdSteps.delete(ref.step));
          job.resolve(ref);
        },
        (error: unknown) => {
          settle();
          const e = RuntimeError.from(error);
          this.#stats.failed++;
          this.#options.logger.error({ step: job.step, err: e }, "checkpoint save failed");
          job.reject(e);
        },
      );
  }

  async #persist(job: Job, startedMs: number): Promise<CheckpointRef> {
    const snapshot = job.snapshot;
    if (snapshot === undefined)
      throw new RuntimeError("snapshot released", { code: Code.Internal });
    const o = this.#options;
    const deadline = createDeadlineSignal(`checkpoint step ${job.step}`, {
      signal: job.controller.signal,
      ...(o.persistTimeoutMs === undefined ? {} : { timeoutMs: o.persistTimeoutMs }),
    });
    const signal = deadline.signal;
    const step = snapshot.step;
    const rank = o.rank;
    const written: string[] = [];
    try {
      const stepManifestKey = o.layout.stepManifestKey(step);
      if ((await o.storage.stat(stepManifestKey, { signal })) !== undefined) {
        // Committed already: by this process (a mistake), or by a previous run whose part of
        // this rank is intact (a restarted job saving the step again): then that is the result.
        if (this.#committedHere.has(step)) throw alreadyCommitted(o.jobId, step, stepManifestKey);
        return await this.#adoptCommitted(step, snapshot, startedMs, signal);
      }
      // A fresh attempt folder: an earlier attempt at this step (a crash, a retry, a racing
      // writer) keeps its own folder, and the step manifest will name this one.
      const attemptId = newAttemptId(o.clock.now(), randomBytes(4).toString("hex"));
      const attemptDir = o.layout.attemptDir(step, rank, attemptId);
      const packs = groupIntoPacks(snapshot.buffers, o.maxPackBytes);
      const packed = await mapConcurrent(packs, o.writeConcurrency, async (pack, p) => {
        const relativeKey = `${attemptId}/${packFileName(p)}`;
        const key = `${attemptDir}${packFileName(p)}`;
        written.push(key);
        const placed = await writePack(
          o.storage,
          key,
          pack.map((b) => b.bytes),
          { compression: o.compression, chunkBytes: o.chunkBytes, signal },
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
            compression: o.compression,
            rawSizeBytes: where.rawSizeBytes,
            dtype: b.dtype,
          } satisfies ManifestObject;
        });
      });
      const objects = packed.flat();
      const manifest: RankManifest = {
        formatVersion: FORMAT_VERSION,
        kind: "rank",
        jobId: o.jobId,
        step,
        epoch: snapshot.epoch,
        rank,
        worldSize: o.worldSize,
        attemptId,
        createdAtMs: o.clock.now(),
        objects,
        totalSizeBytes: objects.reduce((n, x) => n + x.sizeBytes, 0),
        dataPosition: snapshot.dataPosition,
        metadata: snapshot.metadata,
      };
      // The snapshot is no longer needed; let it go before the (small) commit writes.
      job.snapshot = undefined;
      const rankManifestKey = o.layout.rankManifestKey(step, rank, attemptId);
      const ownKeys = [...written, rankManifestKey];
      await this.#commitRankManifest(rankManifestKey, manifest, signal, () => {
        // The outcome of the manifest write is unknown: the data might now be referenced, so it
        // must not be deleted here (retention removes it if the commit did not land).
        written.length = 0;
      });
      written.length = 0; // committed: the data now belongs to the manifest
      let stepComplete = false;
      if (o.stepCommit === "auto") {
        try {
          const commit = await commitStep(o.store, step, o.worldSize, {
            signal,
            own: { rank, attemptId },
          });
          if (commit.manifest.ranks[rank]?.attemptId !== attemptId) {
            // Another rank completed the step while we wrote, with an earlier attempt's part of
            // this rank: that is the committed result, and our attempt is garbage now.
            const adopted = await this.#adoptCommitted(step, snapshot, startedMs, signal);
            await o.storage.deleteMany(ownKeys, { signal }).catch((cleanupError: unknown) => {
              o.logger.debug({ err: cleanupError, step }, "could not delete a superseded attempt");
            });
            return adopted;
          }
          stepComplete = true;
          if (commit.created) this.#createdSteps.add(step);
          // We wrote (and checksummed) every byte of a single-rank step ourselves.
          if (commit.created && o.worldSize === 1) {
            o.store.markVerified(step, checksumOf(encodeManifest(commit.manifest)));
          }
        } catch (error) {
          const e = RuntimeError.from(error);
          if (e.code !== Code.FailedPrecondition) throw e;
          o.logger.debug({ step, err: e }, "step not complete yet; another rank will commit it");
        }
      }
      return {
        jobId: o.jobId,
        step,
        epoch: snapshot.epoch,
        rank,
        worldSize: o.worldSize,
        rankManifestKey,
        stepManifestKey,
        stepComplete,
        objectCount: objects.length,
        totalSizeBytes: manifest.totalSizeBytes,
        rawSizeBytes: snapshot.rawSizeBytes,
        persistMs: o.clock.now() - startedMs,
        attemptId,
        ownAttemptCommitted: true,
      };
    } catch (error) {
      if (written.length > 0) {
        // Uncommitted data is invisible to readers; deleting it now only saves space (retention
        // catches whatever this misses, e.g. after a crash).
        await o.storage.deleteMany([...written]).catch((cleanupError: unknown) => {
          o.logger.debug({ err: cleanupError, step }, "could not delete uncommitted data");
        });
      }
      throw signal.aborted ? RuntimeError.from(signal.reason) : error;
    } finally {
      deadline.cleanup();
    }
  }

  /**
   * The result of a save whose step another process committed: this rank's part in it (from an
   * earlier attempt) must be intact, or the save fails with `AlreadyExists` (a committed step is
   * never replaced).
   */
  async #adoptCommitted(
    step: number,
    snapshot: StateSnapshot,
    startedMs: number,
    signal: AbortSignal,
  ): Promise<CheckpointRef> {
    const o = this.#options;
    const key = o.layout.stepManifestKey(step);
    const part = await o.store.committedPart(step, o.rank, { signal });
    if (part.problem !== undefined || part.manifest === undefined) {
      throw new RuntimeError(
        `checkpoint step ${step} of job ${o.jobId} is already committed, and its part of rank ${o.rank} is not intact (${part.problem}); a committed step is never replaced`,
        { code: Code.AlreadyExists, details: { step, key } },
      );
    }
    o.logger.info(
      { step, rank: o.rank, attemptId: part.manifest.attemptId },
      "checkpoint step was already committed with an intact part of this rank; not writing it again",
    );
    return {
      jobId: o.jobId,
      step,
      epoch: part.manifest.epoch,
      rank: o.rank,
      worldSize: part.worldSize,
      rankManifestKey: part.rankManifestKey,
      stepManifestKey: key,
      stepComplete: true,
      objectCount: part.manifest.objects.length,
      totalSizeBytes: part.manifest.totalSizeBytes,
      rawSizeBytes: snapshot.rawSizeBytes,
      persistMs: o.clock.now() - startedMs,
      attemptId: part.manifest.attemptId,
      ownAttemptCommitted: false,
    };
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
    const o = this.#options;
    const bytes = encodeManifest(manifest);
    const ours = async (): Promise<boolean | undefined> => {
      try {
        const stored = await o.store.readRankManifestAt(key, manifest.step, manifest.rank, {
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
            await o.storage.put(key, bytes, { createOnly: true, signal: attemptSignal });
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

  /**
   * Stops taking saves, lets in-flight ones finish for up to `graceMs`, then aborts what is left
   * (their `committed` promises reject with `Canceled`). Idempotent; never rejects.
   */
  close(graceMs: number): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    this.#wakeSlotWaiters();
    const jobs = [...(this.#writing ? [this.#writing] : []), ...this.#queue];
    let forced = false;
    const timer = this.#options.clock.setTimeout(
      () => {
        forced = true;
        this.#options.logger.warn(
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
    } finally {
      this.#options.clock.clearTimeout(timer);
    }
    if (forced)
      this.#options.logger.warn("checkpoint manager closed after aborting in-flight saves");
  }
}

function alreadyCommitted(jobId: string, step: number, key: string): RuntimeError {
  return new RuntimeError(
    `checkpoint step ${step} of job ${jobId} is already committed; a committed step is never replaced`,
    { code: Code.AlreadyExists, details: { step, key } },
  );
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
