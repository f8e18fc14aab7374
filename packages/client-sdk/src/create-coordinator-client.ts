import {
  type ChannelOptions,
  credentials,
  InterceptingCall,
  type Interceptor,
} from "@grpc/grpc-js";
import { CoordinatorClient } from "@strata/proto";
import { Code, RuntimeError } from "@strata/runtime-core";

/** Options for {@link createCoordinatorClient}. */
export interface CoordinatorClientOptions {
  /** `host:port` of the coordinator's gRPC address, for example `localhost:50051`. */
  target: string;
  /**
   * Bearer token sent as `authorization: Bearer <token>` on every call. Required when the
   * coordinator runs with `--auth-token`. Default: none.
   */
  authToken?: string;
  /**
   * TLS: `true` uses the system's root certificates; an object supplies a PEM CA (for a
   * self-signed coordinator certificate). Default: plaintext. A token sent over plaintext is
   * visible on the wire, so use TLS outside loopback and private networks.
   */
  tls?: boolean | { caPem: Uint8Array };
  /** Extra grpc-js channel options (keepalive, message sizes). */
  channelOptions?: ChannelOptions;
}

/**
 * Creates a grpc-js client for the coordinator with credentials set up. This is the transport
 * layer of the SDK; the worker-facing API (automatic heartbeats, reconnects, barriers, shards and
 * checkpoints) builds on it in a later release. Call `client.close()` when done.
 *
 * The token travels through a client interceptor rather than call credentials, because grpc-js
 * refuses call credentials on plaintext channels and loopback clusters often run without TLS.
 */
export function createCoordinatorClient(options: CoordinatorClientOptions): CoordinatorClient {
  if (!/^[^\s/]+:\d{1,5}$/.test(options.target) && !options.target.startsWith("unix:")) {
    throw new RuntimeError(
      `invalid coordinator target ${JSON.stringify(options.target)}: expected host:port`,
      {
        code: Code.InvalidArgument,
        details: { target: options.target },
      },
    );
  }
  if (options.authToken !== undefined && !/^[\x21-\x7e]+$/.test(options.authToken)) {
    throw new RuntimeError("invalid auth token: use printable ASCII without spaces", {
      code: Code.InvalidArgument,
    });
  }
  const channel =
    options.tls === undefined || options.tls === false
      ? credentials.createInsecure()
      : credentials.createSsl(options.tls === true ? null : Buffer.from(options.tls.caPem));
  const interceptors: Interceptor[] =
    options.authToken === undefined ? [] : [bearerTokenInterceptor(options.authToken)];
  return new CoordinatorClient(options.target, channel, {
    ...options.channelOptions,
    interceptors,
  });
}

/** A client interceptor that adds `authorization: Bearer <token>` to every call's metadata. */
export function bearerTokenInterceptor(token: string): Interceptor {
  return (callOptions, nextCall) =>
    new InterceptingCall(nextCall(callOptions), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}
