import { Code, RuntimeError } from "@strata/runtime-core";

/** The bits of an AWS SDK v3 (or Node network) error that classification looks at. */
interface S3ErrorShape {
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: unknown;
}

const NETWORK_ERRNOS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EPROTO",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

const THROTTLING_NAMES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
]);

/** What the failed request was, so 412/409 can mean "already exists" only for a create-only put. */
export interface S3ErrorContext {
  /** The request was a create-only write (`If-None-Match: *`). */
  createOnly?: boolean;
}

/**
 * Converts an error from the AWS SDK (or the network below it) into a `RuntimeError`, by the S3
 * error name and HTTP status, never by message text. The edge between S3 and Strata.
 *
 * @internal
 */
export function errorFromS3(
  error: unknown,
  operation: string,
  key?: string,
  context: S3ErrorContext = {},
): RuntimeError {
  if (error instanceof RuntimeError) return error;
  const shape = (typeof error === "object" && error !== null ? error : {}) as S3ErrorShape;
  const name =
    typeof shape.name === "string" ? shape.name : typeof shape.Code === "string" ? shape.Code : "";
  const status =
    typeof shape.$metadata?.httpStatusCode === "number"
      ? shape.$metadata.httpStatusCode
      : undefined;
  const errno = typeof shape.code === "string" ? shape.code : undefined;
  const message =
    typeof shape.message === "string" && shape.message !== ""
      ? shape.message
      : name || String(error);
  const make = (code: Code, why: string) =>
    new RuntimeError(
      `${operation}${key === undefined ? "" : ` ${key}`}: ${why} (${name || errno || "error"}${status === undefined ? "" : ` ${status}`}: ${message})`,
      {
        code,
        cause: error,
        details: {
          ...(key === undefined ? {} : { key }),
          ...(status === undefined ? {} : { httpStatus: status }),
          ...(name === "" ? {} : { s3Error: name }),
        },
      },
    );

  if (name === "AbortError") return make(Code.Canceled, "the request was aborted");
  if (name === "NoSuchKey" || name === "NotFound") return make(Code.NotFound, "no such object");
  if (name === "NoSuchBucket") return make(Code.NotFound, "the bucket does not exist");
  if (name === "NoSuchUpload")
    return make(Code.NotFound, "the multipart upload is gone (completed or aborted)");
  if (name === "PreconditionFailed" || status === 412) {
    // If-None-Match: * failed: the key exists.
    return context.createOnly
      ? make(Code.AlreadyExists, "the object already exists")
      : make(Code.FailedPrecondition, "a request precondition failed");
  }
  if (name === "ConditionalRequestConflict" || status === 409) {
    // A concurrent conditional write won the race (S3 returns 409 instead of 412 then).
    return context.createOnly
      ? make(Code.AlreadyExists, "a concurrent write to the same key won")
      : make(Code.Aborted, "a conflicting concurrent operation");
  }
  if (name === "InvalidRange" || status === 416)
    return make(Code.OutOfRange, "the byte range is not satisfiable");
  if (THROTTLING_NAMES.has(name) || status === 429 || status === 503) {
    return make(Code.Unavailable, "the server is throttling or unavailable; retry later");
  }
  if (name === "RequestTimeout" || name === "RequestTimeTooSkewed" || name === "TimeoutError") {
    return make(Code.Unavailable, "the request timed out");
  }
  if (
    name === "NotImplemented" ||
    name === "MethodNotAllowed" ||
    status === 501 ||
    status === 405
  ) {
    return make(Code.Unimplemented, "the server does not implement this request");
  }
  if (
    name === "ExpiredToken" ||
    name === "InvalidToken" ||
    name === "InvalidAccessKeyId" ||
    name === "CredentialsProviderError"
  ) {
    return make(Code.Unauthenticated, "the credentials are missing, invalid or expired");
  }
  if (name === "AccessDenied" || name === "SignatureDoesNotMatch" || status === 403) {
    return make(Code.PermissionDenied, "access denied");
  }
  if (status === 404) return make(Code.NotFound, "not found");
  if (status !== undefined && status >= 500)
    return make(Code.Unavailable, "server error; retry later");
  if (errno !== undefined && NETWORK_ERRNOS.has(errno))
    return make(Code.Unavailable, "network error");
  if (
    status === undefined &&
    (shape.$retryable !== undefined || /socket hang up|ECONNRESET|ECONNREFUSED/.test(message))
  ) {
    return make(Code.Unavailable, "network error");
  }
  if (status !== undefined && status >= 400)
    return make(Code.InvalidArgument, "the server rejected the request");
  return make(Code.Unknown, "unexpected error");
}
