import { Readable } from "node:stream";
import { GetObjectCommand, type GetObjectCommandOutput } from "@aws-sdk/client-s3";
import { Code, type DeadlineSignal, RuntimeError } from "@strata/runtime-core";
import { linkedDeadline, runPool, type S3Context } from "./s3-context.js";
import { errorFromS3 } from "./s3-error.js";

/**
 * Whole-object downloads as the AWS CLI does them: the first `partSizeBytes` with one ranged GET
 * (which also tells the object's size and ETag), and when the object is larger, the rest in
 * parallel ranged GETs, `queueSize` at a time, each retried on its own and each with `If-Match`
 * on the first answer's ETag, so an object replaced mid-read fails (`Aborted`) instead of
 * mixing two versions.
 */

/** The answer to the first ranged GET of a whole-object read. */
interface FirstRange {
  response: GetObjectCommandOutput;
  /** Whether the server answered with a range (206); if not, the body is the whole object. */
  ranged: boolean;
  total: number;
  etag: string | undefined;
}

/**
 * Reads a whole object into one buffer; every range is read straight into its place. Undefined
 * when the server refused the first range (an empty object on AWS: 416); the caller then does a
 * plain GET.
 *
 * @internal
 */
export async function downloadWhole(
  ctx: S3Context,
  key: string,
  deadline: DeadlineSignal,
): Promise<Uint8Array | undefined> {
  const operation = `get ${key}`;
  const partBytes = ctx.partSizeBytes;
  let first: { bytes: Uint8Array; total: number; etag: string | undefined };
  try {
    first = await ctx.retrying(operation, deadline, async (signal) => {
      const response = await firstRange(ctx, key, partBytes, signal);
      if (response.total === 0) {
        (response.response.Body as Readable | undefined)?.destroy?.();
        return { bytes: new Uint8Array(0), total: 0, etag: response.etag };
      }
      if (!response.ranged || response.total <= partBytes) {
        const bytes = await readBody(response.response, key, signal);
        return {
          bytes,
          total: response.ranged ? response.total : bytes.length,
          etag: response.etag,
        };
      }
      // Larger than one part: read the first part straight into the whole object's buffer.
      const whole = Buffer.allocUnsafe(response.total);
      const firstLength = await readBodyInto(response.response, key, signal, whole, 0, partBytes);
      return { bytes: whole.subarray(0, firstLength), total: response.total, etag: response.etag };
    });
  } catch (error) {
    if (errorFromS3(error, operation, key).code === Code.OutOfRange) return undefined;
    throw error;
  }
  if (first.bytes.length >= first.total) return first.bytes;
  // `first.bytes` is a view on the start of the whole buffer.
  const whole = Buffer.from(first.bytes.buffer, first.bytes.byteOffset, first.total);
  const starts: number[] = [];
  for (let start = first.bytes.length; start < first.total; start += partBytes) starts.push(start);
  const stop = new AbortController();
  const partDeadline = linkedDeadline(deadline, stop.signal);
  try {
    await runPool(starts, ctx.queueSize, async (start) => {
      const end = Math.min(first.total, start + partBytes);
      await fetchRange(ctx, key, start, end, first.etag, partDeadline, whole, 0);
    });
  } catch (error) {
    stop.abort();
    throw error;
  }
  return whole;
}

/**
 * Like {@link downloadWhole}, as a stream: parts are fetched `queueSize` ahead and emitted in
 * order, each as one buffer of `partSizeBytes` (a consumer writing to a file then makes a few
 * large writes instead of one per network chunk, which measured about twice as fast). Undefined
 * when the server refused the first range.
 *
 * @internal
 */
export async function streamWhole(
  ctx: S3Context,
  key: string,
  deadline: DeadlineSignal,
): Promise<Readable | undefined> {
  const operation = `getStream ${key}`;
  const partBytes = ctx.partSizeBytes;
  let first: FirstRange;
  try {
    first = await ctx.retrying(operation, deadline, (signal) =>
      firstRange(ctx, key, partBytes, signal),
    );
  } catch (error) {
    if (errorFromS3(error, operation, key).code === Code.OutOfRange) return undefined;
    throw error;
  }
  const body = first.response.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
  if (first.total === 0 || body === undefined) {
    body?.destroy?.();
    return Readable.from([]);
  }
  if (!first.ranged || first.total <= partBytes) return body;
  const total = first.total;
  const parts: Array<Promise<Uint8Array> | undefined> = [];
  const stop = new AbortController();
  const partDeadline = linkedDeadline(deadline, stop.signal);
  const count = Math.ceil(total / partBytes);
  const launch = (index: number) => {
    if (index >= count || parts[index] !== undefined) return;
    const start = index * partBytes;
    const end = Math.min(total, start + partBytes);
    const buffer = Buffer.allocUnsafe(end - start);
    const fetched = fetchRange(ctx, key, start, end, first.etag, partDeadline, buffer, start).then(
      () => buffer,
    );
    fetched.catch(() => undefined); // awaited in order below
    parts[index] = fetched;
  };
  const queueSize = ctx.queueSize;
  async function* inOrder(): AsyncGenerator<Uint8Array> {
    try {
      for (let index = 1; index <= queueSize; index++) launch(index);
      const firstPart = Buffer.allocUnsafe(partBytes);
      const length = await readBodyInto(
        first.response,
        key,
        partDeadline.signal,
        firstPart,
        0,
        partBytes,
      );
      yield firstPart.subarray(0, length);
      for (let index = 1; index < count; index++) {
        launch(index + queueSize);
        const part = await (parts[index] as Promise<Uint8Array>);
        parts[index] = DONE; // let the bytes go once emitted
        yield part;
      }
    } finally {
      stop.abort();
      body?.destroy?.();
    }
  }
  return Readable.from(inOrder(), { objectMode: false, highWaterMark: 1024 * 1024 });
}

