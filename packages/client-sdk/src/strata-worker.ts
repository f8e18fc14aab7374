import { EventEmitter } from "node:events";
import { hostname as osHostname, totalmem } from "node:os";
import {
  type BarrierResponse,
  type CheckpointAck,
  type CheckpointInfo,
  type EpochPosition,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type RecoveryResponse,
  type RestoreProgressAck,
  type ShardAssignment,
  type WorkerConfig,
  WorkerStatus_State,
} from "@strata/proto";
import {
  type CallOptions,
  type Clock,
  Code,
  createDeadlineSignal,
  createSilentLogger,
  type DatasetSpec,
  type Logger,
  RuntimeError,
  systemClock,
  type WorkerState,
} from "@strata/runtime-core";
import {
  type ConnectionOptions,
  type CoordinatorConnection,
  createCoordinatorConnection,
  type UnaryCallOptions,
  type UnaryMethod,
  type UnaryMethods,
} from "./coordinator-connection.js";
import { EpochSamples, type EpochSamplesOptions } from "./epoch-samples.js";
import { HeartbeatLoop, type HeartbeatTransport } from "./heartbeat-loop.js";
import { createResourceSampler, type ResourceSampler } from "./resource-sampler.js";
import { parseWorkerCommand, type WorkerCommand } from "./worker-command.js";

/** Options for {@link connectWorker}. */
export interface WorkerOptions extends ConnectionOptions {
  /** Stable across restarts of this worker (it gets its rank back); 1–128 of `[A-Za-z0-9._:-]`. */
  workerId: string;
  /** For display. Default: the host name. */
  hostname?: string;
  /** The worker's own service port, 0 if none. Default 0. */
  port?: number;
  /** GPUs of this worker. Default: what `nvidia-smi` reports, else 0. */
  gpuCount?: number;
  /** Host memory in bytes. Default `os.totalmem()`. */
  memoryBytes?: number;
  /** Free-form labels, echoed by the coordinator. */
  metadata?: Readonly<Record<string, string>>;
  /** Time between heartbeats, in ms. Default: what the coordinator asks for (timeout / 3). */
  heartbeatIntervalMs?: number;
  /** Default `stream` (one `StreamHeartbeats` stream, unary calls if the coordinator has none). */
  heartbeatTransport?: HeartbeatTransport;
  /** Resource usage source; `false` reports none. Default: CPU, memory and `nvidia-smi` GPUs. */
  resources?: ResourceSampler | false;
  /** How often resources are sampled and sent, in ms (heartbeats in between omit them). Default 5,000. */
  resourceIntervalMs?: number;
}

/** What the worker reports in its heartbeats. */
export interface WorkerStatus {
  /** Default `initializing` until the first `setStatus`. */
  state: WorkerState;
  /** Global training step. */
  step: number;
  epoch: number;
  /** The task (job) being run, e.g. a task id from `start_task`; "" for none. */
  task: string;
}

/** A membership change seen by this worker. */
export interface MembershipEvent {
  version: number;
  previousVersion: number;
  rank: number;
  worldSize: number;
}

/** The outcome of a barrier. */
export interface BarrierResult {
  participants: number;
  /** This worker's arrival position, from 1. */
  arrivalOrder: number;
  /** Only with `includeParticipantIds`. */
  participantIds: string[];
  membershipVersion: number;
}

/** Options for {@link StrataWorker.barrier}. */
export interface BarrierOptions extends CallOptions {
  /** The step the barrier belongs to (informational). */
  step?: number;
  /**
   * How long the whole barrier may wait for every member, in ms (`DEADLINE_EXCEEDED` after).
   * Default: the coordinator's default (5 minutes unless configured).
   */
  barrierTimeoutMs?: number;
  /** Ask for the participants' ids (costs N² bytes across N waiters). Default false. */
  includeParticipantIds?: boolean;
}

/** A dataset as given to {@link StrataWorker.registerDataset}. */
export interface DatasetInput {
  datasetId: string;
  /** Where the data lives (opaque to the coordinator). */
  path: string;
  /** Default "". */
  format?: string;
  totalSamples: number;
  shardSize: number;
  /** Default true. */
  shuffle?: boolean;
  /** Default 0. */
  seed?: bigint | number;
  metadata?: Readonly<Record<string, string>>;
}

