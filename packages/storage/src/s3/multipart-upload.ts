import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Code, type DeadlineSignal, RuntimeError, throwIfAborted } from "@strata/runtime-core";
import type { ObjectInfo, PutOptions } from "../storage-backend.js";
import type { PartReader } from "./part-reader.js";
import { MAX_PARTS, partSizeFor } from "./part-size.js";
import { linkedDeadline, type S3Context, unquote } from "./s3-context.js";
import { errorFromS3, type S3ErrorContext } from "./s3-error.js";

/** What {@link uploadMultipart} needs to know about the body and the put. */
export interface MultipartUploadRequest {
  /** The key, without the storage's prefix. */
  key: string;
  /** The body, cut into parts as it is read. */
  reader: PartReader;
  /** Part size in bytes (already raised so the object fits in 10,000 parts when its size is known). */
  partBytes: number;
  /** Whether the size is known (then all parts but the last have `partBytes`). */
  sizeKnown: boolean;
  /** Send `If-None-Match: *` on CompleteMultipartUpload (create-only on a native server). */
  native: boolean;
  options: PutOptions;
  deadline: DeadlineSignal;
}

/**
 * Uploads a body in parts: CreateMultipartUpload, then the parts `queueSize` at a time (each
 * retried on its own from its buffer; the next part is read while earlier ones upload), then
 * CompleteMultipartUpload. One part failing stops the others at once. A failed or aborted upload
 * is aborted on the server in the background (best effort; `close()` waits for it), and since S3
 * shows a multipart object only once it is completed, nothing partial ever becomes visible.
 *
 * A retried CompleteMultipartUpload whose first answer was lost can get 412 or `NoSuchUpload`:
 * the object is then HEADed and accepted as ours when its ETag is the one our parts produce.
 *
 * @internal
 */
export async function uploadMultipart(
  ctx: S3Context,
  request: MultipartUploadRequest,
): Promise<ObjectInfo> {
  const { key, reader, partBytes, sizeKnown, native, options, deadline } = request;
  const operation = `put ${key}`;
  const fullKey = ctx.prefix + key;
  const created = await ctx.retrying(operation, deadline, (signal) =>
    ctx.client.send(new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: fullKey }), {
      abortSignal: signal,
    }),
  );
  const uploadId = created.UploadId;
  if (uploadId === undefined) {
    throw new RuntimeError(`${operation}: the server returned no upload id`, {
      code: Code.Internal,
    });
  }
  // One part failing stops the others at once.
  const stop = new AbortController();
  const partDeadline = linkedDeadline(deadline, stop.signal);
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let uploadedBytes = 0;
  let totalBytes = 0;
  try {
    let pending = await reader.read(partSizeFor(1, partBytes, sizeKnown));
    for (let partNumber = 1; pending !== undefined && failure === undefined; partNumber++) {
      if (partNumber > MAX_PARTS) {
        throw new RuntimeError(
          `${operation}: the body needs more than ${MAX_PARTS} parts of ${partBytes} bytes; pass sizeHint or a larger partSizeBytes`,
          { code: Code.ResourceExhausted, details: { key } },
        );
      }
      const body = pending;
      const number = partNumber;
      totalBytes += body.length;
      const task = ctx
        .retrying(`${operation} (part ${number})`, partDeadline, (partSignal) =>
          ctx.client.send(
            new UploadPartCommand({
              Bucket: ctx.bucket,
              Key: fullKey,
              UploadId: uploadId,
              PartNumber: number,
              Body: body,
              ContentLength: body.length,
            }),
            { abortSignal: partSignal },
          ),
        )
        .then(
          (result) => {
            parts.push({ PartNumber: number, ETag: result.ETag });
            uploadedBytes += body.length;
            options.onProgress?.(uploadedBytes);
          },
          (error: unknown) => {
            if (failure === undefined) {
              failure = error;
              stop.abort(errorFromS3(error, operation, key));
            }
          },
        );
      const tracked: Promise<void> = task.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      while (inFlight.size >= ctx.queueSize) await Promise.race(inFlight);
      // Read the next part while earlier ones upload.
      pending =
        failure === undefined
          ? await reader.read(partSizeFor(partNumber + 1, partBytes, sizeKnown))
          : undefined;
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
    throwIfAborted(deadline.signal, operation);
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    const context: S3ErrorContext = { createOnly: native };
    let attempts = 0;
    let etag: string | undefined;
    try {
      const completed = await ctx.retrying(
        operation,
        deadline,
        (completeSignal) => {
          attempts++;
          return ctx.client.send(
            new CompleteMultipartUploadCommand({
              Bucket: ctx.bucket,
              Key: fullKey,
              UploadId: uploadId,
              MultipartUpload: { Parts: parts },
              ...(native ? { IfNoneMatch: "*" } : {}),
            }),
            { abortSignal: completeSignal },
          );
        },
        context,
      );
      etag = completed.ETag === undefined ? undefined : unquote(completed.ETag);
    } catch (error) {
      // A retried complete whose first answer was lost: the object may already be ours.
      const mapped = errorFromS3(error, operation, key, context);
      if (attempts > 1 && (mapped.code === Code.AlreadyExists || mapped.code === Code.NotFound)) {
        const info = await ctx.head(key, operation, deadline);
        if (info?.etag === multipartEtag(parts) && info.sizeBytes === totalBytes) return info;
      }
      throw mapped;
    }
    return {
      key,
      sizeBytes: totalBytes,
      modifiedAtMs: Date.now(),
      ...(etag === undefined ? {} : { etag }),
    };
  } catch (error) {
    stop.abort();
    await Promise.allSettled(inFlight);
    abortInBackground(ctx, fullKey, uploadId);
    if (deadline.signal.aborted) throw errorFromS3(deadline.signal.reason ?? error, operation, key);
    throw error;
  }
}

/** Best-effort AbortMultipartUpload, off the caller's path; `close()` waits for it. */
function abortInBackground(ctx: S3Context, fullKey: string, uploadId: string): void {
  ctx.background(async (signal) => {
    try {
      await ctx.client.send(
        new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: fullKey, UploadId: uploadId }),
        { abortSignal: signal },
      );
    } catch (error) {
      const mapped = errorFromS3(error, "abort multipart upload", fullKey);
      if (mapped.code === Code.Unimplemented) return; // s3rver: 405; parts stay until the server cleans up
      if (mapped.code === Code.NotFound) return; // already gone
      ctx.onWarning(
        `s3://${ctx.bucket}/${ctx.prefix}: could not abort multipart upload ${uploadId} of ${fullKey}; its parts stay billed until a lifecycle rule removes them (${mapped.rawMessage})`,
      );
    }
  });
}

/** The ETag S3 gives a completed multipart object: MD5 of the parts' binary MD5s, dash, part count. */
export function multipartEtag(parts: CompletedPart[]): string {
  const digests = parts.map((p) => Buffer.from(unquote(p.ETag ?? ""), "hex"));
  return `${createHash("md5").update(Buffer.concat(digests)).digest("hex")}-${parts.length}`;
}
