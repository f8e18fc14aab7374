import { performance } from "node:perf_hooks";
import type {
  handleUnaryCall,
  ServerDuplexStream,
  ServerUnaryCall,
  StatusObject,
  sendUnaryData,
} from "@grpc/grpc-js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type {
  BarrierRequest,
  BarrierResponse,
  CheckpointAck,
  CoordinatorServer,
  DatasetAck,
  EpochPosition,
  HeartbeatRequest,
  HeartbeatResponse,
  RecoveryResponse,
  RestoreProgressAck,
  ShardAssignment,
  ShardAssignmentList,
  ShardProgressAck,
  WorkerConfig,
} from "@strata/proto";
import type { Logger } from "@strata/runtime-core";
import { Code, RuntimeError } from "@strata/runtime-core";
import type { CoordinatorEngine } from "../engine/index.js";
import type { CoordinatorMetrics } from "../metrics/coordinator-metrics.js";
import type { CounterCell, HistogramCell } from "../metrics/fast-metrics.js";
import {
  pageToken,
  parseBarrier,
  parseCheckpoint,
  parseDeregisterWorker,
  parseHeartbeat,
  parseRecovery,
  parseRegisterDataset,
  parseRegisterWorker,
  parseRestoreProgress,
  parseShardPageRequest,
  parseShardProgress,
  parseShardRequest,
} from "../validation/parse-requests.js";
import type { CallGuard } from "./call-guard.js";
import { decodeFailure } from "./request-decoding.js";
import {
  assignmentsToProto,
  checkpointToProto,
  positionToProto,
  shardToProto,
} from "./to-proto.js";
import { toServiceError } from "./to-service-error.js";

/** Options for {@link createCoordinatorService}. */
export interface CoordinatorServiceOptions {
  engine: CoordinatorEngine;
  guard: CallGuard;
  metrics: CoordinatorMetrics;
  logger: Logger;
  /** Aborts when the server shuts down; open WaitBarrier calls end with UNAVAILABLE. */
  shutdownSignal: AbortSignal;
  /** Told to workers in WorkerConfig.heartbeat_interval_ms. */
  heartbeatIntervalMs: number;
}

type MethodName = keyof CoordinatorServer & string;

interface MethodMetrics {
  seconds: HistogramCell;
  byCode: Map<number, CounterCell>;
}

const CODE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(GrpcStatus)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k]),
);

/**
 * An AbortSignal that fires when the client cancels the call or its deadline passes, so a change
 * not yet planned is dropped instead of made for nobody.
 */
function cancellation(call: ServerUnaryCall<unknown, unknown>): AbortSignal {
  const controller = new AbortController();
  // grpc-js emits "cancelled" when any call's stream closes, finished ones too: keep it cheap
  // (one shared reason, no stack trace per call).
  call.once("cancelled", () => controller.abort(CLIENT_CANCELLED));
  return controller.signal;
}

const CLIENT_CANCELLED = new RuntimeError("the client cancelled the call", {
  code: Code.Canceled,
});

/**
 * The gRPC service: validates each request at the edge (INVALID_ARGUMENT naming the field),
 * delegates to the engine, converts numbers ↔ bigints, and maps errors through
 * {@link toServiceError}. Every call first passes the {@link CallGuard} (metadata size, bearer
 * token, rate limit).
 */
