import { abortReason, type Clock } from "@strata/runtime-core";

/**
 * Resolves after `ms` milliseconds of `clock` time, or rejects with the abort reason (a
 * `RuntimeError`, `Canceled` or `DeadlineExceeded`) when `signal` aborts first. The timer is
 * unref'd: a pending backoff never keeps the process alive on its own.
 */
export function clockSleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal, "sleep"));
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(abortReason(signal as AbortSignal, "sleep"));
    };
    const timer = clock.setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
      { unref: true },
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