/** A registered dataset. */
export interface DatasetHandle {
  readonly spec: DatasetSpec;
  readonly totalShards: number;
}

/** Events of a {@link StrataWorker}. */
export interface WorkerEvents {
  /** The membership version grew (a join, a death, a departure, a progress restore). */
  membership: [MembershipEvent];
  /** A pending command from the coordinator (each delivered once). */
  command: [WorkerCommand];
  /** Heartbeats started failing (`connected: false`) or got through again. */
  connectivity: [{ connected: boolean; error?: RuntimeError }];
  /** The worker registered again (the coordinator restarted without it or declared it dead). */
  reregistered: [{ rank: number; worldSize: number; membershipVersion: number }];
}

const STATE_TO_PROTO: Record<WorkerState, WorkerStatus_State> = {
  initializing: WorkerStatus_State.INITIALIZING,
  idle: WorkerStatus_State.IDLE,
  loading_data: WorkerStatus_State.LOADING_DATA,
  training: WorkerStatus_State.TRAINING,
  checkpointing: WorkerStatus_State.CHECKPOINTING,
  recovering: WorkerStatus_State.RECOVERING,
  error: WorkerStatus_State.ERROR,
  disconnecting: WorkerStatus_State.IDLE,
  dead: WorkerStatus_State.IDLE,
};

const NOT_LIVE = /not a live member|is not registered/;

/**
 * Registers a worker with the coordinator and starts its background heartbeat. Retries while no
 * coordinator answers (up to `reconnectTimeoutMs`, or the call's own deadline).
 *
 * ```ts
 * const worker = await connectWorker({ addresses: "localhost:50051", workerId: "w-0" });
 * console.log(worker.rank, worker.worldSize);
 * await worker.close(); // deregisters
 * ```
 */
export async function connectWorker(
  options: WorkerOptions,
  callOptions: CallOptions = {},
): Promise<StrataWorker> {
  const worker = new StrataWorker(options);
  try {
    await worker.register(callOptions);
  } catch (error) {
    worker.abandon();
    throw error;
  }
  return worker;
}

/**
 * One worker's session with the coordinator: membership (rank, world size, version), a
 * background heartbeat reporting status and resource usage, commands, barriers, datasets and
 * shard progress. Create it with {@link connectWorker}; `close()` deregisters.
 *
 * Reconnects on its own: calls retry with capped, jittered backoff while the coordinator is
 * unreachable, and a worker the coordinator no longer knows (restarted without its state, or
 * declared dead during an outage) registers again under the same id, keeping its rank if free.
 */
export class StrataWorker extends EventEmitter<WorkerEvents> {
  readonly workerId: string;
  readonly connection: CoordinatorConnection;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly #options: WorkerOptions;
  readonly #resources: ResourceSampler | undefined;
  readonly #resourceIntervalMs: number;
  readonly #heartbeat: HeartbeatLoop;
  #rank = -1;
  #worldSize = 0;
  #membershipVersion = 0;
  #intervalMs: number;
  #status: WorkerStatus = { state: "initializing", step: 0, epoch: 0, task: "" };
  #stepController = new AbortController();
  #lastResourcesMs = Number.NEGATIVE_INFINITY;
  #lastHeartbeatMs = 0;
  #reregistering: Promise<void> | undefined;
  #registered = false;
  #closing: Promise<void> | undefined;
  readonly #commandQueues = new Set<(command: WorkerCommand | null) => void>();

