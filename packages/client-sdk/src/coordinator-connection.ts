import type { ChannelOptions, ClientDuplexStream, ServiceError } from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";
import type {
  BarrierRequest,
  BarrierResponse,
  CheckpointAck,
  CheckpointInfo,
  CoordinatorClient,
  DatasetAck,
  DatasetInfo,
  EpochPosition,
  HeartbeatRequest,
  HeartbeatResponse,
  RecoveryRequest,
  RecoveryResponse,
  RestoreProgressAck,
  RestoreProgressRequest,
  ShardAssignment,
  ShardAssignmentList,
  ShardProgress,
  ShardProgressAck,
  ShardRequest,
  WorkerConfig,
  WorkerInfo,
} from "@strata/proto";
import {
  abortReason,
  type BackoffOptions,
  backoffDelayMs,
  type CallOptions,
  type Clock,
  Code,
  createDeadlineSignal,
  createSilentLogger,
  type Logger,
  RuntimeError,
  systemClock,
} from "@strata/runtime-core";
import { clockSleep } from "./clock-sleep.js";
import { createCoordinatorClient } from "./create-coordinator-client.js";
import { fromServiceError } from "./grpc-error.js";

/** Request and response types of every unary RPC of the coordinator, by client method name. */
export interface UnaryMethods {
  registerWorker: [WorkerInfo, WorkerConfig];
  heartbeat: [HeartbeatRequest, HeartbeatResponse];
  deregisterWorker: [WorkerInfo, WorkerConfig];
  registerDataset: [DatasetInfo, DatasetAck];
  getDataShard: [ShardRequest, ShardAssignment];
  notifyCheckpoint: [CheckpointInfo, CheckpointAck];
  getLatestCheckpoint: [RecoveryRequest, RecoveryResponse];
  waitBarrier: [BarrierRequest, BarrierResponse];
  getShardAssignments: [ShardRequest, ShardAssignmentList];
  reportShardProgress: [ShardProgress, ShardProgressAck];
  getShardProgress: [ShardRequest, EpochPosition];
  restoreShardProgress: [RestoreProgressRequest, RestoreProgressAck];
}
/** The name of a unary RPC (client method name, `registerWorker`). */
export type UnaryMethod = keyof UnaryMethods;

/** Options for {@link createCoordinatorConnection}. */
export interface ConnectionOptions {
  /**
   * The coordinator's gRPC address (`host:port`), or several (the members of a highly available
   * coordinator). Calls go to one address at a time; on `UNAVAILABLE` the client follows the
   * `strata-leader` hint of a non-leading coordinator, else tries the next address.
   */
  addresses: string | readonly string[];
  /** Bearer token for `--auth-token` coordinators. Default: none. */
  authToken?: string;
  /** TLS: `true` for the system roots, `{ caPem }` for a private CA. Default: plaintext. */
  tls?: boolean | { caPem: Uint8Array };
  /** Extra grpc-js channel options; they override the defaults below. */
  channelOptions?: ChannelOptions;
  /**
   * Backoff between attempts when the coordinator is unreachable or rate-limits: capped
   * exponential with jitter. Defaults: 100 ms initial, ×2, capped at 2,000 ms, jitter 0.5.
   */
  backoff?: BackoffOptions;
  /**
   * How long a call keeps retrying while no coordinator answers (a restart, a leader election),
   * in ms, unless its own `timeoutMs`/`signal` ends it first. Default 60,000.
   */
  reconnectTimeoutMs?: number;
  /** Deadline of one attempt of a unary call, in ms (barriers get their own). Default 15,000. */
  attemptTimeoutMs?: number;
  /** Time source for backoff. Default: the system clock. */
  clock?: Clock;
  /** Default: silent. */
  logger?: Logger;
  /** Random numbers for jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** Options of one unary call. */
export interface UnaryCallOptions extends CallOptions {
  /** Deadline of one attempt, in ms. Default: the connection's `attemptTimeoutMs`. */
  attemptTimeoutMs?: number;
  /**
   * Whether an attempt that ran into its own deadline may be retried. True for calls that are
   * safe to repeat (all of Strata's are idempotent); default true.
   */
  retryAttemptTimeout?: boolean;
}

const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  initialDelayMs: 100,
  maxDelayMs: 2_000,
  multiplier: 2,
  jitter: 0.5,
};

