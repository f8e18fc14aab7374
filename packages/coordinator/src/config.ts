import { LOG_LEVELS } from "@strata/runtime-core";
import { z } from "zod";

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+):(\d{1,5})$/;

const address = (example: string) =>
  z
    .string()
    .regex(HOST_PORT, `expected host:port, such as ${example}`)
    .refine((value) => Number(HOST_PORT.exec(value)?.[2]) <= 65_535, "port must be 0 to 65535");

/**
 * The coordinator's configuration. Every key can come from the config file (`--config`), from
 * `STRATA_<KEY>` in the environment (`grpcAddr` → `STRATA_GRPC_ADDR`) or from a flag
 * (`--grpc-addr`); precedence is defaults < file < environment < flags.
 */
export const coordinatorConfigSchema = z.object({
  /** gRPC listen address. Default `0.0.0.0:50051` (a warning is logged when no auth token is set). */
  grpcAddr: address("0.0.0.0:50051").default("0.0.0.0:50051"),
  /**
   * HTTP listen address (`/api/health`, `/api/ready`, `/metrics`, dashboard API). Default
   * `127.0.0.1:3000`, or `0.0.0.0:3000` when an auth token is set and no address was given.
   */
  httpAddr: address("127.0.0.1:3000").default("127.0.0.1:3000"),
  /** Directory for the coordinator's database. Created (mode 0700) if missing. Default `./.strata`. */
  dataDir: z.string().min(1).default("./.strata"),
  /** A worker silent this long is declared dead, in ms. Default 15,000. */
  heartbeatTimeoutMs: z.number().int().min(100).max(3_600_000).default(15_000),
  /** Bearer token every RPC and HTTP route (except the probes `/api/health` and `/api/ready`) must carry. Unset: no auth. */
  authToken: z.string().min(16, "must be at least 16 characters").max(4096).optional(),
  /** PEM certificate chain file for TLS on gRPC. Needs `tlsKey`. */
  tlsCert: z.string().min(1).optional(),
  /** PEM private key file for TLS on gRPC. Needs `tlsCert`. */
  tlsKey: z.string().min(1).optional(),
  /** Log level. Default `info`. */
  logLevel: z.enum(LOG_LEVELS).default("info"),
  /** Default barrier timeout when a request gives none, in ms. Default 300,000. */
  barrierTimeoutMs: z.number().int().min(1).max(86_400_000).default(300_000),
  /** What barrier waiters get when a member dies: `abort` (ABORTED naming it) or `release_survivors`. Default `abort`. */
  barrierPolicy: z.enum(["abort", "release_survivors"]).default("abort"),
  /** Sustained RPCs per second per client IP address (workers of one host share it); 0 disables rate limiting. Default 2,000. */
  rateLimitRps: z.number().min(0).max(10_000_000).default(2_000),
  /** Burst size per client IP address. Default 4,000. */
  rateLimitBurst: z.number().int().min(1).max(10_000_000).default(4_000),
  /** How long shutdown waits for in-flight calls before cancelling them, in ms. Default 10,000. */
  shutdownGraceMs: z.number().int().min(0).max(600_000).default(10_000),
  /** Most live workers. Default 10,000. */
  maxWorkers: z.number().int().min(1).max(1_000_000).default(10_000),
  /**
   * Browser origins allowed to call the HTTP API from another origin, comma-separated
   * (`https://ops.example.com,http://localhost:5173`). Default none: cross-origin requests get
   * no CORS headers, so browsers refuse them (the dashboard is served from the same origin).
   */
  corsOrigins: z
    .string()
    .default("")
    .refine(
      (value) => splitOrigins(value).every((origin) => ORIGIN.test(origin)),
      "expected comma-separated origins such as https://ops.example.com or http://localhost:5173",
    ),
  /**
   * Folder of the built dashboard (`index.html` and `assets/`), served at `/`. The CLI defaults to
   * the repository's `dashboard/dist`; without one, `/` answers a page saying how to build it.
   */
  dashboardDir: z.string().min(1).optional(),
  /** HTTP requests per second per client address (averaged over 10 s); 0 disables. Default 100. */
  httpRateLimitRps: z.number().min(0).max(1_000_000).default(100),
  /** How long history (events and metric samples, `history.db`) is kept, in ms. Default 7 days. */
  historyRetentionMs: z.number().int().min(60_000).max(315_360_000_000).default(604_800_000),
  /** Metric samples keep their 1-second resolution this long, then become 1-minute averages, in ms. Default 6 h. */
  historyFullResolutionMs: z.number().int().min(60_000).max(315_360_000_000).default(21_600_000),
  /** Most events kept in history; the oldest go first. Default 1,000,000. */
  historyMaxEvents: z.number().int().min(1_000).max(1_000_000_000).default(1_000_000),
  /**
   * Where the cluster state lives: `sqlite` (`coordinator.db` in `dataDir`, one coordinator) or
   * `etcd` (`etcdEndpoints`; several coordinators elect a leader, the others follow). Default
   * `sqlite`.
   */
  state: z.enum(["sqlite", "etcd"]).default("sqlite"),
  /** etcd client endpoints, comma-separated `host:port` or URLs. Default `127.0.0.1:2379`. */
  etcdEndpoints: z
    .string()
    .default("127.0.0.1:2379")
    .refine(
      (value) => splitList(value).length > 0 && splitList(value).every((e) => ENDPOINT.test(e)),
      "expected comma-separated host:port or http(s)://host:port endpoints",
    ),
  /** Key prefix in etcd (several clusters can share one etcd). Default `/strata/`. */
  etcdPrefix: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]*\/$/, "expected a path like /strata/")
    .default("/strata/"),
  /** PEM CA file to verify etcd's TLS certificate (enables TLS to etcd). */
  etcdCa: z.string().min(1).optional(),
  /** PEM client certificate for etcd (with `etcdKey`). */
  etcdCert: z.string().min(1).optional(),
  /** PEM client key for etcd (with `etcdCert`). */
  etcdKey: z.string().min(1).optional(),
  /** etcd user name (with `etcdPassword`). */
  etcdUsername: z.string().min(1).max(256).optional(),
  /** etcd password (a secret: never logged or echoed). */
  etcdPassword: z.string().min(1).max(4096).optional(),
  /**
   * Leader lease time-to-live, in seconds: how long after a leader dies (or is cut off from
   * etcd) another coordinator takes over. Default 5.
   */
  leaderLeaseTtlS: z.number().int().min(2).max(300).default(5),
  /**
   * The gRPC address clients are told to dial when this coordinator leads (followers answer
   * with it). Default: the bound gRPC address, its host replaced by the machine's host name when
   * it listens on every interface.
   */
  advertiseGrpcAddr: address("10.0.0.5:50051").optional(),
  /** The HTTP address announced the same way. Default: derived like `advertiseGrpcAddr`. */
  advertiseHttpAddr: address("10.0.0.5:3000").optional(),
});

const ENDPOINT = /^(https?:\/\/)?[^\s,/:]+:\d{1,5}$/;

/** The entries of a comma-separated value (empty entries dropped). */
export function splitList(value: string): string[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

const ORIGIN = /^https?:\/\/[^/\s,]+$/;

/** The origins of a `corsOrigins` value (empty entries dropped). */
export function splitOrigins(value: string): string[] {
  return value
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
}

/** A loaded, validated configuration. */
export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;
/** What {@link startCoordinator} accepts: any subset; the rest takes the defaults. */
export type CoordinatorConfigInput = z.input<typeof coordinatorConfigSchema>;

/** Whether `host` is a loopback host name or address. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  return bare === "localhost" || bare === "::1" || /^127\./.test(bare);
}
