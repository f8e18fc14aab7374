import { Metadata, type StatusObject, type status } from "@grpc/grpc-js";
import { Code, RuntimeError } from "@strata/runtime-core";

/**
 * The one place where errors become gRPC statuses. A {@link RuntimeError} keeps its code (our
 * codes are the gRPC numbers) and its `rawMessage` becomes the status details. Anything else is a
 * bug or a foreign failure: the client sees `INTERNAL "internal error"` and nothing of the
 * original message or stack, which goes to the log instead (`exposed: false`).
 */
export function toServiceError(reason: unknown): {
  status: Partial<StatusObject>;
  error: RuntimeError;
  exposed: boolean;
} {
  if (reason instanceof RuntimeError) {
    const metadata = new Metadata();
    const field = reason.details.field;
    if (typeof field === "string") metadata.set("strata-field", field);
    // A follower names the leader, so clients go there (proto/README.md, "Leader").
    const leader = reason.details.leader as { grpc?: unknown } | undefined;
    if (typeof leader?.grpc === "string") metadata.set("strata-leader", leader.grpc);
    return {
      status: { code: reason.code as number as status, details: reason.rawMessage, metadata },
      error: reason,
      exposed: true,
    };
  }
  const error = RuntimeError.from(reason, Code.Internal);
  // Abort/timeout reasons are ours (client cancelled, server shutting down) and safe to show.
  const exposed = error.code === Code.Canceled || error.code === Code.DeadlineExceeded;
  return {
    status: {
      code: (exposed ? error.code : Code.Internal) as number as status,
      details: exposed ? error.rawMessage : "internal error",
    },
    error,
    exposed,
  };
}