/**
 * A connection to the coordinator (one or several addresses) that turns the generated callback
 * client into promise calls with `AbortSignal`s, deadlines and retries:
 *
 * - `UNAVAILABLE` (coordinator down or restarting, or not the leader) is retried with capped
 *   exponential backoff and jitter for up to `reconnectTimeoutMs`; a `strata-leader` hint is
 *   followed at once, otherwise the next address is tried.
 * - `RESOURCE_EXHAUSTED` (rate limit) is retried with backoff.
 * - Every other error is a {@link RuntimeError} with the gRPC code, the method in
 *   `details.method` and the field in `details.field`.
 */
export interface CoordinatorConnection {
  /** The address calls go to now. */
  readonly address: string;
  /** Every address known: the configured ones plus leaders learned from hints. */
  readonly addresses: readonly string[];
  /** Calls a unary RPC. */
  unary<M extends UnaryMethod>(
    method: M,
    request: UnaryMethods[M][0],
    options?: UnaryCallOptions,
  ): Promise<UnaryMethods[M][1]>;
  /** Opens a `StreamHeartbeats` stream on the current address. */
  openHeartbeatStream(): ClientDuplexStream<HeartbeatRequest, HeartbeatResponse>;
  /**
   * Tells the connection that a call on `address` failed with `error` outside `unary` (a stream):
   * it follows a leader hint or moves to the next address. Returns the backoff to wait, in ms.
   */
  noteUnavailable(error: RuntimeError, attempt: number): number;
  /** Closes every channel. Idempotent. */
  close(): void;
}

/** Creates a {@link CoordinatorConnection}; no network traffic until the first call. */
export function createCoordinatorConnection(options: ConnectionOptions): CoordinatorConnection {
  return new LeaderFollowingConnection(options);
}

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[^\s/:[\]]+):\d{1,5}$/;

class LeaderFollowingConnection implements CoordinatorConnection {
  readonly #options: ConnectionOptions;
  readonly #clients = new Map<string, CoordinatorClient>();
  readonly #addresses: string[];
  readonly #backoff: Required<BackoffOptions>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #reconnectTimeoutMs: number;
  readonly #attemptTimeoutMs: number;
  #current = 0;
  #closed = false;

  constructor(options: ConnectionOptions) {
    const list = typeof options.addresses === "string" ? [options.addresses] : options.addresses;
    if (!Array.isArray(list) || list.length === 0) {
      throw new RuntimeError("addresses: give at least one coordinator address (host:port)", {
        code: Code.InvalidArgument,
        details: { field: "addresses" },
      });
    }
    for (const address of list) {
      if (typeof address !== "string" || !HOST_PORT.test(address)) {
        throw new RuntimeError(
          `addresses: ${JSON.stringify(address)} is not a coordinator address (host:port)`,
          { code: Code.InvalidArgument, details: { field: "addresses", value: address } },
        );
      }
    }
    this.#options = options;
    this.#addresses = [...new Set(list)];
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? createSilentLogger();
    this.#random = options.random ?? Math.random;
    this.#reconnectTimeoutMs = positive("reconnectTimeoutMs", options.reconnectTimeoutMs, 60_000);
    this.#attemptTimeoutMs = positive("attemptTimeoutMs", options.attemptTimeoutMs, 15_000);
    // Fail fast on a bad token or TLS option, before the first call.
    this.#client(this.address);
  }

  get address(): string {
    return this.#addresses[this.#current] as string;
  }

  get addresses(): readonly string[] {
    return [...this.#addresses];
  }

  async unary<M extends UnaryMethod>(
    method: M,
    request: UnaryMethods[M][0],
    options: UnaryCallOptions = {},
  ): Promise<UnaryMethods[M][1]> {
    this.#assertOpen(method);
    const deadline = createDeadlineSignal(method, options);
    const attemptTimeoutMs = options.attemptTimeoutMs ?? this.#attemptTimeoutMs;
    let unavailableSinceMs: number | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        const startedMs = this.#clock.now();
        try {
          return await this.#attempt(
            method,
            request,
            Math.min(attemptTimeoutMs, deadline.remainingMs()),
            deadline.signal,
          );
        } catch (thrown) {
          if (deadline.signal.aborted) throw abortReason(deadline.signal, method);
          const error = fromServiceError(thrown, method);
          const ownDeadline =
            error.code === Code.DeadlineExceeded &&
            options.retryAttemptTimeout !== false &&
            this.#clock.now() - startedMs >= attemptTimeoutMs - 5;
          if (
            error.code !== Code.Unavailable &&
            error.code !== Code.ResourceExhausted &&
            !ownDeadline
          ) {
            throw error;
          }
          unavailableSinceMs ??= startedMs;
          const waitedMs = this.#clock.now() - unavailableSinceMs;
          if (waitedMs >= this.#reconnectTimeoutMs || this.#closed) {
            throw new RuntimeError(
              `${method}: no coordinator answered for ${waitedMs} ms (tried ${this.#addresses.join(", ")}): ${error.rawMessage}`,
              { code: Code.Unavailable, cause: error, details: { ...error.details, method } },
            );
          }
          const delayMs =
            error.code === Code.ResourceExhausted
              ? backoffDelayMs(attempt, this.#backoff, this.#random)
              : this.noteUnavailable(error, attempt);
          if (delayMs >= deadline.remainingMs()) throw error;
          await clockSleep(this.#clock, delayMs, deadline.signal);
        }
      }
    } finally {
      deadline.cleanup();
    }
  }

