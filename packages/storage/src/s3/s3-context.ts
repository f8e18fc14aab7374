import type { S3Client } from "@aws-sdk/client-s3";
import type { DeadlineSignal } from "@strata/runtime-core";
import type { ObjectInfo } from "../storage-backend.js";
import type { S3ErrorContext } from "./s3-error.js";

/**
 * What the parts of {@link S3Storage} (multipart upload, ranged download, the conditional-write
 * probe) share: the client, where objects live, and how one request is sent with retries.
 *
 * @internal
 */
export interface S3Context {
  readonly client: S3Client;
  readonly bucket: string;
  /** The key prefix, empty or ending with `/`. */
  readonly prefix: string;
  /** Parts uploaded (and ranges downloaded) at once per call. */
  readonly queueSize: number;
  /** The configured part size, which is also the size of each ranged GET of a download. */
  readonly partSizeBytes: number;
  /** One request with retries (capped backoff with jitter), mapping SDK errors, inside `deadline`. */
  retrying<T>(
    operation: string,
    deadline: DeadlineSignal,
    send: (signal: AbortSignal) => Promise<T>,
    context?: S3ErrorContext,
  ): Promise<T>;
  /** HEAD of a key (without the prefix), or undefined when it does not exist. */
  head(key: string, operation: string, deadline: DeadlineSignal): Promise<ObjectInfo | undefined>;
  /**
   * Runs clean-up off the caller's path (an AbortMultipartUpload, the probe's DELETE), bounded
   * by `abortTimeoutMs`; `close()` waits for it. Failures go to `onWarning` via `task` itself.
   */
  background(task: (signal: AbortSignal) => Promise<void>): void;
  /** Receives warnings (emulated create-only, a failed abort). */
  onWarning(message: string): void;
}

/** A deadline whose signal also aborts with `extra` (to stop sibling requests after one fails). */
export function linkedDeadline(deadline: DeadlineSignal, extra: AbortSignal): DeadlineSignal {
  return {
    signal: AbortSignal.any([deadline.signal, extra]),
    cleanup: () => undefined,
    remainingMs: deadline.remainingMs,
  };
}

/** An ETag without its quotes. */
export function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, "");
}

/** Runs `fn` over `items`, `concurrency` at a time; the first failure rejects (others finish). */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
