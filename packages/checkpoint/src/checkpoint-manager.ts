import {
  type CallOptions,
  type Clock,
  Code,
  createDeadlineSignal,
  createSilentLogger,
  type Logger,
  RuntimeError,
  systemClock,
} from "@strata/runtime-core";
import type { StorageBackend } from "@strata/storage";
import { listCheckpoints } from "./checkpoint-listing.js";
import type { CheckpointState } from "./checkpoint-state.js";
import {
  type CheckpointDescription,
  type CheckpointInfo,
  CheckpointStore,
  type LoadedCheckpoint,
  type LoadOptions,
  type StepCommit,
  signalOnly,
  type VerifyOptions,
  type VerifyReport,
} from "./checkpoint-store.js";
import { COMPRESSIONS, type Compression } from "./compression.js";
import { CheckpointLayout, MAX_RANK } from "./layout.js";
import { raceSignal } from "./race-signal.js";
import {
  applyRetention,
  normalizeRetention,
  type PruneOptions,
  type PruneResult,
  RETENTION_BUDGET_PER_COMMIT,
  type RetentionPolicy,
} from "./retention.js";
import {
  type BackpressurePolicy,
  type CheckpointManagerStats,
  type SaveHandle,
  SavePipeline,
  type StepCommitMode,
} from "./save-pipeline.js";
import { commitStep } from "./step-commit.js";

