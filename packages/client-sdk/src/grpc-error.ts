import type { Metadata, ServiceError } from "@grpc/grpc-js";
import { Code, codeFromNumber, RuntimeError } from "@strata/runtime-core";

/** Trailing metadata key a non-leading coordinator uses to name the leader (`host:port`). */
export const LEADER_METADATA_KEY = "strata-leader";
/** Trailing metadata key naming the invalid request field on `INVALID_ARGUMENT`. */
export const FIELD_METADATA_KEY = "strata-field";

/**
 * Converts a grpc-js error into a {@link RuntimeError} with the same gRPC code. The leader hint
 * (`strata-leader`) and the invalid field (`strata-field`) from the trailing metadata land in
 * `details.leader` and `details.field`; `details.method` names the call.
 */
export function fromServiceError(error: unknown, method: string): RuntimeError {
  if (error instanceof RuntimeError) return error;
  const e = error as Partial<ServiceError>;
  if (typeof e?.code !== "number") return RuntimeError.from(error);
  const details: Record<string, unknown> = { method };
  const leader = metadataValue(e.metadata, LEADER_METADATA_KEY);
  if (leader !== undefined) details.leader = leader;
  const field = metadataValue(e.metadata, FIELD_METADATA_KEY);
  if (field !== undefined) details.field = field;
  const code = e.code === 0 ? Code.Unknown : codeFromNumber(e.code);
  const message = typeof e.details === "string" && e.details !== "" ? e.details : String(e.message);
  return new RuntimeError(`${method}: ${message}`, { code, cause: error, details });
}

/** The first string value of `key` in `metadata`, if any. */
export function metadataValue(metadata: Metadata | undefined, key: string): string | undefined {
  const value = metadata?.get(key)[0];
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : value.toString("utf8");
}
