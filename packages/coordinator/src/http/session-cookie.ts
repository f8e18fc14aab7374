import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Clock } from "@strata/runtime-core";

/** The session cookie's name. */
export const SESSION_COOKIE = "strata_session";
/** How long a browser session lasts, in ms: 7 days. */
export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1_000;

/**
 * Browser sessions without server-side state: the cookie holds its expiry and an HMAC of it keyed
 * by a hash of the bearer token (`v1.<expiresAtMs>.<mac>`), never the token itself. It survives
 * a coordinator restart, and changing the token ends every session.
 */
export interface SessionCookies {
  /** A fresh cookie value and its lifetime in ms. */
  issue(): { value: string; maxAgeMs: number };
  /** Whether `value` is a cookie this token issued and it has not expired (constant time). */
  verify(value: unknown): boolean;
}

/** Creates the session cookie codec for `token`. */
export function createSessionCookies(token: string, clock: Clock): SessionCookies {
  const key = createHash("sha256").update(`strata-session-key:${token}`, "utf8").digest();
  const mac = (expiresAtMs: number) =>
    createHmac("sha256", key).update(`strata-session:v1:${expiresAtMs}`).digest();
  return {
    issue() {
      const expiresAtMs = clock.now() + SESSION_TTL_MS;
      return {
        value: `v1.${expiresAtMs}.${mac(expiresAtMs).toString("base64url")}`,
        maxAgeMs: SESSION_TTL_MS,
      };
    },
    verify(value) {
      if (typeof value !== "string" || value.length > 200) return false;
      const match = /^v1\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(value);
      if (match === null) return false;
      const expiresAtMs = Number(match[1]);
      if (!(expiresAtMs > clock.now())) return false;
      const given = Buffer.from(match[2] as string, "base64url");
      const expected = mac(expiresAtMs);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