export type {
  BackpressurePolicy,
  CheckpointManagerStats,
  CheckpointRef,
  SaveHandle,
  StepCommitMode,
} from "./save-pipeline.js";

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
  /**
   * Retention, applied in the background: by rank 0 after each of its commits, by the rank that
   * completes a step right after the step commits, and once before a process's first write.
   * Each run is bounded (a few steps' worth of deletions); see `applyRetention`. Give every rank
   * the same policy. Default: keep everything.
   */
  retention?: RetentionPolicy;
  /**
   * `auto` (default): after committing its part, a rank commits the step manifest if every rank
   * has committed (the last rank to finish does it; create-only makes races harmless). `manual`:
   * only `commitGlobalManifest` does, e.g. called by the coordinator's chosen rank.
   */
  stepCommit?: StepCommitMode;
  /**
   * Bytes per LZ4 frame, and per streamed chunk of a compressed pack. Uncompressed buffers go to
   * storage as they are, in views of up to 64 MiB. Default 8 MiB.
   */
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
  readonly #pipeline: SavePipeline;
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
  #closing: Promise<void> | undefined;
  /** The retention run in progress, if any; at most one more is queued behind it. */
  #retentionRun: Promise<void> | undefined;
  #retentionQueued = false;

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
    this.#pipeline = new SavePipeline({
      storage: this.#storage,
      layout: this.#layout,
      store: this.#store,
      jobId: this.jobId,
      rank: this.rank,
      worldSize: this.worldSize,
      maxInFlight: this.#maxInFlight,
      backpressure: this.#backpressure,
      compression: this.#compression,
      stepCommit: this.#stepCommit,
      chunkBytes: this.#chunkBytes,
      writeConcurrency: this.#writeConcurrency,
      maxPackBytes: this.#maxPackBytes,
      persistTimeoutMs: this.#persistTimeoutMs,
      clock: this.#clock,
      logger: this.#logger,
      // Retention runs on rank 0 after each of its commits, and on whichever rank completes a
      // step (when that rank has a retention policy too), right after the step commits.
      onCommitted: (_ref, createdStep) => {
        if (this.rank === 0 || createdStep) this.#scheduleRetention();
      },
      // A process that starts saving first clears what a killed predecessor left (bounded, like
      // every run), so kills in a row cannot pile up steps that no run got to delete.
      beforeFirstWrite: async () => {
        if (this.#retention === undefined || (this.rank !== 0 && this.worldSize > 1)) return;
        this.#scheduleRetention();
        await this.#retentionIdle();
      },
    });
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
  save(state: CheckpointState, options: CallOptions = {}): Promise<SaveHandle> {
    return this.#pipeline.save(state, options);
  }

  /**
   * Waits until every save issued before this call has settled, and the retention run they
   * triggered. Rejects if any of them failed (naming how many and the first error), but the
   * failure is not sticky: a later flush only reports later saves. `timeoutMs`/`signal` bound the
   * wait only; the writes go on.
   */
  async flush(options: CallOptions = {}): Promise<void> {
    const pending = this.#pipeline.pending();
    const deadline = createDeadlineSignal("checkpoint flush", options);
    try {
      const settled = await raceSignal(
        Promise.allSettled(pending).then(async (r) => {
          await this.#retentionIdle();
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
          `${failures.length} of ${pending.length} checkpoint saves failed; first: ${first.rawMessage}`,
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
    this.#closing ??= (async () => {
      await this.#pipeline.close(options.graceMs ?? this.#closeGraceMs);
      await this.#retentionIdle();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Counters, for metrics and tests. */
  stats(): CheckpointManagerStats {
    return this.#pipeline.stats();
  }

  /**
   * Complete checkpoints of this job, oldest step first (step, epoch, ranks, size). A step appears
   * once its step manifest exists; pass `includePartial` to also see partial and corrupt steps.
   * Listing does not verify data; `latest` and `verify` do.
   */
  list(options: CallOptions & { includePartial?: boolean } = {}): Promise<CheckpointInfo[]> {
    return this.#withDeadline("list checkpoints", options, (o) =>
      listCheckpoints(this.#store, { ...o, includePartial: options.includePartial ?? false }),
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
      commitStep(this.#store, step, worldSize, { ...o, ...(options.deep ? { deep: true } : {}) }),
    );
  }

  /**
   * Applies the retention policy now, in full (default: the manager's `retention`; fields given
   * here override it). `dryRun` reports without deleting. See {@link applyRetention} for the
   * rules; the run after each commit is the same, with a bounded budget.
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
      applyRetention(this.#store, policy, {
        ...o,
        dryRun: options.dryRun ?? false,
        budget: Number.POSITIVE_INFINITY,
        abandonOldPartialSteps: this.#stepCommit === "auto",
      }),
    );
  }

  /** The step the `LATEST` hint names, if any. Only a hint: it may lag or name a deleted step. */
  readLatestHint(options: CallOptions = {}): Promise<number | undefined> {
    return this.#withDeadline("read LATEST", options, (o) => this.#store.readLatestHint(o));
  }

  // ---- internals ----

  /**
   * Runs retention after a commit, in the background: one run at a time, and commits that land
   * while one runs are covered by a single run after it. Each run is bounded
   * ({@link RETENTION_BUDGET_PER_COMMIT}); what it leaves is done by the next.
   */
  #scheduleRetention(): void {
    const retention = this.#retention;
    if (retention === undefined) return;
    if (this.#retentionRun !== undefined) {
      this.#retentionQueued = true;
      return;
    }
    const run = async () => {
      try {
        const result = await applyRetention(this.#store, retention, {
          dryRun: false,
          budget: RETENTION_BUDGET_PER_COMMIT,
          abandonOldPartialSteps: this.#stepCommit === "auto",
        });
        if (result.deletedSteps.length > 0 || result.deletedOrphanKeys.length > 0) {
          this.#logger.info(
            {
              deletedSteps: result.deletedSteps,
              orphans: result.deletedOrphanKeys.length,
              deferred: result.deferred,
            },
            "retention applied",
          );
        }
      } catch (error) {
        this.#logger.warn({ err: error }, "retention failed; will retry after the next commit");
      }
    };
    this.#retentionRun = run().finally(() => {
      this.#retentionRun = undefined;
      if (this.#retentionQueued && this.#closing === undefined) {
        this.#retentionQueued = false;
        this.#scheduleRetention();
      }
    });
  }

  /** Resolves once no retention run is in progress or queued. */
  async #retentionIdle(): Promise<void> {
    while (this.#retentionRun !== undefined) await this.#retentionRun;
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
