import { createRequire } from "node:module";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import type { CoordinatorServer } from "@strata/proto";
import { COORDINATOR_SERVICE_NAME, CoordinatorService } from "@strata/proto";
import { Code, RuntimeError } from "@strata/runtime-core";
import { HealthImplementation } from "grpc-health-check";
import { parseHostPort } from "../host-port.js";
import { withDecodeFailures } from "./request-decoding.js";

/** Largest request message the server accepts: 4 MiB. */
export const MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Largest response message the server sends: 16 MiB (a big shard list or recovery answer). */
export const MAX_SEND_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Options for {@link startGrpcServer}. */
export interface GrpcServerOptions {
  /** `host:port`; port 0 picks a free port. IPv6 hosts in brackets: `[::1]:50051`. */
  address: string;
  service: CoordinatorServer;
  /** PEM certificate chain and private key; plaintext when absent. */
  tls?: { certChain: Buffer; privateKey: Buffer };
}

/** A bound gRPC server. */
export interface GrpcServerHandle {
  readonly server: Server;
  /** The bound address with the real port (`127.0.0.1:41234`). */
  readonly address: string;
  /** Stops taking calls at once (new calls are refused) and resolves when in-flight ones finished. */
  drain(): Promise<void>;
  /** Cancels every open call and closes every connection. */
  forceShutdown(): void;
  /**
   * Sets what the standard health service (`grpc.health.v1.Health`) answers for the server
   * (`""`) and for `coordinator.Coordinator`: `SERVING` once the coordinator serves,
   * `NOT_SERVING` while it starts, shuts down or (HA) does not lead. Starts as `NOT_SERVING`.
   */
  setServing(serving: boolean): void;
}

/**
 * Binds a grpc-js server with the coordinator service, message-size limits and keepalive
 * settings, and starts it.
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServerHandle> {
  const { host } = parseHostPort(options.address, "grpcAddr");
  const server = new Server({
    "grpc.max_receive_message_length": MAX_RECEIVE_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_SEND_MESSAGE_BYTES,
    // Ping idle connections every 30 s and drop them if the ping is not answered in 10 s, so dead
    // peers do not hold sockets; clients may ping without calls (long barrier waits) but not
    // more often than every 10 s.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 10_000,
    // Bounds streams per connection (each barrier waiter holds one).
    "grpc.max_concurrent_streams": 10_000,
    // Channelz stays on (grpc-js's default): with it off, grpc-js 1.14 no longer tracks sessions,
    // so tryShutdown() and forceShutdown() leave open connections behind.
  });
  server.addService(withDecodeFailures(CoordinatorService), options.service);
  // The conventions tools expect: grpc_health_probe, Kubernetes gRPC probes and grpcurl work
  // without our proto.
  const health = new HealthImplementation({
    "": "NOT_SERVING",
    [COORDINATOR_SERVICE_NAME]: "NOT_SERVING",
  });
  health.addToServer(server);
  new ReflectionService(loadSync(coordinatorProtoPath(), { keepCase: true })).addToServer(server);
  const credentials =
    options.tls === undefined
      ? ServerCredentials.createInsecure()
      : ServerCredentials.createSsl(
          null,
          [{ cert_chain: options.tls.certChain, private_key: options.tls.privateKey }],
          false,
        );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.address, credentials, (error, bound) => {
      if (error) {
        reject(
          new RuntimeError(`cannot bind gRPC server to ${options.address}: ${error.message}`, {
            code: Code.Unavailable,
            cause: error,
          }),
        );
      } else resolve(bound);
    });
  });
  let draining: Promise<void> | undefined;
  return {
    server,
    address: `${host}:${port}`,
    drain() {
      draining ??= new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      return draining;
    },
    forceShutdown() {
      server.forceShutdown();
    },
    setServing(serving) {
      const status = serving ? "SERVING" : "NOT_SERVING";
      health.setStatus("", status);
      health.setStatus(COORDINATOR_SERVICE_NAME, status);
    },
  };
}

/** The path of `coordinator.proto` as the `@strata/proto` package ships it. */
function coordinatorProtoPath(): string {
  return createRequire(import.meta.url).resolve("@strata/proto/coordinator.proto");
}
