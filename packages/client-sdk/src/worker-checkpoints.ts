import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CheckpointManager,
  type CheckpointRef,
  type CheckpointState,
  type Compression,
  createCheckpointManager,
  type LoadedCheckpoint,
  type RetentionPolicy,
} from "@strata/checkpoint";
import { type CheckpointAck, CheckpointType } from "@strata/proto";
import { type CallOptions, Code, createDeadlineSignal, RuntimeError } from "@strata/runtime-core";
import { createLocalStorage, createStorage, type StorageBackend } from "@strata/storage";
import {
  type DataPositionJson,
  type DatasetPositionJson,
  emptyPosition,
  normalizePosition,
  parseDataPosition,
  positionFromJson,
  positionToJson,
} from "./data-position.js";
import type { EpochSamples } from "./epoch-samples.js";
import type { StrataWorker } from "./strata-worker.js";

/** Options for {@link openWorkerCheckpoints}. */
export interface WorkerCheckpointsOptions {
  /**
   * Where checkpoints go: a storage URI (`file:///abs/dir`, `s3://bucket/prefix?endpoint=…`), a
   * plain path (a local folder), or an open `StorageBackend` (then the caller closes it).
   */
  storage: string | StorageBackend;
  /** The training job; `A-Z a-z 0-9 . _ -`, 1–128 characters. Also the coordinator's job id. */
  jobId: string;
  /** Key prefix inside the storage. Default "". */
  prefix?: string;
  /**
   * Retention, applied by the rank that saves part 0 of each step. Default `{ keepLast: 3 }`;
   * `false` keeps everything.
   */
  retention?: RetentionPolicy | false;
  /** Default `none`. */
  compression?: Compression;
  /**
   * Coordinated checkpoints ({@link WorkerCheckpoints.checkpoint}) are labelled with the highest
   * step in storage plus this many steps, the same on every rank. Default 100.
   */
  stepInterval?: number;
  /**
   * Timeout of the short barrier between reading the data position and saving, in ms. A worker
   * joining in that window makes it time out; that round is then not saved. Default 5,000.
   */
  readBarrierTimeoutMs?: number;
}

/** A checkpoint part that was committed to storage and recorded with the coordinator. */
export interface CommittedCheckpoint {
  ref: CheckpointRef;
  /** The coordinator's answer; undefined when it could not be told (logged, not fatal). */
  ack: CheckpointAck | undefined;
}

/** What {@link WorkerCheckpoints.save} returns once the state is copied. */
export interface SavedCheckpoint {
  step: number;
  /** Settles after the commit and the coordinator's record (`NotifyCheckpoint`). */
  committed: Promise<CommittedCheckpoint>;
}

/** A coordinated checkpoint round that saved. */
export interface CoordinatedCheckpoint extends SavedCheckpoint {
  /** This worker's part number and the number of parts (the barrier's participants). */
  rank: number;
  worldSize: number;
  /**
   * The data position saved (identical on every rank). A complete epoch reads as the empty
   * position of the next epoch: when `epoch` is past an iterator's, move on to that epoch.
   */
  positions: DatasetPositionJson[];
}

/** The outcome of a coordinated round: saved, or not (and why). */
export type CheckpointRound =
  | ({ saved: true } & CoordinatedCheckpoint)
  | {
      saved: false;
      /** `unchanged`: nothing was consumed since the last checkpoint; `joined`: a worker joined mid-round. */
      reason: "unchanged" | "joined";
      /** The step every rank continues from. */
      step: number;
      positions: DatasetPositionJson[];
    };

/** What {@link WorkerCheckpoints.resume} found. */
export interface ResumedCheckpoint {
  step: number;
  epoch: number;
  /** The buffers of this worker's part (or part 0's when this worker has none). */
  buffers: Record<string, Uint8Array>;
  /** dtype of every buffer, for `toTypedArray`. */
  dtypes: Record<string, string>;
  metadata: Record<string, unknown>;
  /** The data position stored with the checkpoint (undefined if it has none). */
  dataPosition: DataPositionJson | undefined;
  /** The worker whose part was loaded. */
  fromWorkerId: string | undefined;
  /** Whether the coordinator's progress was put back to `dataPosition` in this resume. */
  restored: boolean;
}

