import { Code, RuntimeError } from "@strata/runtime-core";
import type { z } from "zod";

/**
 * Parses `value` with `schema` at the HTTP edge. A failure is `RuntimeError(InvalidArgument)`
 * whose message starts with the offending field (`worker_count: Too small: expected number to
 * be >=1`) and whose `details.field` names it, so the answer is 400 `{code, message, field}`.
 * `prefix` names where the value came from when the issue has no path (`body`, `query`).
 */
export function parseRequest<S extends z.ZodType>(
  schema: S,
  value: unknown,
  prefix: string,
): z.infer<S> {
  if (value === undefined && prefix === "body") {
    throw new RuntimeError("body: expected a JSON object (content-type: application/json)", {
      code: Code.InvalidArgument,
      details: { field: "body" },
    });
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field =
    issue === undefined || issue.path.length === 0 ? prefix : issue.path.map(String).join(".");
  throw new RuntimeError(`${field}: ${issue?.message ?? "invalid"}`, {
    code: Code.InvalidArgument,
    details: { field },
  });
}

/** One query-string value: repeated keys are an error (the last value would silently win otherwise). */
export function singleQueryValue(
  query: Readonly<Record<string, unknown>>,
  name: string,
): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  throw new RuntimeError(`${name}: give this query parameter once`, {
    code: Code.InvalidArgument,
    details: { field: name },
  });
}

/** A query value as a safe integer in [min, max], or `fallback` when absent. */
export function integerQuery(
  query: Readonly<Record<string, unknown>>,
  name: string,
  range: { min: number; max: number; fallback?: number },
): number | undefined {
  const raw = singleQueryValue(query, name);
  if (raw === undefined || raw === "") return range.fallback;
  const value = /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new RuntimeError(
      `${name}: expected an integer from ${range.min} to ${range.max}, got "${raw.slice(0, 40)}"`,
      { code: Code.InvalidArgument, details: { field: name } },
    );
  }
  return value;
}

/** A free-text query value of at most `maxLength` characters. */
export function textQuery(
  query: Readonly<Record<string, unknown>>,
  name: string,
  maxLength = 256,
): string | undefined {
  const raw = singleQueryValue(query, name);
  if (raw === undefined || raw === "") return undefined;
  if (raw.length > maxLength) {
    throw new RuntimeError(`${name}: at most ${maxLength} characters`, {
      code: Code.InvalidArgument,
      details: { field: name },
    });
  }
  return raw;
}
