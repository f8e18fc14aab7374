import { abortReason, Code, RuntimeError, throwIfAborted } from "@strata/runtime-core";
import type { PutBody } from "./storage-backend.js";

/**
 * Iterates the chunks of a put body. It ends with the signal's reason as soon as the signal
 * aborts, even while a stalled source is still producing its next chunk, so a put bounded by a
 * timeout never hangs on its input. When iteration stops early the source is told to end
 * (`return()`, which destroys a Node `Readable`) without waiting for it.
 *
 * @internal shared by the backends; not exported from the package.
 */
export async function* bodyChunks(
  body: PutBody,
  signal: AbortSignal,
  operation: string,
): AsyncGenerator<Uint8Array, void, undefined> {
  throwIfAborted(signal, operation);
  if (body instanceof Uint8Array) {
    yield body;
    return;
  }
  if (body === null || typeof body !== "object" || !(Symbol.asyncIterator in body)) {
    throw new RuntimeError(`${operation}: the body must be a Uint8Array or an async iterable`, {
      code: Code.InvalidArgument,
    });
  }
  const iterator = body[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const result = await raceAbort(iterator.next(), signal, operation);
      if (result.done) {
        finished = true;
        return;
      }
      const chunk: unknown = result.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new RuntimeError(
          `${operation}: body chunks must be Uint8Array, got ${typeof chunk} (a Readable with an encoding set?)`,
          { code: Code.InvalidArgument },
        );
      }
      yield chunk;
      throwIfAborted(signal, operation);
    }
  } finally {
    if (!finished) {
      // Do not await: a source stalled inside next() only settles return() after it wakes up.
      Promise.resolve()
        .then(() => iterator.return?.())
        .catch(() => undefined);
    }
  }
}

/** Settles like `promise`, or rejects with the signal's reason when it aborts first. */
export function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  operation: string,
): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortReason(signal, operation));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal, operation));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