/** Options for {@link WorkerCheckpoints.resume}. */
export interface ResumeOptions extends CallOptions {
  /**
   * The whole job is restarting (every worker calls `resume` with this set): the first worker
   * (by id) puts the coordinator's data position back to the checkpoint's, then all meet at a
   * barrier, so samples consumed after the checkpoint are served again and exactly once.
   * Leave it false for one worker re-joining a running job. Default false.
   */
  restoreDataPosition?: boolean;
  /** With `restoreDataPosition` and no checkpoint yet: these datasets start over at `epoch`. */
  datasets?: readonly { datasetId: string; totalShards: number; epoch?: number }[];
  /** Timeout of the resume barriers, in ms. Default: the coordinator's barrier timeout. */
  barrierTimeoutMs?: number;
  /**
   * With `restoreDataPosition`: wait until this many workers are live before meeting at the
   * resume barrier, so workers that start a little later are not left out of it (a barrier
   * releases as soon as every worker live *then* has arrived). Default 1.
   */
  minWorldSize?: number;
}

/** Input of a coordinated checkpoint round. */
export interface CheckpointRoundInput {
  epoch: number;
  /** The training state (weights, optimizer moments). */
  buffers: CheckpointState["buffers"];
  metadata?: Record<string, unknown>;
  /** The iterators the job reads: flushed before the barrier; their epochs' positions are saved. */
  data: readonly EpochSamples[];
}

/** Opens a worker's checkpoints (the storage URI is opened here). */
export async function openWorkerCheckpoints(
  worker: StrataWorker,
  options: WorkerCheckpointsOptions,
): Promise<WorkerCheckpoints> {
  const owned = typeof options.storage === "string";
  const storage =
    typeof options.storage === "string"
      ? await openCheckpointStorage(options.storage)
      : options.storage;
  return new WorkerCheckpoints(worker, storage, owned, options);
}

/**
 * Opens checkpoint storage from a URI or a plain path. A local folder (a path or `file:///abs`)
 * is created when missing: a worker's first run should not fail for want of a `mkdir`.
 */
export async function openCheckpointStorage(uri: string): Promise<StorageBackend> {
  if (typeof uri !== "string" || uri === "") {
    throw new RuntimeError("storage: give a path or a file://, s3:// URI", {
      code: Code.InvalidArgument,
      details: { field: "storage" },
    });
  }
  if (!/^[a-z][a-z0-9+.-]*:/i.test(uri)) {
    const root = path.resolve(uri);
    await mkdir(root, { recursive: true });
    return createLocalStorage({ root });
  }
  if (uri.startsWith("file://")) await mkdir(fileURLToPath(uri), { recursive: true });
  return createStorage(uri);
}

/**
 * Checkpoints of one worker through `@strata/checkpoint`: asynchronous, atomic and verified, on
 * any storage; each committed part is recorded with the coordinator (`NotifyCheckpoint`: job id,
 * step, epoch, rank) after the commit, never before.
 *
 * - {@link save}: this worker's part of a step, as the caller numbers it.
 * - {@link checkpoint}: a coordinated round for data-parallel jobs where every live worker takes
 *   part: flush progress, barrier, read the data position, barrier, save (same step, same
 *   position on every rank). The position makes a full restart exactly once.
 * - {@link resume}: the latest complete checkpoint, its state and data position.
 */
export class WorkerCheckpoints {
  readonly jobId: string;
  readonly #worker: StrataWorker;
  readonly #storage: StorageBackend;
  readonly #ownsStorage: boolean;
  readonly #options: WorkerCheckpointsOptions;
  readonly #stepInterval: number;
  readonly #managers = new Map<string, CheckpointManager>();
  readonly #positionsByStep = new Map<number, DataPositionJson | undefined>();
  #inflight: Promise<unknown>[] = [];
  #closing: Promise<void> | undefined;

