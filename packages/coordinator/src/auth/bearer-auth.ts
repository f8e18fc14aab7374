import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Checks `authorization: Bearer <token>` values against the configured token in constant time.
 * Both sides are hashed first, so neither the comparison time nor an early length check tells
 * a caller anything about the token.
 */
export interface BearerAuth {
  /** Whether `header` (the raw `authorization` value, if any) carries the right token. */
  check(header: string | undefined): boolean;
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** Creates a checker for `token`. */
export function createBearerAuth(token: string): BearerAuth {
  const expected = digest(token);
  return {
    check(header) {
      if (header === undefined) return false;
      const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(header);
      const given = match?.[1];
      if (given === undefined) return false;
      return timingSafeEqual(digest(given), expected);
    },
  };
}
