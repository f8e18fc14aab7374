import type {
  Metadata,
  ServerDuplexStream,
  ServerUnaryCall,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { COORDINATOR_SERVICE_NAME, CoordinatorService } from "@strata/proto";
import type { Logger } from "@strata/runtime-core";
import { Code, codeToHttpStatus, codeToString, RuntimeError } from "@strata/runtime-core";
import express from "express";
import { HealthImplementation } from "grpc-health-check";
import helmet from "helmet";
import type { StatusResponse } from "../api/status.js";
import { createBearerAuth } from "../auth/bearer-auth.js";
import { toServiceError } from "../grpc/to-service-error.js";
import { parseHostPort } from "../host-port.js";
import { startHttpServer } from "../http/http-server.js";
import type { Leadership } from "./leadership.js";

/** Options for {@link startFollowerServers}. */
export interface FollowerServerOptions {
  grpcAddr: string;
  httpAddr: string;
  tls: { certChain: Buffer; privateKey: Buffer } | undefined;
  leadership: Leadership;
  startedAtMs: number;
  version: string;
  logger: Logger;
  /**
   * The cluster's bearer token, when it has one: a follower asks for it as the leader does (on
   * every RPC and `/api` route but the probes), so it tells who leads, and where, only to callers
   * that may talk to the leader.
   */
  authToken?: string;
}

/** The servers of a coordinator that does not lead. */
export interface FollowerServers {
  /** Bound addresses (the real ports): the leader binds the same ones when it takes over. */
  readonly grpcAddress: string;
  readonly httpAddress: string;
  /** Closes both servers at once (a leader is about to bind their ports). Idempotent. */
  close(): Promise<void>;
}

/**
 * What a follower serves while another coordinator leads: every gRPC call is UNAVAILABLE with
 * the leader's address in the trailing metadata `strata-leader` (clients follow it, see
 * proto/README.md), and over HTTP `/api/health` is 200 (the process is alive), `/api/ready` 503
 * (Kubernetes sends traffic to the leader only), `/api/status` says who leads, and every other
 * `/api` route is 503 naming the leader (header `strata-leader`: its HTTP address).
 */
export async function startFollowerServers(
  options: FollowerServerOptions,
): Promise<FollowerServers> {
  const { leadership } = options;
  const auth = options.authToken === undefined ? undefined : createBearerAuth(options.authToken);
  const unauthenticated = () =>
    new RuntimeError("missing or invalid bearer token", { code: Code.Unauthenticated });
  const grpc = new Server();
  const refuse = (metadata: Metadata) => {
    const value = metadata.get("authorization")[0];
    const allowed = auth === undefined || auth.check(typeof value === "string" ? value : undefined);
    return toServiceError(allowed ? leadership.notLeaderError() : unauthenticated()).status;
  };
  const handlers: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(CoordinatorService)) {
    handlers[name] = method.requestStream
      ? (call: ServerDuplexStream<unknown, unknown>) => {
          call.on("error", () => undefined);
          call.emit("error", refuse(call.metadata));
        }
      : (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) =>
          callback(refuse(call.metadata), null);
  }
  grpc.addService(CoordinatorService, handlers);
  // Health checkers (grpc_health_probe, Kubernetes gRPC probes) see a follower as not serving.
  new HealthImplementation({
    "": "NOT_SERVING",
    [COORDINATOR_SERVICE_NAME]: "NOT_SERVING",
  }).addToServer(grpc);
  const credentials =
    options.tls === undefined
      ? ServerCredentials.createInsecure()
      : ServerCredentials.createSsl(
          null,
          [{ cert_chain: options.tls.certChain, private_key: options.tls.privateKey }],
          false,
        );
  const { host } = parseHostPort(options.grpcAddr, "grpcAddr");
  const port = await new Promise<number>((resolve, reject) =>
    grpc.bindAsync(options.grpcAddr, credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const grpcAddress = `${host}:${port}`;

  const app = express();
  app.use(helmet({ strictTransportSecurity: options.tls !== undefined }));
  app.get("/api/health", (_request, response) => {
    response.json({ status: "ok" });
  });
  const notLeader = (response: express.Response, withLeader: boolean) => {
    const error = leadership.notLeaderError();
    const leader = leadership.leader;
    if (withLeader && leader !== undefined) response.set("strata-leader", leader.http);
    response
      .status(codeToHttpStatus(error.code))
      .set("cache-control", "no-store")
      .json({
        code: codeToString(error.code),
        message: withLeader ? error.rawMessage : "not the leader",
      });
  };
  // Readiness is public (load balancers send no token) and says only "not ready".
  app.get("/api/ready", (_request, response) => notLeader(response, false));
  app.use(["/api", "/metrics"], (request, response, next) => {
    if (auth === undefined || auth.check(request.get("authorization"))) {
      next();
      return;
    }
    const error = unauthenticated();
    response
      .status(codeToHttpStatus(error.code))
      .set("www-authenticate", 'Bearer realm="strata"')
      .json({ code: codeToString(error.code), message: error.rawMessage });
  });
  app.get("/api/status", (_request, response) => {
    const leader = leadership.leader;
    const body: StatusResponse = {
      connected: true,
      address: grpcAddress,
      uptime: Math.floor((Date.now() - options.startedAtMs) / 1_000),
      version: options.version,
      grpc_address: grpcAddress,
      http_address: http.address,
      started_at: options.startedAtMs,
      role: "follower",
      leader:
        leader === undefined
          ? null
          : { id: leader.id, grpc_address: leader.grpc, http_address: leader.http },
      coordinator_id: leadership.self.id,
      store: "etcd",
      auth: auth !== undefined,
      heartbeat_timeout_ms: 0,
      membership_version: 0,
      world_size: 0,
    };
    response.set("cache-control", "no-store").json(body);
  });
  app.use(["/api", "/metrics"], (_request, response) => notLeader(response, true));
  const scheme = options.tls === undefined ? "http" : "https";
  app.use((_request, response) => {
    const leader = leadership.leader;
    response
      .status(503)
      .type("html")
      .send(
        `<!doctype html><title>Strata coordinator (follower)</title><p>This coordinator is a follower. ${
          leader === undefined
            ? "No leader is known yet; an election is under way."
            : `The leader's dashboard is at <a href="${scheme}://${escapeHtml(leader.http)}/">${escapeHtml(leader.http)}</a>.`
        }</p>`,
      );
  });
  const http = await startHttpServer(options.httpAddr, app, options.tls);

  let closing: Promise<void> | undefined;
  return {
    grpcAddress,
    httpAddress: http.address,
    close() {
      closing ??= (async () => {
        grpc.forceShutdown();
        await http.close(0);
      })();
      return closing;
    },
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