  /** Use {@link openWorkerCheckpoints}. */
  constructor(
    worker: StrataWorker,
    storage: StorageBackend,
    ownsStorage: boolean,
    options: WorkerCheckpointsOptions,
  ) {
    this.#worker = worker;
    this.#storage = storage;
    this.#ownsStorage = ownsStorage;
    this.#options = options;
    this.jobId = options.jobId;
    this.#stepInterval = options.stepInterval ?? 100;
    if (!Number.isSafeInteger(this.#stepInterval) || this.#stepInterval < 1) {
      throw new RuntimeError(
        `stepInterval: must be a positive integer, got ${this.#stepInterval}`,
        {
          code: Code.InvalidArgument,
          details: { field: "stepInterval" },
        },
      );
    }
    // Validates the job id and options now rather than at the first save.
    this.#manager(0, 1);
  }

  /** The storage checkpoints go to. */
  get storage(): StorageBackend {
    return this.#storage;
  }

  /**
   * Saves this worker's part of `state.step` (`rank` of `worldSize` parts; default the only
   * part). Resolves once the state is copied; `committed` settles after the write committed and
   * the coordinator recorded it.
   */
  async save(
    state: CheckpointState,
    options: CallOptions & { rank?: number; worldSize?: number } = {},
  ): Promise<SavedCheckpoint> {
    const rank = options.rank ?? 0;
    const worldSize = options.worldSize ?? 1;
    const manager = this.#manager(rank, worldSize);
    const metadata = { ...state.metadata, workerId: this.#worker.workerId };
    const handle = await manager.save({ ...state, metadata }, options);
    const committed = handle.committed.then(async (ref) => ({ ref, ack: await this.#notify(ref) }));
    this.#track(committed);
    return { step: handle.step, committed };
  }

  /**
   * One coordinated checkpoint round (every live worker must call it, e.g. every N steps):
   *
   * 1. waits for this worker's previous saves, flushes `data` (consumed samples are on record);
   * 2. barrier: every worker is at the same point; nobody consumes until step 4;
   * 3. reads the data position of each iterator's epoch and the highest step in storage;
   *    the step is that plus `stepInterval` — the same on every rank;
   * 4. a second barrier (with the participants' ids: part number = place of this worker's id in
   *    the sorted list, part count = participants), then saves this worker's part with the position.
   *
   * A member that dies during a barrier (`ABORTED`) makes the survivors enter it again and go on
   * without it. Nothing is saved when nothing was consumed since the latest complete checkpoint,
   * or when a worker joined between the barriers (the round is then simply not saved).
   */
  async checkpoint(
    input: CheckpointRoundInput,
    options: CallOptions = {},
  ): Promise<CheckpointRound> {
    const deadline = createDeadlineSignal("checkpoint", options);
    try {
      const signal = deadline.signal;
      await this.flush({ signal });
      for (const data of input.data) await data.flush({ signal });
      await this.#barrierRetryingAborts(`${this.jobId}:ckpt`, { signal });

      const positions: DatasetPositionJson[] = [];
      for (const data of input.data) {
        const position = await this.#worker.dataPosition(data.datasetId, data.epoch, { signal });
        // "Epoch e complete" and "epoch e + 1 untouched" must read the same on every rank.
        positions.push(normalizePosition(positionToJson(position)));
      }
      const steps = await this.#manager(0, 1).list({ includePartial: true, signal });
      const highest = steps.reduce((max, s) => Math.max(max, s.step), 0);
      const latestComplete = steps.filter((s) => s.state === "complete").at(-1)?.step;
      const previous =
        latestComplete === undefined
          ? undefined
          : await this.#storedPosition(latestComplete, signal);
      const unchanged =
        previous === undefined
          ? steps.length === 0 && positions.every((p) => p.consumedSamples === 0)
          : samePositions(previous.datasets, positions);
      const step = highest + this.#stepInterval;

      let participants: string[];
      try {
        const released = await this.#barrierRetryingAborts(`${this.jobId}:ckpt-read`, {
          signal,
          includeParticipantIds: true,
          barrierTimeoutMs: this.#options.readBarrierTimeoutMs ?? 3_000,
        });
        participants = [...released.participantIds].sort();
      } catch (thrown) {
        const error = RuntimeError.from(thrown);
        if (error.code !== Code.DeadlineExceeded || signal.aborted) throw error;
        this.#worker.logger.warn(
          { err: error },
          "a worker joined during the checkpoint round; this round is not saved",
        );
        return { saved: false, reason: "joined", step, positions };
      }
      if (unchanged) {
        return { saved: false, reason: "unchanged", step: latestComplete ?? highest, positions };
      }
      const rank = participants.indexOf(this.#worker.workerId);
      if (rank < 0) {
        throw new RuntimeError("this worker is not among the checkpoint round's participants", {
          code: Code.Internal,
          details: { participants },
        });
      }
      const dataPosition: DataPositionJson = { strataDataPosition: 1, datasets: positions };
      const saved = await this.save(
        {
          step,
          epoch: input.epoch,
          buffers: input.buffers,
          metadata: input.metadata,
          dataPosition,
        },
        { rank, worldSize: participants.length, signal },
      );
      return { saved: true, ...saved, rank, worldSize: participants.length, positions };
    } finally {
      deadline.cleanup();
    }
  }

  /**
   * Finds the latest complete checkpoint (the coordinator's record, else storage's newest
   * complete step) and loads this worker's part of it (part 0's when it has none). With
   * `restoreDataPosition` it also restores the coordinator's data position (see
   * {@link ResumeOptions}). Undefined when the job has no checkpoint yet.
   */
  async resume(options: ResumeOptions = {}): Promise<ResumedCheckpoint | undefined> {
    const deadline = createDeadlineSignal("resume", options);
    try {
      const signal = deadline.signal;
      const loaded = await this.#loadLatest(signal);
      let restored = false;
      if (options.restoreDataPosition) {
        await this.#waitForWorldSize(options.minWorldSize ?? 1, signal);
        const released = await this.#barrierRetryingAborts(`${this.jobId}:resume`, {
          signal,
          includeParticipantIds: true,
          barrierTimeoutMs: options.barrierTimeoutMs,
        });
        const leader = [...released.participantIds].sort()[0];
        if (leader === this.#worker.workerId) {
          const positions =
            loaded?.position?.datasets ??
            (options.datasets ?? []).map((d) =>
              emptyPosition(d.datasetId, d.epoch ?? 0, d.totalShards),
            );
          for (const position of positions) {
            const ack = await this.#worker.restoreDataPosition(positionFromJson(position), {
              signal,
            });
            this.#worker.logger.info(
              {
                datasetId: position.datasetId,
                epoch: position.epoch,
                consumedSamples: Number(ack.consumedSamples),
                step: loaded?.checkpoint.step,
              },
              "data position restored",
            );
          }
        }
        await this.#barrierRetryingAborts(`${this.jobId}:resumed`, {
          signal,
          barrierTimeoutMs: options.barrierTimeoutMs,
        });
        restored = true;
      }
      if (loaded === undefined) return undefined;
      const { checkpoint } = loaded;
      const dtypes: Record<string, string> = {};
      for (const o of checkpoint.objects) dtypes[o.name] = o.dtype;
      return {
        step: checkpoint.step,
        epoch: checkpoint.epoch,
        buffers: checkpoint.buffers,
        dtypes,
        metadata: checkpoint.metadata,
        dataPosition: loaded.position,
        fromWorkerId:
          typeof checkpoint.metadata.workerId === "string"
            ? checkpoint.metadata.workerId
            : undefined,
        restored,
      };
    } finally {
      deadline.cleanup();
    }
  }

  /** Waits for this worker's saves in flight (commit and coordinator record). Never rejects. */
  async flush(options: CallOptions = {}): Promise<void> {
    const pending = this.#inflight;
    this.#inflight = [];
    await Promise.allSettled(pending);
    for (const manager of this.#managers.values())
      await manager.flush(options).catch(() => undefined);
  }

  /** Waits for saves in flight, closes the managers (and the storage if it was opened here). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled(this.#inflight);
      for (const manager of this.#managers.values()) await manager.close();
      if (this.#ownsStorage) await this.#storage.close();
    })();
    return this.#closing;
  }

  async #waitForWorldSize(min: number, signal: AbortSignal): Promise<void> {
    if (this.#worker.worldSize >= min) return;
    this.#worker.logger.info(
      { min, worldSize: this.#worker.worldSize },
      "waiting for workers to join",
    );
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.#worker.worldSize < min) return;
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(RuntimeError.from(signal.reason));
      };
      const done = () => {
        this.#worker.off("membership", check);
        signal.removeEventListener("abort", onAbort);
      };
      this.#worker.on("membership", check);
      signal.addEventListener("abort", onAbort, { once: true });
      check();
    });
  }

  async #loadLatest(
    signal: AbortSignal,
  ): Promise<{ checkpoint: LoadedCheckpoint; position: DataPositionJson | undefined } | undefined> {
    const candidates: number[] = [];
    const recovery = await this.#worker.latestCheckpoint(this.jobId, { signal });
    if (recovery.hasCheckpoint) candidates.push(Number(recovery.resumeStep));
    const complete = (await this.#manager(0, 1).list({ signal })).map((s) => s.step).reverse();
    for (const step of complete) if (!candidates.includes(step)) candidates.push(step);
    for (const step of candidates) {
      try {
        const description = await this.#manager(0, 1).describe(step, { signal });
        const mine = description.ranks.find((r) => r.metadata.workerId === this.#worker.workerId);
        const checkpoint = await this.#manager(0, 1).load(step, { rank: mine?.rank ?? 0, signal });
        return { checkpoint, position: parseDataPosition(checkpoint.dataPosition) };
      } catch (thrown) {
        const error = RuntimeError.from(thrown);
        if (error.code !== Code.NotFound && error.code !== Code.DataLoss) throw error;
        this.#worker.logger.warn(
          { err: error, step },
          "checkpoint not loadable; trying an older one",
        );
      }
    }
    return undefined;
  }

  async #storedPosition(step: number, signal: AbortSignal): Promise<DataPositionJson | undefined> {
    if (!this.#positionsByStep.has(step)) {
      try {
        const description = await this.#manager(0, 1).describe(step, { signal });
        this.#positionsByStep.set(step, parseDataPosition(description.step.dataPosition));
      } catch (thrown) {
        const error = RuntimeError.from(thrown);
        if (error.code !== Code.NotFound && error.code !== Code.DataLoss) throw error;
        return undefined;
      }
    }
    return this.#positionsByStep.get(step);
  }

  async #barrierRetryingAborts(
    barrierId: string,
    options: { signal: AbortSignal; includeParticipantIds?: boolean; barrierTimeoutMs?: number },
  ): Promise<{ participantIds: string[] }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#worker.barrier(barrierId, options);
      } catch (thrown) {
        const error = RuntimeError.from(thrown);
        if (error.code !== Code.Aborted || attempt >= 1_000) throw error;
        this.#worker.logger.info(
          { err: error, barrierId },
          "a member left during the barrier; entering it again",
        );
      }
    }
  }

  async #notify(ref: CheckpointRef): Promise<CheckpointAck | undefined> {
    try {
      return await this.#worker.notifyCheckpoint({
        checkpointId: `${ref.jobId}-step-${ref.step}-part-${ref.rank}`,
        step: BigInt(ref.step),
        epoch: BigInt(ref.epoch),
        storagePath: `${this.#storage.uri.replace(/\/$/, "")}/${ref.rankManifestKey}`,
        sizeBytes: BigInt(ref.totalSizeBytes),
        timestampMs: BigInt(this.#worker.clock.now()),
        type: CheckpointType.FULL,
        metadata: { part: String(ref.rank), parts: String(ref.worldSize) },
        jobId: ref.jobId,
        // The coordinator's rank (0 = "my current rank"), and 0 parts = "the live membership when
        // the first part arrives": the round's participants, whose coordinator ranks may have gaps.
        rank: Math.max(0, this.#worker.rank),
        worldSize: 0,
      });
    } catch (error) {
      this.#worker.logger.warn(
        { err: error, step: ref.step },
        "could not record the checkpoint with the coordinator",
      );
      return undefined;
    }
  }

  #track(promise: Promise<unknown>): void {
    this.#inflight.push(promise);
    promise.catch((error) => this.#worker.logger.error({ err: error }, "checkpoint save failed"));
  }

  #manager(rank: number, worldSize: number): CheckpointManager {
    const key = `${rank}/${worldSize}`;
    let manager = this.#managers.get(key);
    if (manager === undefined) {
      manager = createCheckpointManager({
        storage: this.#storage,
        prefix: this.#options.prefix,
        jobId: this.#options.jobId,
        rank,
        worldSize,
        compression: this.#options.compression,
        retention:
          rank !== 0 || this.#options.retention === false
            ? undefined
            : (this.#options.retention ?? { keepLast: 3 }),
        logger: this.#worker.logger,
      });
      this.#managers.set(key, manager);
    }
    return manager;
  }
}

function samePositions(
  a: readonly DatasetPositionJson[],
  b: readonly DatasetPositionJson[],
): boolean {
  if (a.length !== b.length) return false;
  return a.every((p, i) => {
    const q = b[i] as DatasetPositionJson;
    return (
      p.datasetId === q.datasetId &&
      p.epoch === q.epoch &&
      p.consumedSamples === q.consumedSamples &&
      p.completeShards === q.completeShards &&
      JSON.stringify(p.partialShards) === JSON.stringify(q.partialShards)
    );
  });
}