  /** Use {@link connectWorker}. */
  constructor(options: WorkerOptions) {
    super();
    if (
      typeof options.workerId !== "string" ||
      !/^[A-Za-z0-9._:-]{1,128}$/.test(options.workerId)
    ) {
      throw new RuntimeError(
        `workerId: ${JSON.stringify(options.workerId)} must be 1 to 128 characters of [A-Za-z0-9._:-]`,
        { code: Code.InvalidArgument, details: { field: "workerId" } },
      );
    }
    this.workerId = options.workerId;
    this.#options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? createSilentLogger()).child({ workerId: options.workerId });
    this.connection = createCoordinatorConnection({ ...options, logger: this.logger });
    this.#resources =
      options.resources === false ? undefined : (options.resources ?? createResourceSampler());
    this.#resourceIntervalMs = options.resourceIntervalMs ?? 5_000;
    this.#intervalMs = options.heartbeatIntervalMs ?? 5_000;
    this.#heartbeat = new HeartbeatLoop({
      connection: this.connection,
      clock: this.clock,
      logger: this.logger,
      intervalMs: () => this.#intervalMs,
      transport: options.heartbeatTransport ?? "stream",
      buildRequest: () => this.#heartbeatRequest(),
      onResponse: (response) => this.#onHeartbeat(response),
      onNotRegistered: () => this.reregister(),
      onConnectivity: (connected, error) => {
        if (connected) this.logger.info("coordinator reachable again");
        else this.logger.warn({ err: error }, "heartbeats failing; retrying with backoff");
        this.emit("connectivity", error === undefined ? { connected } : { connected, error });
      },
    });
  }

  /** Dense rank in [0, world size) as of the last answer from the coordinator. */
  get rank(): number {
    return this.#rank;
  }

  /** Live workers as of the last answer. */
  get worldSize(): number {
    return this.#worldSize;
  }

  /** The membership version as of the last answer; it grows on every join, leave or death. */
  get membershipVersion(): number {
    return this.#membershipVersion;
  }

  /** Heartbeat period in use, in ms. */
  get heartbeatIntervalMs(): number {
    return this.#intervalMs;
  }

  /** When the coordinator last acknowledged a heartbeat, in ms since the epoch (0: never). */
  get lastHeartbeatMs(): number {
    return this.#lastHeartbeatMs;
  }

  /** The heartbeat transport in use (`unary` after a fallback). */
  get heartbeatTransport(): HeartbeatTransport {
    return this.#heartbeat.transport;
  }

  /** What the heartbeats report now. */
  get status(): Readonly<WorkerStatus> {
    return { ...this.#status };
  }

  /**
   * Aborts (with `ABORTED`) at the next membership change: pass it to the work of the current
   * step (a collective, a barrier) so a death or a join interrupts it instead of hanging. Read it
   * again for the next step: after an abort a fresh signal is handed out.
   */
  get stepSignal(): AbortSignal {
    return this.#stepController.signal;
  }

  /**
   * Registers (or registers again) with the coordinator. {@link connectWorker} calls it; call it
   * yourself only after `close()` is not an option, e.g. to re-join after a deregistration.
   */
  async register(options: CallOptions = {}): Promise<void> {
    const config = await this.connection.unary(
      "registerWorker",
      {
        workerId: this.workerId,
        hostname: this.#options.hostname ?? osHostname(),
        port: this.#options.port ?? 0,
        gpuCount: this.#options.gpuCount ?? (await this.#gpuCount()),
        memoryBytes: BigInt(Math.max(0, Math.floor(this.#options.memoryBytes ?? totalmem()))),
        metadata: { ...this.#options.metadata },
      },
      options,
    );
    this.#applyConfig(config);
    if (!this.#registered) {
      this.#registered = true;
      this.#heartbeat.start();
    }
    this.logger.info(
      { rank: this.#rank, worldSize: this.#worldSize, membershipVersion: this.#membershipVersion },
      "registered",
    );
  }

  /** Registers again under the same id (single flight). Used when the coordinator forgot us. */
  reregister(): Promise<void> {
    this.#reregistering ??= (async () => {
      try {
        this.logger.warn("the coordinator does not know this worker; registering again");
        await this.register({ timeoutMs: this.#options.reconnectTimeoutMs ?? 60_000 });
        this.emit("reregistered", {
          rank: this.#rank,
          worldSize: this.#worldSize,
          membershipVersion: this.#membershipVersion,
        });
      } finally {
        this.#reregistering = undefined;
      }
    })();
    return this.#reregistering;
  }

  /**
   * Changes what the heartbeats report. A change of state or task is sent at once; step and
   * epoch ride on the next regular heartbeat.
   */
  setStatus(update: Partial<WorkerStatus>): void {
    const before = this.#status;
    this.#status = { ...before, ...update };
    if (update.step !== undefined && (!Number.isSafeInteger(update.step) || update.step < 0)) {
      throw new RuntimeError(`step: must be a non-negative integer, got ${update.step}`, {
        code: Code.InvalidArgument,
        details: { field: "step" },
      });
    }
    if (update.epoch !== undefined && (!Number.isSafeInteger(update.epoch) || update.epoch < 0)) {
      throw new RuntimeError(`epoch: must be a non-negative integer, got ${update.epoch}`, {
        code: Code.InvalidArgument,
        details: { field: "epoch" },
      });
    }
    if (
      this.#registered &&
      (before.state !== this.#status.state || before.task !== this.#status.task)
    ) {
      this.#heartbeat.beatNow();
    }
  }

  /**
   * The commands that arrive from now on, in order, until `signal` aborts or the worker closes.
   * Every iterator sees every command; the `command` event fires too.
   */
  commands(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<WorkerCommand> {
    const queue: WorkerCommand[] = [];
    let ended = false;
    let wake: (() => void) | undefined;
    const push = (command: WorkerCommand | null) => {
      if (command === null) ended = true;
      else queue.push(command);
      wake?.();
    };
    const finish = () => {
      ended = true;
      this.#commandQueues.delete(push);
      options.signal?.removeEventListener("abort", onAbort);
      wake?.();
    };
    const onAbort = () => finish();
    if (options.signal?.aborted || this.#closing !== undefined) ended = true;
    else {
      this.#commandQueues.add(push);
      options.signal?.addEventListener("abort", onAbort, { once: true });
    }
    const iterator: AsyncIterableIterator<WorkerCommand> = {
      [Symbol.asyncIterator]() {
        return iterator;
      },
      async next() {
        for (;;) {
          const command = queue.shift();
          if (command !== undefined) return { value: command, done: false };
          if (ended) {
            finish();
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      },
      async return() {
        finish();
        return { value: undefined, done: true };
      },
    };
    return iterator;
  }

  /**
   * Waits until every live worker arrived at barrier `barrierId`. A member that dies meanwhile
   * fails it with `ABORTED` naming the worker (coordinator policy `abort`; enter again to
   * continue with the survivors), the barrier's own timeout with `DEADLINE_EXCEEDED`, `signal`
   * or `timeoutMs` with `CANCELED`/`DEADLINE_EXCEEDED` (the arrival is withdrawn). While the
   * coordinator is unreachable the arrival is retried.
   */
  async barrier(barrierId: string, options: BarrierOptions = {}): Promise<BarrierResult> {
    const barrierTimeoutMs = options.barrierTimeoutMs ?? 0;
    const response: BarrierResponse = await this.call(
      "waitBarrier",
      {
        workerId: this.workerId,
        barrierId,
        step: BigInt(options.step ?? this.#status.step),
        timeoutMs: BigInt(barrierTimeoutMs),
        includeParticipantIds: options.includeParticipantIds ?? false,
      },
      {
        signal: options.signal,
        timeoutMs: options.timeoutMs,
        // The coordinator answers at its barrier timeout; the attempt waits a little longer.
        attemptTimeoutMs: (barrierTimeoutMs > 0 ? barrierTimeoutMs : 300_000) + 10_000,
        retryAttemptTimeout: false,
      },
    );
    this.#observeVersion(Number(response.membershipVersion));
    return {
      participants: Number(response.participants),
      arrivalOrder: Number(response.arrivalOrder),
      participantIds: response.participantIds,
      membershipVersion: Number(response.membershipVersion),
    };
  }

  /**
   * Registers a dataset (the same spec again is a no-op; a different spec under the same id is
   * `ALREADY_EXISTS`) and returns its handle for {@link samples}.
   */
  async registerDataset(input: DatasetInput, options: CallOptions = {}): Promise<DatasetHandle> {
    const spec: DatasetSpec = {
      datasetId: input.datasetId,
      path: input.path,
      format: input.format ?? "",
      totalSamples: input.totalSamples,
      shardSize: input.shardSize,
      shuffle: input.shuffle ?? true,
      seed: BigInt(input.seed ?? 0),
      metadata: { ...input.metadata },
    };
    const ack = await this.connection.unary(
      "registerDataset",
      {
        datasetId: spec.datasetId,
        path: spec.path,
        format: spec.format,
        totalSamples: BigInt(spec.totalSamples),
        shardSize: BigInt(spec.shardSize),
        shuffle: spec.shuffle,
        seed: BigInt.asIntN(64, spec.seed),
        metadata: { ...spec.metadata },
      },
      options,
    );
    return { spec, totalShards: Number(ack.totalShards) };
  }

  /**
   * This worker's shards of a dataset epoch (every page), with the membership version they were
   * computed for. Shards consumed completely are left out; partly consumed ones carry their
   * remaining ranges.
   */
  async shardAssignments(
    datasetId: string,
    epoch: number,
    options: CallOptions & { pageSize?: number } = {},
  ): Promise<{ membershipVersion: number; totalShards: number; shards: ShardAssignment[] }> {
    const deadline = createDeadlineSignal("shardAssignments", options);
    try {
      for (let restart = 0; ; restart++) {
        const shards: ShardAssignment[] = [];
        let token = "";
        let version: number | undefined;
        let totalShards = 0;
        try {
          do {
            const page = await this.call(
              "getShardAssignments",
              {
                workerId: this.workerId,
                datasetId,
                epoch: BigInt(epoch),
                pageSize: BigInt(options.pageSize ?? 0),
                pageToken: token,
              },
              { signal: deadline.signal },
            );
            const pageVersion = Number(page.membershipVersion);
            if (version !== undefined && pageVersion !== version) {
              throw new RuntimeError("membership changed while paging", {
                code: Code.FailedPrecondition,
              });
            }
            version = pageVersion;
            totalShards = Number(page.totalShards);
            shards.push(...page.shards);
            token = page.nextPageToken ?? "";
          } while (token !== "");
          this.#observeVersion(version ?? 0);
          return { membershipVersion: version ?? 0, totalShards, shards };
        } catch (thrown) {
          const error = RuntimeError.from(thrown);
          // A page token is valid for one membership version only: start over from page one.
          if (error.code !== Code.FailedPrecondition || token === "" || restart >= 10) throw error;
        }
      }
    } finally {
      deadline.cleanup();
    }
  }

  /**
   * This worker's samples of `dataset` for `epoch`, as an async iterator that claims each shard
   * before reading it, reports consumed samples in batches and follows reassignment. See
   * {@link EpochSamples}.
   */
  samples(dataset: DatasetHandle, epoch: number, options: EpochSamplesOptions = {}): EpochSamples {
    return new EpochSamples(this, dataset, epoch, options);
  }

  /** The data position of a dataset epoch (what a checkpoint keeps). */
  async dataPosition(
    datasetId: string,
    epoch: number,
    options: CallOptions = {},
  ): Promise<EpochPosition> {
    const position = await this.call(
      "getShardProgress",
      { workerId: this.workerId, datasetId, epoch: BigInt(epoch), pageSize: 0n, pageToken: "" },
      options,
    );
    this.#observeVersion(Number(position.membershipVersion));
    return position;
  }

  /**
   * Puts the coordinator's progress of a dataset back to `position` (samples consumed after it
   * are served again); every live worker is told `membership_changed`. Call it once per resume.
   */
  async restoreDataPosition(
    position: EpochPosition,
    options: CallOptions = {},
  ): Promise<RestoreProgressAck> {
    const ack = await this.call(
      "restoreShardProgress",
      { workerId: this.workerId, position },
      options,
    );
    this.#observeVersion(Number(ack.membershipVersion));
    return ack;
  }

  /** Records a checkpoint part with the coordinator (`NotifyCheckpoint`). */
  notifyCheckpoint(
    info: Omit<CheckpointInfo, "workerId">,
    options: CallOptions = {},
  ): Promise<CheckpointAck> {
    return this.call("notifyCheckpoint", { ...info, workerId: this.workerId }, options);
  }

  /** The latest complete checkpoint of `jobId` as the coordinator recorded it. */
  latestCheckpoint(jobId: string, options: CallOptions = {}): Promise<RecoveryResponse> {
    return this.call("getLatestCheckpoint", { workerId: this.workerId, jobId }, options);
  }

  /**
   * Calls a unary RPC for this worker. When the coordinator answers that this worker is not a
   * live member (it was declared dead during an outage, or the coordinator lost its state), the
   * worker registers again and the call is made once more.
   */
  async call<M extends UnaryMethod>(
    method: M,
    request: UnaryMethods[M][0],
    options: UnaryCallOptions = {},
  ): Promise<UnaryMethods[M][1]> {
    try {
      return await this.connection.unary(method, request, options);
    } catch (thrown) {
      const error = RuntimeError.from(thrown);
      const notLive =
        (error.code === Code.NotFound || error.code === Code.FailedPrecondition) &&
        NOT_LIVE.test(error.rawMessage);
      if (!notLive || this.#closing !== undefined) throw error;
      await this.reregister();
      return await this.connection.unary(method, request, options);
    }
  }

  /**
   * Deregisters (so the others learn at once instead of after the heartbeat timeout), stops the
   * heartbeat and closes the connection. Idempotent: the same promise every time. A coordinator
   * that cannot be reached within `timeoutMs` (default 5,000) is given up on.
   */
  close(options: CallOptions = {}): Promise<void> {
    this.#closing ??= (async () => {
      this.#heartbeat.stop();
      for (const push of [...this.#commandQueues]) push(null);
      this.#commandQueues.clear();
      if (this.#registered) {
        try {
          await this.connection.unary(
            "deregisterWorker",
            {
              workerId: this.workerId,
              hostname: "",
              port: 0,
              gpuCount: 0,
              memoryBytes: 0n,
              metadata: {},
            },
            { timeoutMs: options.timeoutMs ?? 5_000, signal: options.signal },
          );
          this.logger.info("deregistered");
        } catch (error) {
          this.logger.warn(
            { err: error },
            "could not deregister; the coordinator will time this worker out",
          );
        }
      }
      this.connection.close();
      this.#stepController.abort(
        new RuntimeError("the worker is closing", { code: Code.Canceled }),
      );
    })();
    return this.#closing;
  }

  /** Stops everything without deregistering (a failed start). */
  abandon(): void {
    this.#heartbeat.stop();
    this.connection.close();
  }

  async #gpuCount(): Promise<number> {
    if (this.#resources === undefined) return 0;
    await this.#resources.sample();
    return this.#resources.gpuCount;
  }

  #applyConfig(config: WorkerConfig): void {
    if (this.#options.heartbeatIntervalMs === undefined && config.heartbeatIntervalMs > 0n) {
      this.#intervalMs = Number(config.heartbeatIntervalMs);
    }
    this.#updateMembership(Number(config.membershipVersion), config.rank, config.worldSize);
  }

  async #heartbeatRequest(): Promise<HeartbeatRequest> {
    const now = this.clock.now();
    let resources: HeartbeatRequest["resources"];
    if (this.#resources !== undefined && now - this.#lastResourcesMs >= this.#resourceIntervalMs) {
      this.#lastResourcesMs = now;
      resources = await this.#resources.sample();
    }
    const s = this.#status;
    return {
      workerId: this.workerId,
      timestampMs: BigInt(now),
      status: {
        state: STATE_TO_PROTO[s.state],
        currentStep: BigInt(s.step),
        currentEpoch: BigInt(s.epoch),
        currentTask: s.task,
      },
      resources,
    };
  }

  #onHeartbeat(response: HeartbeatResponse): void {
    this.#lastHeartbeatMs = this.clock.now();
    this.#updateMembership(Number(response.membershipVersion), response.rank, response.worldSize);
    for (const raw of response.pendingCommands) {
      const command = parseWorkerCommand(raw);
      this.logger.debug({ command: raw }, "command received");
      for (const push of this.#commandQueues) push(command);
      this.emit("command", command);
    }
  }

  /** A version seen in some answer other than a heartbeat: remember it without rank data. */
  #observeVersion(version: number): void {
    if (version > this.#membershipVersion) {
      this.#updateMembership(version, this.#rank, this.#worldSize);
    }
  }

  #updateMembership(version: number, rank: number, worldSize: number): void {
    const previousVersion = this.#membershipVersion;
    const changed =
      version > previousVersion || rank !== this.#rank || worldSize !== this.#worldSize;
    if (version >= previousVersion) this.#membershipVersion = version;
    this.#rank = rank;
    this.#worldSize = worldSize;
    if (!changed || previousVersion === 0) return;
    const event: MembershipEvent = {
      version: this.#membershipVersion,
      previousVersion,
      rank,
      worldSize,
    };
    this.logger.info(event, "membership changed");
    const controller = this.#stepController;
    this.#stepController = new AbortController();
    controller.abort(
      new RuntimeError(`membership changed (version ${previousVersion} → ${version})`, {
        code: Code.Aborted,
        details: event as unknown as Record<string, unknown>,
      }),
    );
    this.emit("membership", event);
  }
}