const DONE: Promise<Uint8Array> = Promise.resolve(new Uint8Array(0));

/** GET of the first `partBytes` of an object, with the object's total size and ETag. */
async function firstRange(
  ctx: S3Context,
  key: string,
  partBytes: number,
  signal: AbortSignal,
): Promise<FirstRange> {
  const response = await ctx.client.send(
    new GetObjectCommand({
      Bucket: ctx.bucket,
      Key: ctx.prefix + key,
      Range: `bytes=0-${partBytes - 1}`,
    }),
    { abortSignal: signal },
  );
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.ContentRange ?? "");
  if (match === null || match[1] !== "0") {
    // No (usable) Content-Range: the server sent the whole object.
    return { response, ranged: false, total: response.ContentLength ?? 0, etag: response.ETag };
  }
  return { response, ranged: true, total: Number(match[3]), etag: response.ETag };
}

/**
 * Bytes `start .. end` (exclusive) of an object that must still have `etag`, read into
 * `target` at `start - targetStart`: `target` holds the object's bytes from `targetStart` on
 * (retries overwrite the same place).
 */
async function fetchRange(
  ctx: S3Context,
  key: string,
  start: number,
  end: number,
  etag: string | undefined,
  deadline: DeadlineSignal,
  target: Buffer,
  targetStart: number,
): Promise<void> {
  await rangeRequest(ctx, key, start, end, etag, deadline, async (response, signal) => {
    await readBodyInto(response, key, signal, target, start - targetStart, end - start);
  });
}

/** One ranged GET with `If-Match`, retried; a replaced object becomes `Aborted`. */
async function rangeRequest<T>(
  ctx: S3Context,
  key: string,
  start: number,
  end: number,
  etag: string | undefined,
  deadline: DeadlineSignal,
  read: (response: GetObjectCommandOutput, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const operation = `get ${key} (bytes ${start}-${end - 1})`;
  try {
    return await ctx.retrying(operation, deadline, async (signal) => {
      const response = await ctx.client.send(
        new GetObjectCommand({
          Bucket: ctx.bucket,
          Key: ctx.prefix + key,
          Range: `bytes=${start}-${end - 1}`,
          ...(etag === undefined ? {} : { IfMatch: etag }),
        }),
        { abortSignal: signal },
      );
      return read(response, signal);
    });
  } catch (error) {
    const mapped = errorFromS3(error, operation, key);
    if (mapped.code === Code.FailedPrecondition) {
      throw new RuntimeError(
        `get ${key}: the object was replaced while it was being read; read it again`,
        { code: Code.Aborted, cause: mapped, details: { key } },
      );
    }
    throw mapped;
  }
}

/** Reads a GetObject body into one buffer, checking its length against Content-Length. @internal */
export async function readBody(
  response: GetObjectCommandOutput,
  key: string,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const body = response.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
  if (body === undefined) return new Uint8Array(0);
  const expected = response.ContentLength;
  if (expected === undefined) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
  const bytes = Buffer.allocUnsafe(expected);
  await readBodyInto(response, key, signal, bytes, 0, expected);
  return bytes;
}

/**
 * Reads a GetObject body of exactly `length` bytes into `target` at `offset`; more or fewer bytes
 * are `Unavailable` (retryable: a connection cut mid-body looks like this). Resolves the length.
 */
async function readBodyInto(
  response: GetObjectCommandOutput,
  key: string,
  signal: AbortSignal,
  target: Uint8Array,
  offset: number,
  length: number,
): Promise<number> {
  const body = response.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
  const expected = Math.min(length, response.ContentLength ?? length);
  let filled = 0;
  try {
    for await (const chunk of body ?? []) {
      if (filled + chunk.length > expected) throw truncated(key, filled + chunk.length, expected);
      target.set(chunk, offset + filled);
      filled += chunk.length;
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  }
  if (filled !== expected) throw truncated(key, filled, expected);
  return filled;
}

/** A body that ended early or ran long: retryable, since a connection cut mid-body looks like this. */
export function truncated(key: string, got: number, expected: number): RuntimeError {
  return new RuntimeError(`get ${key}: received ${got} bytes, expected ${expected}`, {
    code: Code.Unavailable,
    details: { key },
  });
}

/** The bytes `skip .. skip + take` of a stream. @internal */
export async function* sliceChunks(
  source: AsyncIterable<Uint8Array>,
  skip: number,
  take: number,
): AsyncGenerator<Uint8Array> {
  let position = 0;
  const end = skip + take;
  for await (const chunk of source) {
    const from = Math.max(0, skip - position);
    const to = Math.min(chunk.length, end - position);
    if (to > from) yield chunk.subarray(from, to);
    position += chunk.length;
    if (position >= end) return;
  }
}
