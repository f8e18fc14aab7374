import { createServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { Code, RuntimeError } from "@strata/runtime-core";
import { parseHostPort } from "../host-port.js";

/** A listening HTTP server. */
export interface HttpServerHandle {
  readonly server: Server;
  /** The bound address with the real port (`127.0.0.1:3456`). */
  readonly address: string;
  /** Stops accepting, waits up to `graceMs` for open requests, then destroys the rest. Idempotent. */
  close(graceMs: number): Promise<void>;
}

/**
 * Starts node:http on `address` (`host:port`, port 0 for a free one) with `listener` (the express
 * app); HTTPS when `tls` is given (the coordinator uses its gRPC certificate, so a bearer token
 * never crosses the network in clear text). Long-lived responses (the event stream) must be ended
 * by their owner before `close`, or they are cut at the end of the grace period.
 */
export async function startHttpServer(
  address: string,
  listener: RequestListener,
  tls?: { certChain: Buffer; privateKey: Buffer },
): Promise<HttpServerHandle> {
  const { host, port } = parseHostPort(address, "httpAddr");
  const options = { requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16 * 1024 };
  const server: Server =
    tls === undefined
      ? createServer(options, listener)
      : createHttpsServer({ ...options, cert: tls.certChain, key: tls.privateKey }, listener);
  server.keepAliveTimeout = 5_000;
  // Requests in flight per connection, so a shutdown can close every connection that has none
  // at once (node's closeIdleConnections misses connections that never sent a request, such as
  // a browser's preconnect), and the others as soon as their last response is done.
  const inFlight = new Map<Socket, number>();
  let stopping = false;
  server.on(tls === undefined ? "connection" : "secureConnection", (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once("close", () => inFlight.delete(socket));
  });
  server.on("request", (request, response) => {
    const socket = request.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.once("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (stopping && left === 0) socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) =>
      reject(
        new RuntimeError(`cannot bind HTTP server to ${address}: ${error.message}`, {
          code: Code.Unavailable,
          cause: error,
        }),
      );
    server.once("error", onError);
    server.listen({ host: host.replace(/^\[|\]$/g, ""), port }, () => {
      server.removeListener("error", onError);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    server,
    address: `${host}:${bound}`,
    close(graceMs) {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        stopping = true;
        for (const [socket, requests] of inFlight) if (requests === 0) socket.destroy();
      });
      return closing;
    },
  };
}
