import { Code, RuntimeError } from "@strata/runtime-core";

/** Longest accepted id (dataset or worker), in UTF-16 code units. Longer ids are almost surely bugs. */
export const MAX_ID_LENGTH = 1024;

/** Throws `RuntimeError(InvalidArgument)` naming `field`. */
export function invalidArgument(field: string, reason: string, value?: unknown): never {
  throw new RuntimeError(`${field} ${reason}`, {
    code: Code.InvalidArgument,
    details: value === undefined ? { field } : { field, value: describe(value) },
  });
}

/** Checks that `value` is a safe integer in [min, max] and returns it. */
export function requireInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    return invalidArgument(field, `must be a finite number, got ${describe(value)}`, value);
  }
  if (!Number.isInteger(value)) {
    return invalidArgument(field, `must be an integer, got ${value}`, value);
  }
  if (!Number.isSafeInteger(value)) {
    return invalidArgument(
      field,
      `must be at most ${Number.MAX_SAFE_INTEGER}, got ${value}`,
      value,
    );
  }
  if (value < min) return invalidArgument(field, `must be at least ${min}, got ${value}`, value);
  if (value > max) return invalidArgument(field, `must be at most ${max}, got ${value}`, value);
  return value;
}

/** Checks that `value` is a finite number in [min, max] (inclusive) and returns it. */
export function requireNumber(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    return invalidArgument(field, `must be a finite number, got ${describe(value)}`, value);
  }
  if (value < min || value > max) {
    return invalidArgument(field, `must be between ${min} and ${max}, got ${value}`, value);
  }
  return value;
}

/** Checks that `value` is a non-empty string of at most {@link MAX_ID_LENGTH} characters. */
export function requireId(field: string, value: unknown): string {
  if (typeof value !== "string") {
    return invalidArgument(field, `must be a string, got ${describe(value)}`, value);
  }
  if (value.length === 0) return invalidArgument(field, "must not be empty");
  if (value.length > MAX_ID_LENGTH) {
    return invalidArgument(
      field,
      `must be at most ${MAX_ID_LENGTH} characters, got ${value.length}`,
    );
  }
  return value;
}

/**
 * Checks that `value` is a bigint that fits 64 bits, signed (proto `int64`) or unsigned, and
 * returns it as unsigned (a negative seed `s` becomes `2^64 + s`, the same bits).
 */
export function requireSeed(field: string, value: unknown): bigint {
  if (typeof value !== "bigint") {
    return invalidArgument(field, `must be a bigint, got ${describe(value)}`, value);
  }
  if (value < -0x8000_0000_0000_0000n || value > 0xffff_ffff_ffff_ffffn) {
    return invalidArgument(field, `must fit in 64 bits, got ${value}`, value);
  }
  return BigInt.asUintN(64, value);
}

function describe(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string")
    return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return String(value);
}
