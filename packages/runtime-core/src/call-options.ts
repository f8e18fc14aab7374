import { Code } from "./code.js";
import { RuntimeError } from "./runtime-error.js";

/**
 * Options every asynchronous Strata call accepts. A call ends with `Canceled` when `signal`
 * aborts and with `DeadlineExceeded` when `timeoutMs` passes, whichever comes first.
 */
export interface CallOptions {
  /** Aborts the call; its reason is kept as the error's cause. */
  signal?: AbortSignal;
  /** Upper bound for the whole call in milliseconds, retries included. No bound when absent. */
  timeoutMs?: number;
}

/** A signal that combines a caller's signal and a timeout, and the function that releases its timer. */
export interface DeadlineSignal {
  signal: AbortSignal;
  /** Clears the timer and listeners; call it in `finally`. Safe to call twice. */
  cleanup(): void;
  /** Milliseconds left before the deadline, or `Infinity` without one. */
  remainingMs(): number;
}

/**
 * Links `options.signal` and `options.timeoutMs` into one signal. The timeout aborts with a
 * `RuntimeError(DeadlineExceeded)` naming `operation`, so the error says what timed out.
 */
export function createDeadlineSignal(operation: string, options: CallOptions = {}): DeadlineSignal {
  const controller = new AbortController();
  const deadline =
    options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => controller.abort(toCanceled(operation, options.signal?.reason));
  if (options.signal?.aborted) {
    onAbort();
  } else {
    options.signal?.addEventListener("abort", onAbort, { once: true });
  }
  if (options.timeoutMs !== undefined && !controller.signal.aborted) {
    timer = setTimeout(
      () =>
        controller.abort(
          new RuntimeError(`${operation} timed out after ${options.timeoutMs} ms`, {
            code: Code.DeadlineExceeded,
          }),
        ),
      Math.max(0, options.timeoutMs),
    );
    timer.unref?.();
  }
  return {
    signal: controller.signal,
    cleanup() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      options.signal?.removeEventListener("abort", onAbort);
    },
    remainingMs: () => Math.max(0, deadline - Date.now()),
  };
}

/** Throws the signal's reason as a RuntimeError if it has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, operation = "operation"): void {
  if (signal?.aborted) throw abortReason(signal, operation);
}

/** The RuntimeError an aborted signal stands for (`Canceled` or `DeadlineExceeded`). */
export function abortReason(signal: AbortSignal, operation = "operation"): RuntimeError {
  const reason: unknown = signal.reason;
  if (reason instanceof RuntimeError) return reason;
  return toCanceled(operation, reason);
}

function toCanceled(operation: string, reason: unknown): RuntimeError {
  if (reason instanceof RuntimeError) return reason;
  if (
    typeof reason === "object" &&
    reason !== null &&
    (reason as { name?: unknown }).name === "TimeoutError"
  ) {
    return new RuntimeError(`${operation} timed out`, {
      code: Code.DeadlineExceeded,
      cause: reason,
    });
  }
  return new RuntimeError(`${operation} was canceled`, { code: Code.Canceled, cause: reason });
}

/** Resolves after `ms` milliseconds, or rejects with the abort reason when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal, "sleep"));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal, "sleep"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
