import { z } from "zod";
import { count, epochMs } from "./common.js";

/** Which part this coordinator plays: alone, or one of several sharing state in etcd. */
export const coordinatorRoleSchema = z.enum(["standalone", "leader", "follower"]);
/** Which part this coordinator plays. */
export type CoordinatorRole = z.infer<typeof coordinatorRoleSchema>;

/**
 * `GET /api/status` (the original's `StatusResponse`, plus additive fields). `uptime` is whole
 * seconds, as in the original.
 */
export const statusResponseSchema = z.object({
  /** Always true when the answer came from a coordinator. */
  connected: z.boolean(),
  /** The gRPC address workers connect to (the real bound port), e.g. `10.0.0.5:50051`. */
  address: z.string(),
  /** Seconds since this coordinator process started. */
  uptime: count,
  version: z.string(),
  // --- additive ---
  grpc_address: z.string(),
  http_address: z.string(),
  started_at: epochMs,
  role: coordinatorRoleSchema,
  /** The leading coordinator (itself when `role` is leader or standalone); null while none is known. */
  leader: z
    .object({ id: z.string(), grpc_address: z.string(), http_address: z.string() })
    .nullable(),
  /** This coordinator's id (host and pid unless configured). */
  coordinator_id: z.string(),
  /** Where durable state lives: `sqlite`, `memory` or `etcd`. */
  store: z.string(),
  /** Whether requests need the bearer token (or a session cookie). */
  auth: z.boolean(),
  heartbeat_timeout_ms: count,
  membership_version: count,
  /** Live workers. */
  world_size: count,
});
/** `GET /api/status`. */
export type StatusResponse = z.infer<typeof statusResponseSchema>;

/** `GET /api/health`: liveness, public (no token). */
export const healthResponseSchema = z.object({ status: z.literal("ok") });
/** `GET /api/health`. */
export type HealthResponse = z.infer<typeof healthResponseSchema>;
