import { abortReason, type Clock } from "@strata/runtime-core";

/**
 * Resolves after `ms` milliseconds of `clock` time, or rejects with the abort reason (a
 * `RuntimeError`, `Canceled` or `DeadlineExceeded`) when `signal` aborts first. The timer keeps
 * the process alive (someone is awaiting this sleep) unless `unref` is set.
 */
export function clockSleep(
  clock: Clock,
  ms: number,
  signal?: AbortSignal,
  options: { unref?: boolean } = {},
): Promise<void> {
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
      { unref: options.unref ?? false },
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
