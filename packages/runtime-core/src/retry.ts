import { abortReason, type CallOptions, createDeadlineSignal, sleep } from "./call-options.js";
import { Code, isRetryableCode } from "./code.js";
import { RuntimeError } from "./runtime-error.js";

/** Backoff settings. Delays grow as `initialDelayMs · multiplier^attempt`, capped at `maxDelayMs`. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. Default 100. */
  initialDelayMs?: number;
  /** Upper bound for one delay, in ms. Default 10,000. */
  maxDelayMs?: number;
  /** Growth factor per attempt. Default 2. */
  multiplier?: number;
  /**
   * Fraction of each delay that is randomised ("full jitter" on that part), so that many clients
   * retrying at once spread out. 0 disables it. Default 0.5.
   */
  jitter?: number;
}

/** The delay before retry number `attempt` (0-based), in ms. `random` is injectable for tests. */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialDelayMs ?? 100;
  const max = options.maxDelayMs ?? 10_000;
  const multiplier = options.multiplier ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  const base = Math.min(max, initial * multiplier ** attempt);
  return Math.round(base * (1 - jitter) + base * jitter * random());
}

/** Options for {@link retry}. */
export interface RetryOptions extends BackoffOptions, CallOptions {
  /** Attempts in total, the first included. Default 4. */
  maxAttempts?: number;
  /** Which errors to retry. Default: {@link isRetryableCode} on the error's code. */
  isRetryable?: (error: RuntimeError) => boolean;
  /** Called before each retry, for logging and metrics. */
  onRetry?: (error: RuntimeError, attempt: number, delayMs: number) => void;
  /** Names the operation in timeout errors. */
  operation?: string;
}

/**
 * Runs `fn` until it succeeds, a non-retryable error occurs, the attempts run out, or the
 * caller's deadline or signal ends it. Never sleeps past the deadline: if the next delay would
 * overrun it, the last error is thrown at once. `fn` receives a signal that aborts with the
 * whole call.
 */
export async function retry<T>(
  fn: (signal: AbortSignal, attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const operation = options.operation ?? "operation";
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const isRetryable = options.isRetryable ?? ((e: RuntimeError) => isRetryableCode(e.code));
  const deadline = createDeadlineSignal(operation, options);
  try {
    for (let attempt = 0; ; attempt++) {
      if (deadline.signal.aborted) throw abortReason(deadline.signal, operation);
      try {
        return await fn(deadline.signal, attempt);
      } catch (thrown) {
        if (deadline.signal.aborted) throw abortReason(deadline.signal, operation);
        const error = RuntimeError.from(thrown);
        if (attempt + 1 >= maxAttempts || !isRetryable(error)) throw error;
        const delayMs = backoffDelayMs(attempt, options);
        if (delayMs >= deadline.remainingMs()) {
          throw new RuntimeError(
            `${operation} gave up: the next retry would pass the deadline (${error.rawMessage})`,
            {
              code: error.code === Code.Unavailable ? Code.Unavailable : Code.DeadlineExceeded,
              cause: error,
            },
          );
        }
        options.onRetry?.(error, attempt + 1, delayMs);
        await sleep(delayMs, deadline.signal);
      }
    }
  } finally {
    deadline.cleanup();
  }
}
