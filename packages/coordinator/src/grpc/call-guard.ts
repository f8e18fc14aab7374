import type { Metadata } from "@grpc/grpc-js";
import { Code, RuntimeError } from "@strata/runtime-core";
import type { BearerAuth } from "../auth/bearer-auth.js";
import type { LeaderGate } from "../ha/leader-gate.js";
import type { CoordinatorMetrics } from "../metrics/coordinator-metrics.js";
import type { TokenBucketLimiter } from "./token-bucket-limiter.js";

/** Largest total request metadata (keys plus values), in bytes. Bigger requests are refused. */
export const MAX_METADATA_BYTES = 16 * 1024;

/** What every RPC passes before its handler runs: metadata size, bearer token, rate limit. */
export interface CallGuard {
  /** Returns the error to answer with, or undefined when the call may go on. */
  admit(metadata: Metadata, peer: string): RuntimeError | undefined;
  /** Rate limit only (each message of a stream after the first). */
  takeToken(peer: string): RuntimeError | undefined;
}

/** Options for {@link createCallGuard}. */
export interface CallGuardOptions {
  /** When set, every call must carry `authorization: Bearer <token>`. */
  auth: BearerAuth | undefined;
  limiter: TokenBucketLimiter;
  metrics: CoordinatorMetrics;
  /**
   * A highly available coordinator's leadership: while it is not surely held, every call is
   * UNAVAILABLE naming the leader (trailing metadata `strata-leader`).
   */
  leadership?: LeaderGate;
}

function metadataBytes(metadata: Metadata): number {
  let total = 0;
  for (const [key, values] of Object.entries(metadata.getMap())) {
    total += key.length;
    total += typeof values === "string" ? values.length : values.length;
  }
  return total;
}

const rateLimited = () =>
  new RuntimeError("rate limit exceeded for this client; slow down and retry", {
    code: Code.ResourceExhausted,
  });

/**
 * The rate-limit key of a peer: its IP address without the port (`10.0.0.5:41234` → `10.0.0.5`,
 * `[::1]:5000` → `::1`), so opening new connections does not buy a fresh bucket. Every worker
 * shares the one bearer token, so the token identifies no one; the IP is the identity we have.
 * Unix socket peers are keyed as they are.
 */
export function peerKey(peer: string): string {
  const bracketed = /^(?:ipv[46]:)?\[([^\]]+)\](?::\d+)?$/.exec(peer);
  if (bracketed !== null) return bracketed[1] as string;
  const v4 = /^(?:ipv4:)?(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?$/.exec(peer);
  if (v4 !== null) return v4[1] as string;
  return peer;
}

/**
 * Creates the per-call guard. The rate-limit key is the client's IP ({@link peerKey}): the
 * workers of one host share a bucket, which is why the default rate is generous.
 */
export function createCallGuard(options: CallGuardOptions): CallGuard {
  const { auth, limiter, metrics, leadership } = options;
  return {
    admit(metadata, peer) {
      if (leadership !== undefined && !leadership.isLeaderNow()) {
        return leadership.notLeaderError();
      }
      if (metadataBytes(metadata) > MAX_METADATA_BYTES) {
        return new RuntimeError(`request metadata exceeds ${MAX_METADATA_BYTES} bytes`, {
          code: Code.ResourceExhausted,
        });
      }
      if (auth !== undefined) {
        const value = metadata.get("authorization")[0];
        if (!auth.check(typeof value === "string" ? value : undefined)) {
          metrics.authFailures.inc({ transport: "grpc" });
          return new RuntimeError("missing or invalid bearer token", {
            code: Code.Unauthenticated,
          });
        }
      }
      if (!limiter.take(peerKey(peer))) {
        metrics.rateLimited.inc();
        return rateLimited();
      }
      return undefined;
    },
    takeToken(peer) {
      if (leadership !== undefined && !leadership.isLeaderNow()) {
        return leadership.notLeaderError();
      }
      if (limiter.take(peerKey(peer))) return undefined;
      metrics.rateLimited.inc();
      return rateLimited();
    },
  };
}