  noteUnavailable(error: RuntimeError, attempt: number): number {
    const leader = error.details.leader;
    if (typeof leader === "string" && HOST_PORT.test(leader)) {
      if (leader !== this.address) {
        let index = this.#addresses.indexOf(leader);
        if (index < 0) index = this.#addresses.push(leader) - 1;
        this.#logger.info({ from: this.address, to: leader }, "following the coordinator leader");
        this.#current = index;
        // A fresh hint is worth trying at once; a repeated one backs off like any failure.
        return attempt === 0 ? 0 : backoffDelayMs(attempt - 1, this.#backoff, this.#random);
      }
    } else if (this.#addresses.length > 1) {
      this.#current = (this.#current + 1) % this.#addresses.length;
      this.#logger.debug({ to: this.address }, "coordinator unavailable; trying the next address");
    }
    return backoffDelayMs(attempt, this.#backoff, this.#random);
  }

  openHeartbeatStream(): ClientDuplexStream<HeartbeatRequest, HeartbeatResponse> {
    this.#assertOpen("streamHeartbeats");
    return this.#client(this.address).streamHeartbeats(new Metadata());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }

  #attempt<M extends UnaryMethod>(
    method: M,
    request: UnaryMethods[M][0],
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<UnaryMethods[M][1]> {
    const client = this.#client(this.address);
    const fn = client[method] as unknown as (
      request: UnaryMethods[M][0],
      metadata: Metadata,
      options: { deadline: Date },
      callback: (error: ServiceError | null, response: UnaryMethods[M][1]) => void,
    ) => { cancel(): void };
    return new Promise((resolve, reject) => {
      const call = fn.call(
        client,
        request,
        new Metadata(),
        { deadline: new Date(Date.now() + Math.max(1, timeoutMs)) },
        (error, response) => {
          signal.removeEventListener("abort", onAbort);
          if (error) reject(error);
          else resolve(response);
        },
      );
      const onAbort = () => call.cancel();
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  #client(address: string): CoordinatorClient {
    let client = this.#clients.get(address);
    if (client === undefined) {
      client = createCoordinatorClient({
        target: address,
        authToken: this.#options.authToken,
        tls: this.#options.tls,
        channelOptions: {
          // grpc-js reconnects with up to 120 s between tries by default; a restarted
          // coordinator should see its workers back within a couple of seconds.
          "grpc.initial_reconnect_backoff_ms": this.#backoff.initialDelayMs,
          "grpc.min_reconnect_backoff_ms": this.#backoff.initialDelayMs,
          "grpc.max_reconnect_backoff_ms": this.#backoff.maxDelayMs,
          // The coordinator accepts pings on idle connections at most every 10 s.
          "grpc.keepalive_time_ms": 30_000,
          "grpc.keepalive_timeout_ms": 10_000,
          "grpc.keepalive_permit_without_calls": 1,
          ...this.#options.channelOptions,
        },
      });
      this.#clients.set(address, client);
    }
    return client;
  }

  #assertOpen(method: string): void {
    if (this.#closed) {
      throw new RuntimeError(`${method}: the coordinator connection is closed`, {
        code: Code.FailedPrecondition,
        details: { method },
      });
    }
  }
}

function positive(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new RuntimeError(`${field}: must be a positive number of ms, got ${String(value)}`, {
      code: Code.InvalidArgument,
      details: { field },
    });
  }
  return value;
}
