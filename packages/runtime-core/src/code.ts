/**
 * The closed set of error codes used across Strata. The numbers are the gRPC status codes
 * (https://grpc.github.io/grpc/core/md_doc_statuscodes.html), so the coordinator passes them to
 * grpc-js unchanged and clients in any language see the status they expect. There are no
 * user-defined codes: pick the nearest one and say the rest in the message.
 */
export enum Code {
  /** The operation was cancelled, typically by the caller (an aborted signal). */
  Canceled = 1,
  /** An error with no better code. Prefer a specific code. */
  Unknown = 2,
  /** The caller sent something invalid, whatever the state of the system (bad key, negative size). */
  InvalidArgument = 3,
  /** The deadline passed before the operation completed. */
  DeadlineExceeded = 4,
  /** The thing asked for does not exist (worker, dataset, object, checkpoint). */
  NotFound = 5,
  /** The thing to create exists already (create-only put, a different dataset spec under one id). */
  AlreadyExists = 6,
  /** The caller is known but not allowed (file permissions, a token without rights). */
  PermissionDenied = 7,
  /** A quota or limit ran out (rate limit, too many workers, disk full). */
  ResourceExhausted = 8,
  /** The system is not in the state the operation needs (illegal worker state transition). */
  FailedPrecondition = 9,
  /** A concurrency conflict, or an operation that a failure elsewhere interrupted (a barrier member died). */
  Aborted = 10,
  /** A value is outside the range the operation supports (byte range past the end). */
  OutOfRange = 11,
  /** The operation is not implemented or not supported by this backend. */
  Unimplemented = 12,
  /** An invariant broke. Seeing this is a bug. */
  Internal = 13,
  /** A transient failure: retrying later may succeed (network, server restarting). */
  Unavailable = 14,
  /** Data was lost or corrupted (checksum mismatch, truncated object). */
  DataLoss = 15,
  /** The caller has no valid credentials. */
  Unauthenticated = 16,
}

const codeNames: Record<Code, string> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

/** The snake_case name of a code, as used in messages and JSON (`not_found`). */
export function codeToString(code: Code): string {
  return codeNames[code] ?? `code_${String(code)}`;
}

/** Parses a number into a {@link Code}; anything outside the closed set becomes `Unknown`. */
export function codeFromNumber(value: number): Code {
  return value in codeNames ? (value as Code) : Code.Unknown;
}

/**
 * Whether an error with this code may succeed if retried unchanged. Only transient failures are:
 * retrying a bad argument or a missing object would fail the same way.
 */
export function isRetryableCode(code: Code): boolean {
  return (
    code === Code.Unavailable ||
    code === Code.DeadlineExceeded ||
    code === Code.Aborted ||
    code === Code.ResourceExhausted
  );
}
