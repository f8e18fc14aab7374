import type { StatusResponse } from "../api/status.js";
import type { EngineSnapshot } from "../engine/types.js";

/** What `/api/status` shows beyond the snapshot: this coordinator's identity and addresses. */
export interface CoordinatorIdentity {
  /** Host name and pid unless configured. */
  coordinatorId: string;
  /** The bound gRPC address (`0.0.0.0:50051` when bound to every interface). */
  grpcAddress: string;
  /** The bound HTTP address. */
  httpAddress: () => string;
  startedAtMs: number;
  version: string;
  store: string;
  auth: boolean;
  /** `leader` for a highly available coordinator that leads; default `standalone`. */
  role?: "standalone" | "leader";
  /** The addresses announced in the election (a leader's), when they differ from the bound ones. */
  advertisedGrpc?: string;
  advertisedHttp?: string;
}

const WILDCARD = /^(0\.0\.0\.0|\[::\]|::)$/;

/**
 * `/api/status`. `address` is where workers connect: the bound gRPC address, with a wildcard
 * host replaced by the host the HTTP request reached (`requestHost`), since that one is
 * reachable from the caller.
 */
export function toStatusResponse(
  identity: CoordinatorIdentity,
  snapshot: EngineSnapshot,
  requestHost: string | undefined,
): StatusResponse {
  const separator = identity.grpcAddress.lastIndexOf(":");
  const host = identity.grpcAddress.slice(0, separator);
  const port = identity.grpcAddress.slice(separator + 1);
  const reachable =
    WILDCARD.test(host) && requestHost !== undefined && requestHost !== ""
      ? `${requestHost.includes(":") ? `[${requestHost}]` : requestHost}:${port}`
      : identity.grpcAddress;
  const httpAddress = identity.httpAddress();
  return {
    connected: true,
    address: reachable,
    uptime: Math.max(0, Math.floor((snapshot.atMs - identity.startedAtMs) / 1_000)),
    version: identity.version,
    grpc_address: identity.grpcAddress,
    http_address: httpAddress,
    started_at: identity.startedAtMs,
    role: identity.role ?? "standalone",
    leader: {
      id: identity.coordinatorId,
      grpc_address: identity.advertisedGrpc ?? identity.grpcAddress,
      http_address: identity.advertisedHttp ?? httpAddress,
    },
    coordinator_id: identity.coordinatorId,
    store: identity.store,
    auth: identity.auth,
    heartbeat_timeout_ms: snapshot.heartbeatTimeoutMs,
    membership_version: snapshot.membershipVersion,
    world_size: snapshot.worldSize,
  };
}