export function createCoordinatorService(options: CoordinatorServiceOptions): CoordinatorServer {
  const { engine, guard, metrics, logger, shutdownSignal, heartbeatIntervalMs } = options;
  const methodMetrics = new Map<string, MethodMetrics>();

  // Pre-bound label children: label lookups on every heartbeat cost more than the heartbeat.
  function record(method: string, code: number, startedMs: number): void {
    let m = methodMetrics.get(method);
    if (m === undefined) {
      // Labels use the gRPC method name (RegisterWorker), as it appears on the wire.
      const label = method.charAt(0).toUpperCase() + method.slice(1);
      m = { seconds: metrics.rpcSeconds.cell({ method: label }), byCode: new Map() };
      methodMetrics.set(method, m);
    }
    let counter = m.byCode.get(code);
    if (counter === undefined) {
      counter = metrics.rpcs.cell({
        method: method.charAt(0).toUpperCase() + method.slice(1),
        code: CODE_NAMES[code] ?? String(code),
      });
      m.byCode.set(code, counter);
    }
    counter.inc();
    m.seconds.observe((performance.now() - startedMs) / 1000);
  }

  function failStatus(method: string, reason: unknown): Partial<StatusObject> {
    const { status, error, exposed } = toServiceError(reason);
    if (!exposed) logger.error({ err: error, method }, "rpc failed with an internal error");
    else if (error.code === Code.Internal || error.code === Code.Unknown) {
      logger.error({ err: error, method }, "rpc failed");
    } else logger.debug({ method, code: error.code, message: error.rawMessage }, "rpc refused");
    return status;
  }

  /**
   * Wraps a handler: guard, then the handler, then the answer and metrics. A handler that
   * returns a plain value answers synchronously (the heartbeat path allocates no promise).
   */
  function unary<Req, Res>(
    method: MethodName,
    handler: (request: Req, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
  ): handleUnaryCall<Req, Res> {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const startedMs = performance.now();
      const fail = (reason: unknown) => {
        const status = failStatus(method, reason);
        record(method, status.code ?? GrpcStatus.INTERNAL, startedMs);
        callback(status, null);
      };
      const denied = guard.admit(call.metadata, call.getPeer());
      if (denied !== undefined) {
        fail(denied);
        return;
      }
      const malformed = decodeFailure(call.request);
      if (malformed !== undefined) {
        fail(malformed);
        return;
      }
      let result: Res | Promise<Res>;
      try {
        result = handler(call.request, call);
      } catch (error) {
        fail(error);
        return;
      }
      if (result instanceof Promise) {
        result.then((value) => {
          record(method, GrpcStatus.OK, startedMs);
          callback(null, value);
        }, fail);
      } else {
        record(method, GrpcStatus.OK, startedMs);
        callback(null, result);
      }
    };
  }

  const heartbeatCells = {
    unary: metrics.heartbeats.cell({ transport: "unary" }),
    stream: metrics.heartbeats.cell({ transport: "stream" }),
  };
  const heartbeatSeconds = metrics.heartbeatSeconds.cell();

  function heartbeat(request: HeartbeatRequest, transport: "unary" | "stream"): HeartbeatResponse {
    const startedMs = performance.now();
    const malformed = decodeFailure(request);
    if (malformed !== undefined) throw malformed;
    const input = parseHeartbeat(request);
    const result = engine.heartbeat({
      workerId: input.workerId,
      ...(input.state === undefined ? {} : { state: input.state }),
      ...(input.progress === undefined
        ? {}
        : { step: input.progress.step, epoch: input.progress.epoch, task: input.progress.task }),
      ...(input.resources === undefined ? {} : { resources: input.resources }),
    });
    heartbeatCells[transport].inc();
    heartbeatSeconds.observe((performance.now() - startedMs) / 1000);
    return {
      acknowledged: true,
      serverTimestampMs: BigInt(result.serverTimeMs),
      pendingCommands: result.pendingCommands,
      membershipVersion: BigInt(result.membershipVersion),
      rank: result.rank,
      worldSize: result.worldSize,
    };
  }

  // Release latency, server side: from the arrival that completed a barrier to the last answer
  // sent for that generation. All waiters are answered in one synchronous pass of the engine.
  // Keyed weakly by the release's shared `arrived` array, so an unfinished entry (shutdown) is
  // collected with it.
  const releases = new WeakMap<readonly string[], { lastArrivalMs: number; pending: number }>();
  const waiters = new Set<AbortController>();
  // Open heartbeat streams: shutdown ends them (UNAVAILABLE) instead of letting them hold the drain
  // until the grace period runs out, since a worker's stream never ends by itself.
  const streams = new Set<(reason: unknown) => void>();
  shutdownSignal.addEventListener(
    "abort",
    () => {
      for (const waiter of waiters) waiter.abort(shutdownSignal.reason);
      for (const endStream of [...streams]) endStream(shutdownSignal.reason);
    },
    { once: true },
  );

  return {
    registerWorker: unary("registerWorker", async (request, call): Promise<WorkerConfig> => {
      const result = await engine.registerWorker(parseRegisterWorker(request), {
        signal: cancellation(call),
      });
      return {
        assignedId: result.workerId,
        rank: result.rank,
        worldSize: result.worldSize,
        heartbeatIntervalMs: BigInt(result.heartbeatIntervalMs),
        config: { ...result.config },
        membershipVersion: BigInt(result.membershipVersion),
      };
    }),

    deregisterWorker: unary("deregisterWorker", async (request, call): Promise<WorkerConfig> => {
      const { workerId } = parseDeregisterWorker(request);
      const result = await engine.deregisterWorker(workerId, { signal: cancellation(call) });
      return {
        assignedId: result.workerId,
        rank: result.rank,
        worldSize: result.worldSize,
        heartbeatIntervalMs: BigInt(heartbeatIntervalMs),
        config: {},
        membershipVersion: BigInt(result.membershipVersion),
      };
    }),

    heartbeat: unary("heartbeat", (request) => heartbeat(request, "unary")),

    streamHeartbeats(call: ServerDuplexStream<HeartbeatRequest, HeartbeatResponse>) {
      const startedMs = performance.now();
      const peer = call.getPeer();
      const end = (reason: unknown) => {
        const status = failStatus("streamHeartbeats", reason);
        record("streamHeartbeats", status.code ?? GrpcStatus.INTERNAL, startedMs);
        call.emit("error", status);
      };
      const denied =
        guard.admit(call.metadata, peer) ??
        (shutdownSignal.aborted ? shutdownSignal.reason : undefined);
      if (denied !== undefined) {
        end(denied);
        return;
      }
      let ended = false;
      const endOnShutdown = (reason: unknown) => {
        if (ended) return;
        ended = true;
        streams.delete(endOnShutdown);
        end(reason);
      };
      streams.add(endOnShutdown);
      call.on("data", (request: HeartbeatRequest) => {
        if (ended) return;
        // A rate-limited message is answered (not recorded) and the stream stays open; any other
        // error ends the stream with its status, so the client learns why (e.g. NOT_FOUND: register again).
        const refused = guard.takeToken(peer);
        if (refused !== undefined && refused.code !== Code.ResourceExhausted) {
          // Not (or no longer) the leader: the stream ends naming the leader.
          ended = true;
          end(refused);
          return;
        }
        if (refused !== undefined) {
          if (
            !call.write({
              acknowledged: false,
              serverTimestampMs: BigInt(Date.now()),
              pendingCommands: [],
              membershipVersion: 0n,
              rank: 0,
              worldSize: 0,
            })
          ) {
            call.pause();
            call.once("drain", () => call.resume());
          }
          return;
        }
        try {
          // Backpressure: a client that sends but does not read gets its stream paused (HTTP/2
          // flow control then stops its sends) instead of growing our buffers without bound.
          if (!call.write(heartbeat(request, "stream"))) {
            call.pause();
            call.once("drain", () => call.resume());
          }
        } catch (error) {
          ended = true;
          end(error);
        }
      });
      call.on("end", () => {
        streams.delete(endOnShutdown);
        if (ended) return;
        ended = true;
        record("streamHeartbeats", GrpcStatus.OK, startedMs);
        call.end();
      });
      call.on("error", () => {
        streams.delete(endOnShutdown);
        ended = true;
      });
      call.on("cancelled", () => {
        streams.delete(endOnShutdown);
        ended = true;
      });
    },

    registerDataset: unary("registerDataset", async (request, call): Promise<DatasetAck> => {
      const spec = parseRegisterDataset(request);
      const { totalShards, created } = await engine.registerDataset(spec, {
        signal: cancellation(call),
      });
      return {
        success: true,
        datasetId: spec.datasetId,
        totalShards: BigInt(totalShards),
        message: created
          ? `dataset registered with ${totalShards} shards`
          : `dataset already registered with the same spec (${totalShards} shards)`,
      };
    }),

    getDataShard: unary("getDataShard", (request): ShardAssignment => {
      return shardToProto(engine.getDataShard(parseShardRequest(request)));
    }),

    getShardAssignments: unary("getShardAssignments", (request): ShardAssignmentList => {
      const result = engine.getShardAssignments(parseShardPageRequest(request));
      return {
        ...assignmentsToProto(result),
        nextPageToken:
          result.nextOffset === undefined
            ? ""
            : pageToken(result.membershipVersion, result.nextOffset),
      };
    }),

    reportShardProgress: unary(
      "reportShardProgress",
      async (request, call): Promise<ShardProgressAck> => {
        const input = parseShardProgress(request);
        const result = await engine.reportShardProgress(input, { signal: cancellation(call) });
        return {
          accepted: result.accepted,
          membershipVersion: BigInt(result.membershipVersion),
          consumedSamples: BigInt(result.consumedSamples),
          shardComplete: result.shardComplete,
          epochComplete: result.epochComplete,
        };
      },
    ),

    getShardProgress: unary("getShardProgress", (request): EpochPosition => {
      return positionToProto(engine.getShardProgress(parseShardRequest(request)));
    }),

    restoreShardProgress: unary(
      "restoreShardProgress",
      async (request, call): Promise<RestoreProgressAck> => {
        const result = await engine.restoreShardProgress(parseRestoreProgress(request), {
          signal: cancellation(call),
        });
        return {
          restored: true,
          consumedSamples: BigInt(result.consumedSamples),
          membershipVersion: BigInt(result.membershipVersion),
          forgottenEpochs: result.forgottenEpochs.map(BigInt),
        };
      },
    ),

    notifyCheckpoint: unary("notifyCheckpoint", async (request, call): Promise<CheckpointAck> => {
      const input = parseCheckpoint(request);
      const result = await engine.notifyCheckpoint(
        {
          workerId: input.workerId,
          jobId: input.jobId,
          checkpointId: input.checkpointId,
          step: input.step,
          epoch: input.epoch,
          storagePath: input.storagePath,
          sizeBytes: input.sizeBytes,
          kind: input.kind,
          metadata: input.metadata,
          ...(input.rank === undefined ? {} : { rank: input.rank }),
          ...(input.worldSize === undefined ? {} : { worldSize: input.worldSize }),
          whole: input.whole,
        },
        { signal: cancellation(call) },
      );
      return {
        success: true,
        checkpointId: input.checkpointId,
        message: result.complete
          ? `checkpoint recorded; step ${result.globalStep} is complete`
          : `checkpoint recorded; ${result.ranksReported} of ${result.ranksExpected} ranks reported`,
        globalStep: BigInt(result.globalStep),
        complete: result.complete,
        ranksReported: result.ranksReported,
        ranksExpected: result.ranksExpected,
      };
    }),

    getLatestCheckpoint: unary("getLatestCheckpoint", (request): RecoveryResponse => {
      const result = engine.getLatestCheckpoint(parseRecovery(request));
      if (!result.hasCheckpoint) {
        return {
          hasCheckpoint: false,
          latestCheckpoint: undefined,
          resumeStep: 0n,
          resumeEpoch: 0n,
          shardAssignments: [],
          membershipVersion: BigInt(result.membershipVersion),
          shardAssignmentsTruncated: false,
        };
      }
      return {
        hasCheckpoint: true,
        latestCheckpoint: checkpointToProto(result.checkpoint, result.parts.length),
        resumeStep: BigInt(result.resumeStep),
        resumeEpoch: BigInt(result.resumeEpoch),
        shardAssignments: result.shardAssignments.map(shardToProto),
        membershipVersion: BigInt(result.membershipVersion),
        shardAssignmentsTruncated: result.shardAssignmentsTruncated,
      };
    }),

    // Not through unary(): a release answers up to thousands of waiters at once, so each waiter
    // takes one promise hop from the engine's resolution to its answer, and the release metric is
    // taken right after the last answer was handed to grpc-js.
    waitBarrier(
      call: ServerUnaryCall<BarrierRequest, BarrierResponse>,
      callback: sendUnaryData<BarrierResponse>,
    ) {
      const receivedMs = performance.now();
      const fail = (reason: unknown) => {
        const status = failStatus("waitBarrier", reason);
        record("waitBarrier", status.code ?? GrpcStatus.INTERNAL, receivedMs);
        callback(status, null);
      };
      const denied = guard.admit(call.metadata, call.getPeer());
      if (denied !== undefined) {
        fail(denied);
        return;
      }
      let input: ReturnType<typeof parseBarrier>;
      try {
        const malformed = decodeFailure(call.request);
        if (malformed !== undefined) throw malformed;
        input = parseBarrier(call.request);
      } catch (error) {
        fail(error);
        return;
      }
      // One signal per waiter: it aborts when the client cancels (or its deadline passes) or the
      // server shuts down (through `waiters`, so nothing is added to the shutdown signal per call).
      const waiter = new AbortController();
      const onCancel = () =>
        waiter.abort(
          new RuntimeError("barrier wait cancelled by the client", { code: Code.Canceled }),
        );
      call.once("cancelled", onCancel);
      waiters.add(waiter);
      if (shutdownSignal.aborted) waiter.abort(shutdownSignal.reason);
      const done = () => {
        waiters.delete(waiter);
        call.removeListener("cancelled", onCancel);
      };
      engine
        .waitBarrier({
          workerId: input.workerId,
          barrierId: input.barrierId,
          step: input.step,
          ...(input.timeoutMs === undefined ? {} : { timeoutMs: input.timeoutMs }),
          signal: waiter.signal,
        })
        .then(
          (result) => {
            done();
            callback(null, {
              released: true,
              barrierId: result.barrierId,
              participants: BigInt(result.participants),
              arrivalOrder: BigInt(result.arrivalOrder),
              participantIds: input.includeParticipantIds ? [...result.arrived] : [],
              membershipVersion: BigInt(result.membershipVersion),
            });
            record("waitBarrier", GrpcStatus.OK, receivedMs);
            // The engine hands every waiter of one release the same `arrived` array: a free key.
            let release = releases.get(result.arrived);
            if (release === undefined) {
              release = { lastArrivalMs: receivedMs, pending: result.participants };
              releases.set(result.arrived, release);
            }
            if (result.arrivalOrder === result.participants) release.lastArrivalMs = receivedMs;
            release.pending -= 1;
            if (release.pending <= 0) {
              releases.delete(result.arrived);
              metrics.barrierReleaseSeconds.observe(
                Math.max(0, performance.now() - release.lastArrivalMs) / 1000,
              );
            }
          },
          (error: unknown) => {
            done();
            fail(error);
          },
        );
    },
  };
}
