import { Code, RuntimeError } from "@strata/runtime-core";

/** The longest key accepted, in UTF-8 bytes (S3's limit). */
export const MAX_KEY_BYTES = 1024;

/** Key segments starting with this are reserved for in-flight temporary files. */
export const RESERVED_SEGMENT_PREFIX = ".strata-tmp-";

/**
 * Checks that `key` is a safe relative object key and returns it. A key is one or more
 * `/`-separated segments, with no empty, `.` or `..` segment, no leading `/`, no backslash, no
 * NUL or other control character (C0 U+0000–U+001F, DEL U+007F and C1 U+0080–U+009F: terminals
 * act on them, so a key that holds one could rewrite what a listing shows), at most
 * {@link MAX_KEY_BYTES} bytes. These rules keep keys from escaping a local root and make them mean
 * the same thing on every backend.
 */
export function validateKey(key: string): string {
  const fail = (why: string): never => {
    throw new RuntimeError(`invalid storage key ${JSON.stringify(key)}: ${why}`, {
      code: Code.InvalidArgument,
      details: { key },
    });
  };
  if (typeof key !== "string" || key.length === 0) fail("it is empty");
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES)
    fail(`it is longer than ${MAX_KEY_BYTES} bytes`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(key)) {
    fail("it contains a NUL or control character (U+0000-U+001F, U+007F-U+009F)");
  }
  if (key.includes("\\")) fail("it contains a backslash");
  if (key.startsWith("/")) fail("it is absolute (starts with /)");
  for (const segment of key.split("/")) {
    if (segment === "") fail("it has an empty segment (// or a trailing /)");
    if (segment === "." || segment === "..") fail("it has a . or .. segment");
    if (segment.startsWith(RESERVED_SEGMENT_PREFIX))
      fail(`segments starting with ${RESERVED_SEGMENT_PREFIX} are reserved`);
  }
  return key;
}

/**
 * Checks a list prefix: like a key, but it may be empty and may end with `/`.
 */
export function validatePrefix(prefix: string): string {
  if (prefix === "") return prefix;
  validateKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}
