import { Code, RuntimeError } from "@strata/runtime-core";

/** Longest id (worker, dataset, barrier, checkpoint, job) we accept, in characters. */
export const MAX_ID_LENGTH = 128;
/** Longest free-form text field (hostname, path, format, task), in characters. */
export const MAX_TEXT_LENGTH = 4096;
/** Most entries a metadata map may have. */
export const MAX_MAP_ENTRIES = 64;
/** Longest metadata key, in characters. */
export const MAX_MAP_KEY_LENGTH = 128;
/** Longest metadata value, in characters. */
export const MAX_MAP_VALUE_LENGTH = 1024;
/** Most items of a repeated field (GPUs, sample ranges). */
export const MAX_LIST_ITEMS = 1024;

const ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
// Control characters (C0, DEL, C1) would corrupt logs and terminals.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** An `InvalidArgument` error naming `field`; the message is what the client sees. */
export function invalidArgument(field: string, problem: string): RuntimeError {
  return new RuntimeError(`${field}: ${problem}`, {
    code: Code.InvalidArgument,
    details: { field },
  });
}

/** A required id: 1 to {@link MAX_ID_LENGTH} characters of `[A-Za-z0-9._:-]`. */
export function requireId(value: string, field: string): string {
  if (value.length === 0) throw invalidArgument(field, "is required");
  if (value.length > MAX_ID_LENGTH) {
    throw invalidArgument(
      field,
      `must be at most ${MAX_ID_LENGTH} characters (got ${value.length})`,
    );
  }
  if (!ID_PATTERN.test(value)) {
    throw invalidArgument(field, "may only contain letters, digits and . _ : -");
  }
  return value;
}

/** An id that may be empty (then `fallback` is used). */
export function optionalId(value: string, field: string, fallback: string): string {
  return value.length === 0 ? fallback : requireId(value, field);
}

/** Free-form text of at most `maxLength` characters, without control characters. */
export function text(value: string, field: string, maxLength = MAX_TEXT_LENGTH): string {
  if (value.length > maxLength) {
    throw invalidArgument(field, `must be at most ${maxLength} characters (got ${value.length})`);
  }
  if (CONTROL_CHARS.test(value))
    throw invalidArgument(field, "must not contain control characters");
  return value;
}

/** An int64 as a JS number in [min, max] (max at most 2^53 − 1). */
export function int64(
  value: bigint,
  field: string,
  min = 0,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (value < BigInt(min)) {
    throw invalidArgument(field, min === 0 ? "must not be negative" : `must be at least ${min}`);
  }
  if (value > BigInt(max) || value > MAX_SAFE) {
    throw invalidArgument(field, `must be at most ${Math.min(max, Number.MAX_SAFE_INTEGER)}`);
  }
  return Number(value);
}

/** An int32 in [min, max]. */
export function int32(value: number, field: string, min = 0, max = 2_147_483_647): number {
  if (!Number.isInteger(value)) throw invalidArgument(field, "must be an integer");
  if (value < min) {
    throw invalidArgument(field, min === 0 ? "must not be negative" : `must be at least ${min}`);
  }
  if (value > max) throw invalidArgument(field, `must be at most ${max}`);
  return value;
}

/** A finite double in [min, max]. */
export function finite(value: number, field: string, min: number, max: number): number {
  if (!Number.isFinite(value)) throw invalidArgument(field, "must be a finite number");
  if (value < min || value > max) throw invalidArgument(field, `must be between ${min} and ${max}`);
  return value;
}

/** A string map with bounded size, keys and values. Returns a fresh frozen copy. */
export function stringMap(
  value: Readonly<Record<string, string>> | undefined,
  field: string,
): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = Object.entries(value ?? {});
  if (entries.length > MAX_MAP_ENTRIES) {
    throw invalidArgument(
      field,
      `must have at most ${MAX_MAP_ENTRIES} entries (got ${entries.length})`,
    );
  }
  for (const [key, entry] of entries) {
    if (key.length === 0) throw invalidArgument(field, "keys must not be empty");
    text(key, `${field} key`, MAX_MAP_KEY_LENGTH);
    text(entry, `${field}["${key}"]`, MAX_MAP_VALUE_LENGTH);
    // Object.entries never yields "__proto__" as an own key from ts-proto maps, but we copy
    // with defineProperty semantics anyway so a key can never reach the prototype.
    Object.defineProperty(out, key, { value: entry, enumerable: true, writable: false });
  }
  return Object.freeze(out);
}

/** A repeated field with at most `max` items. */
export function boundedList<T>(
  value: readonly T[],
  field: string,
  max = MAX_LIST_ITEMS,
): readonly T[] {
  if (value.length > max) {
    throw invalidArgument(field, `must have at most ${max} items (got ${value.length})`);
  }
  return value;
}
