import { Code } from "./code.js";

/**
 * Maps a {@link Code} to an HTTP status, for the coordinator's HTTP API only. Follows the
 * mapping gRPC gateways use (google.rpc.Code to HTTP).
 */
export function codeToHttpStatus(code: Code): number {
  switch (code) {
    case Code.Canceled:
      return 499;
    case Code.Unknown:
      return 500;
    case Code.InvalidArgument:
      return 400;
    case Code.DeadlineExceeded:
      return 504;
    case Code.NotFound:
      return 404;
    case Code.AlreadyExists:
      return 409;
    case Code.PermissionDenied:
      return 403;
    case Code.ResourceExhausted:
      return 429;
    case Code.FailedPrecondition:
      return 412;
    case Code.Aborted:
      return 409;
    case Code.OutOfRange:
      return 416;
    case Code.Unimplemented:
      return 501;
    case Code.Internal:
      return 500;
    case Code.Unavailable:
      return 503;
    case Code.DataLoss:
      return 500;
    case Code.Unauthenticated:
      return 401;
  }
}
