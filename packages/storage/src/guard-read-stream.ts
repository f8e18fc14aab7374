import { PassThrough, type Readable } from "node:stream";
import { abortReason, type DeadlineSignal, type RuntimeError } from "@strata/runtime-core";

/**
 * Hands a backend's raw read stream to the caller: errors come out as `RuntimeError`s (mapped by
 * `mapError`), the call's signal and deadline end the stream (it is destroyed with `Canceled` or
 * `DeadlineExceeded`), and the deadline's timer is released when the stream closes. Destroying
 * the returned stream destroys the source.
 *
 * @internal shared by the backends; not exported from the package.
 */
export function guardReadStream(
  source: Readable,
  deadline: DeadlineSignal,
  operation: string,
  mapError: (error: unknown) => RuntimeError,
  highWaterMarkBytes = 1024 * 1024,
): Readable {
  const out = new PassThrough({ highWaterMark: highWaterMarkBytes });
  const onAbort = () => {
    const reason = abortReason(deadline.signal, operation);
    source.destroy();
    out.destroy(reason);
  };
  source.on("error", (error: unknown) => out.destroy(mapError(error)));
  out.on("close", () => {
    deadline.signal.removeEventListener("abort", onAbort);
    deadline.cleanup();
    if (!source.destroyed) source.destroy();
  });
  if (deadline.signal.aborted) {
    onAbort();
  } else {
    deadline.signal.addEventListener("abort", onAbort, { once: true });
  }
  source.pipe(out);
  return out;
}
