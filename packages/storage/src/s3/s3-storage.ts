import { createHash } from "node:crypto";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  type BackoffOptions,
  type CallOptions,
  Code,
  createDeadlineSignal,
  type DeadlineSignal,
  type RetryOptions,
  RuntimeError,
  retry,
  throwIfAborted,
} from "@strata/runtime-core";
import { bodyChunks } from "../body-chunks.js";
import { guardReadStream } from "../guard-read-stream.js";
import { resolveRange } from "../memory-storage.js";
import type {
  ByteRange,
  GetOptions,
  ListOptions,
  ObjectInfo,
  PutBody,
  PutOptions,
  StorageBackend,
} from "../storage-backend.js";
import { validateKey, validatePrefix } from "../validate-key.js";
import { ConditionalWriteProbe } from "./conditional-write-probe.js";
import { uploadMultipart } from "./multipart-upload.js";
import { PartReader } from "./part-reader.js";
import { choosePartSize, MIN_PART_BYTES } from "./part-size.js";
import { downloadWhole, readBody, sliceChunks, streamWhole } from "./ranged-download.js";
import { runPool, type S3Context, unquote } from "./s3-context.js";
import { errorFromS3, type S3ErrorContext } from "./s3-error.js";
import type { ConditionalWritesMode, S3StorageOptions } from "./s3-storage-options.js";

const MiB = 1024 * 1024;
const DELETE_BATCH = 1000;
const DEFAULT_BACKOFF: BackoffOptions = {
  initialDelayMs: 100,
  multiplier: 2,
  maxDelayMs: 5_000,
  jitter: 0.5,
};

/**
 * A {@link StorageBackend} over S3 or an S3-compatible server, on `@aws-sdk/client-s3`.
 *
 * - Objects up to `multipartThresholdBytes` go up in one PutObject; larger bodies and streams
 *   in parts, `queueSize` at a time, each part retried on its own. A failed or aborted upload is
 *   aborted on the server (best effort: a server without AbortMultipartUpload, like s3rver, is
 *   tolerated) and, since S3 only shows a multipart object once it is completed, never leaves a
 *   partial object visible.
 * - Every request is retried on transient errors (network, 5xx, throttling) with capped
 *   exponential backoff and jitter, inside the caller's deadline; the SDK's own retries are off so
 *   the two never multiply. Every request gets the call's `AbortSignal`.
 * - Create-only puts use `If-None-Match: *` where the server supports it; see
 *   {@link ConditionalWritesMode} for the fallback.
 * - Keys are stored under `prefix`; objects outside the prefix, and keys that are not valid
 *   Strata keys, are invisible to `list`.
 *
 * Multipart (`multipart-upload.ts`), whole-object reads in parallel ranges (`ranged-download.ts`)
 * and the conditional-write probe (`conditional-write-probe.ts`) live in their own files.
 * Multipart is implemented rather than taken from `@aws-sdk/lib-storage`'s `Upload`, because
 * `Upload` does not pass an abort signal to its requests, retries parts only through the SDK's
 * own retry strategy (unaware of our deadline), replaces the original error with the abort's when
 * AbortMultipartUpload fails (s3rver: 405), and cannot grow the part size for unknown lengths.
 */
export class S3Storage implements StorageBackend {
  readonly uri: string;
  readonly bucket: string;
  /** The key prefix, empty or ending with `/`. */
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #ownsClient: boolean;
  readonly #partSizeBytes: number;
  readonly #thresholdBytes: number;
  readonly #queueSize: number;
  readonly #retry: RetryOptions;
  readonly #abortTimeoutMs: number;
  readonly #conditionalWrites: ConditionalWritesMode;
  readonly #onWarning: (message: string) => void;
  readonly #probe: ConditionalWriteProbe;
  /** What the extracted parts (multipart upload, ranged download, the probe) share. */
  readonly #context: S3Context;
  #warnedEmulation = false;
  readonly #background = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  constructor(options: S3StorageOptions) {
    if (
      typeof options?.bucket !== "string" ||
      options.bucket.length < 3 ||
      options.bucket.length > 63
    ) {
      throw invalidOption("bucket", "must be a bucket name of 3 to 63 characters");
    }
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    this.uri = `s3://${this.bucket}/${this.prefix}`;
    this.#partSizeBytes = options.partSizeBytes ?? 8 * MiB;
    if (!Number.isSafeInteger(this.#partSizeBytes) || this.#partSizeBytes < MIN_PART_BYTES) {
      throw invalidOption(
        "partSizeBytes",
        `must be an integer of at least ${MIN_PART_BYTES} (5 MiB)`,
      );
    }
    this.#thresholdBytes = options.multipartThresholdBytes ?? this.#partSizeBytes;
    if (!Number.isSafeInteger(this.#thresholdBytes) || this.#thresholdBytes < MIN_PART_BYTES) {
      throw invalidOption("multipartThresholdBytes", "must be an integer of at least 5 MiB");
    }
    this.#queueSize = options.queueSize ?? 8;
    if (!Number.isInteger(this.#queueSize) || this.#queueSize < 1) {
      throw invalidOption("queueSize", "must be a positive integer");
    }
    const maxAttempts = options.maxAttempts ?? 5;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw invalidOption("maxAttempts", "must be a positive integer");
    }
    this.#retry = { ...DEFAULT_BACKOFF, ...options.backoff, maxAttempts };
    this.#abortTimeoutMs = options.abortTimeoutMs ?? 10_000;
    this.#conditionalWrites = options.conditionalWrites ?? "auto";
    if (!["auto", "native", "emulate"].includes(this.#conditionalWrites)) {
      throw invalidOption("conditionalWrites", 'must be "auto", "native" or "emulate"');
    }
    this.#onWarning =
      options.onWarning ??
      ((message) => process.emitWarning(message, { type: "StrataStorageWarning" }));
    if (options.client !== undefined) {
      this.#client = options.client;
      this.#ownsClient = false;
    } else {
      const maxSockets = Math.max(50, this.#queueSize * 2);
      this.#client = new S3Client({
        region:
          options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
        // Retries are ours (runtime-core retry, bounded by the caller's deadline).
        maxAttempts: 1,
        requestChecksumCalculation: options.requestChecksumCalculation ?? "WHEN_REQUIRED",
        responseChecksumValidation: options.responseChecksumValidation ?? "WHEN_REQUIRED",
        requestHandler: {
          connectionTimeout: options.connectTimeoutMs ?? 10_000,
          requestTimeout: options.idleTimeoutMs ?? 60_000,
          httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
          httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
        },
      });
      this.#ownsClient = true;
    }
    const probeTimeoutMs = options.probeTimeoutMs ?? 30_000;
    if (!Number.isFinite(probeTimeoutMs) || probeTimeoutMs <= 0) {
      throw invalidOption("probeTimeoutMs", "must be a positive number of ms");
    }
    this.#context = {
      client: this.#client,
      bucket: this.bucket,
      prefix: this.prefix,
      queueSize: this.#queueSize,
      partSizeBytes: this.#partSizeBytes,
      retrying: (operation, deadline, send, context) =>
        this.#retrying(operation, deadline, send, context),
      head: (key, operation, deadline) => this.#head(key, operation, deadline),
      background: (task) => this.#runInBackground(task),
      onWarning: (message) => this.#onWarning(message),
    };
    this.#probe = new ConditionalWriteProbe(this.#context, probeTimeoutMs);
  }

  /** Runs clean-up off the caller's path, bounded by `abortTimeoutMs`; `close()` waits for it. */
  #runInBackground(task: (signal: AbortSignal) => Promise<void>): void {
    const run = task(AbortSignal.timeout(this.#abortTimeoutMs)).catch(() => undefined);
    const tracked: Promise<void> = run.finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }

  /** The SDK client, for operations this interface does not cover. */
  get client(): S3Client {
    return this.#client;
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    validateKey(key);
    this.#checkOpen();
    const operation = `put ${key}`;
    const deadline = createDeadlineSignal(operation, options);
    try {
      const createOnly = options.createOnly === true;
      const native =
        createOnly &&
        (await this.resolveConditionalWrites({ signal: deadline.signal })) === "native";
      if (createOnly && !native) await this.#emulatedCreateCheck(key, deadline);
      const sizeKnown = body instanceof Uint8Array || options.sizeHint !== undefined;
      const size = body instanceof Uint8Array ? body.length : options.sizeHint;
      const partBytes = choosePartSize(size, this.#partSizeBytes);
      const reader = new PartReader(bodyChunks(body, deadline.signal, operation));
      if (body instanceof Uint8Array && body.length <= this.#thresholdBytes) {
        return await this.#putSingle(key, body, native, options, deadline);
      }
      // Read the first part; a body that ends within it goes up in one request.
      const first =
        (await reader.read(Math.max(partBytes, this.#thresholdBytes))) ?? new Uint8Array(0);
      if (first.length <= this.#thresholdBytes && (await reader.atEnd())) {
        return await this.#putSingle(key, first, native, options, deadline);
      }
      reader.unshift(first);
      return await uploadMultipart(this.#context, {
        key,
        reader,
        partBytes,
        sizeKnown,
        native,
        options,
        deadline,
      });
    } catch (error) {
      throw errorFromS3(error, "put", key, { createOnly: options.createOnly === true });
    } finally {
      deadline.cleanup();
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    validateKey(key);
    this.#checkOpen();
    const operation = `get ${key}`;
    const deadline = createDeadlineSignal(operation, options);
    try {
      const range = options.range;
      if (range !== undefined) {
        resolveRange(key, Number.MAX_SAFE_INTEGER, range); // checks the shape before any request
        if (range.end === range.start) return await this.#emptyRange(key, range, deadline);
      }
      if (range === undefined) {
        const whole = await downloadWhole(this.#context, key, deadline);
        if (whole !== undefined) return whole;
      }
      return await this.#retrying(operation, deadline, async (signal) => {
        const ranged = await this.#getObject(key, range, signal);
        if (ranged === undefined) return new Uint8Array(0);
        const bytes = await readBody(ranged.response, key, signal);
        return ranged.take === undefined
          ? bytes
          : bytes.subarray(ranged.skip, ranged.skip + ranged.take);
      });
    } catch (error) {
      const mapped = errorFromS3(error, "get", key);
      if (mapped.code === Code.OutOfRange && options.range !== undefined) {
        return this.#emptyRange(key, options.range, deadline); // throws the precise error, or "" for an empty object
      }
      throw mapped;
    } finally {
      deadline.cleanup();
    }
  }

  async getStream(key: string, options: GetOptions = {}): Promise<Readable> {
    validateKey(key);
    this.#checkOpen();
    const operation = `getStream ${key}`;
    const deadline = createDeadlineSignal(operation, options);
    try {
      const range = options.range;
      let ranged: RangedResponse | undefined;
      if (range !== undefined) resolveRange(key, Number.MAX_SAFE_INTEGER, range);
      if (range === undefined) {
        const whole = await streamWhole(this.#context, key, deadline);
        if (whole !== undefined) {
          return guardReadStream(whole, deadline, operation, (error) =>
            errorFromS3(error, "getStream", key),
          );
        }
      }
      if (range === undefined || range.end !== range.start) {
        try {
          ranged = await this.#retrying(operation, deadline, (signal) =>
            this.#getObject(key, range, signal),
          );
        } catch (error) {
          const mapped = errorFromS3(error, "getStream", key);
          if (mapped.code !== Code.OutOfRange || range === undefined) throw mapped;
          ranged = undefined;
          await this.#emptyRange(key, range, deadline);
        }
      } else {
        await this.#emptyRange(key, range, deadline);
      }
      const body = ranged?.response.Body as Readable | undefined;
      let source = body ?? Readable.from([]);
      if (body !== undefined && ranged?.take !== undefined) {
        source = Readable.from(sliceChunks(body, ranged.skip, ranged.take));
      }
      return guardReadStream(source, deadline, operation, (error) =>
        errorFromS3(error, "getStream", key),
      );
    } catch (error) {
      deadline.cleanup();
      throw errorFromS3(error, "getStream", key);
    }
  }

  async stat(key: string, options: CallOptions = {}): Promise<ObjectInfo | undefined> {
    validateKey(key);
    this.#checkOpen();
    const operation = `stat ${key}`;
    const deadline = createDeadlineSignal(operation, options);
    try {
      return await this.#head(key, operation, deadline);
    } finally {
      deadline.cleanup();
    }
  }

  async exists(key: string, options: CallOptions = {}): Promise<boolean> {
    return (await this.stat(key, options)) !== undefined;
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    this.#checkOpen();
    const operation = `list ${prefix}`;
    const pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      throw invalidOption("pageSize", "must be an integer from 1 to 1000");
    }
    const deadline = createDeadlineSignal(operation, options);
    try {
      let token: string | undefined;
      do {
        const page = await this.#retrying(operation, deadline, (signal) =>
          this.#client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: this.prefix + prefix,
              MaxKeys: pageSize,
              ...(token === undefined ? {} : { ContinuationToken: token }),
            }),
            { abortSignal: signal },
          ),
        );
        for (const object of page.Contents ?? []) {
          throwIfAborted(deadline.signal, operation);
          const fullKey = object.Key;
          if (fullKey === undefined || !fullKey.startsWith(this.prefix)) continue;
          const key = fullKey.slice(this.prefix.length);
          if (!isVisibleKey(key)) continue;
          yield {
            key,
            sizeBytes: object.Size ?? 0,
            modifiedAtMs: object.LastModified?.getTime() ?? 0,
            ...(object.ETag === undefined ? {} : { etag: unquote(object.ETag) }),
          };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (error) {
      throw errorFromS3(error, "list", prefix);
    } finally {
      deadline.cleanup();
    }
  }

  async delete(key: string, options: CallOptions = {}): Promise<void> {
    validateKey(key);
    this.#checkOpen();
    const operation = `delete ${key}`;
    const deadline = createDeadlineSignal(operation, options);
    try {
      await this.#deleteOne(key, operation, deadline);
    } finally {
      deadline.cleanup();
    }
  }

  async deleteMany(keys: readonly string[], options: CallOptions = {}): Promise<void> {
    keys.forEach(validateKey);
    this.#checkOpen();
    const operation = "deleteMany";
    const deadline = createDeadlineSignal(operation, options);
    try {
      throwIfAborted(deadline.signal, operation);
      const unique = [...new Set(keys)];
      for (let start = 0; start < unique.length; start += DELETE_BATCH) {
        const batch = unique.slice(start, start + DELETE_BATCH);
        try {
          await this.#deleteBatch(batch, operation, deadline);
        } catch (error) {
          if (errorFromS3(error, operation).code !== Code.Unimplemented) throw error;
          // No DeleteObjects on this server (some S3-compatibles): one request per key.
          await runPool(batch, this.#queueSize, (key) => this.#deleteOne(key, operation, deadline));
        }
      }
    } catch (error) {
      throw errorFromS3(error, operation);
    } finally {
      deadline.cleanup();
    }
  }

  /**
   * Stops a conditional-write probe in flight, waits for background clean-up (multipart aborts,
   * the probe's scratch object; each bounded by `abortTimeoutMs`), then closes the client.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#probe.close();
      await Promise.allSettled([...this.#background]);
      if (this.#ownsClient) this.#client.destroy();
    })();
    return this.#closing;
  }

  /**
   * Which conditional-write mode create-only puts use: the configured one, or for `auto` the
   * result of a one-time probe (cached once it succeeds).
   */
  async resolveConditionalWrites(options: CallOptions = {}): Promise<"native" | "emulate"> {
    if (this.#conditionalWrites !== "auto") return this.#conditionalWrites;
    this.#checkOpen();
    return this.#probe.resolve(options);
  }

  async #emulatedCreateCheck(key: string, deadline: DeadlineSignal): Promise<void> {
    if (!this.#warnedEmulation) {
      this.#warnedEmulation = true;
      this.#onWarning(
        `${this.uri}: the server does not support conditional writes (If-None-Match: *); create-only puts use HEAD-then-PUT, which is not safe against concurrent writers`,
      );
    }
    if ((await this.#head(key, `put ${key}`, deadline)) !== undefined) {
      throw new RuntimeError(`put ${key}: the object already exists`, {
        code: Code.AlreadyExists,
        details: { key },
      });
    }
  }

  async #putSingle(
    key: string,
    bytes: Uint8Array,
    native: boolean,
    options: PutOptions,
    deadline: DeadlineSignal,
  ): Promise<ObjectInfo> {
    const operation = `put ${key}`;
    const context: S3ErrorContext = { createOnly: native };
    let attempts = 0;
    try {
      const response = await this.#retrying(
        operation,
        deadline,
        async (signal) => {
          attempts++;
          return this.#client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: this.prefix + key,
              Body: bytes,
              ContentLength: bytes.length,
              ...(native ? { IfNoneMatch: "*" } : {}),
            }),
            { abortSignal: signal },
          );
        },
        context,
      );
      options.onProgress?.(bytes.length);
      return {
        key,
        sizeBytes: bytes.length,
        modifiedAtMs: Date.now(),
        ...(response.ETag === undefined ? {} : { etag: unquote(response.ETag) }),
      };
    } catch (error) {
      const mapped = errorFromS3(error, "put", key, context);
      if (mapped.code === Code.AlreadyExists && attempts > 1) {
        // An earlier attempt may have succeeded with its response lost: then the object is ours.
        const info = await this.#head(key, operation, deadline);
        if (
          info?.etag === createHash("md5").update(bytes).digest("hex") &&
          info.sizeBytes === bytes.length
        ) {
          options.onProgress?.(bytes.length);
          return info;
        }
      }
      throw mapped;
    }
  }

  /**
   * GetObject for a key and range. Undefined for a range of an empty object. When the server
   * sent other bytes than asked (s3rver reads `bytes=0-0` as the whole object), `skip`/`take`
   * say which part of the body is the answer.
   */
  async #getObject(
    key: string,
    range: ByteRange | undefined,
    signal: AbortSignal,
  ): Promise<RangedResponse | undefined> {
    const header =
      range === undefined || (range.start === 0 && range.end === undefined)
        ? undefined
        : `bytes=${range.start}-${range.end === undefined ? "" : range.end - 1}`;
    const response = await this.#client.send(
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        ...(header === undefined ? {} : { Range: header }),
      }),
      { abortSignal: signal },
    );
    if (header !== undefined && /\/0$/.test(response.ContentRange ?? "")) {
      // A range of an empty object (s3rver answers 206 "bytes 0-0/0" instead of 416).
      (response.Body as Readable | undefined)?.destroy?.();
      return undefined;
    }
    if (header === undefined || range === undefined) return { response, skip: 0, take: undefined };
    const got = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.ContentRange ?? "");
    const total = got === null ? (response.ContentLength ?? 0) : Number(got[3]);
    const first = got === null ? 0 : Number(got[1]);
    const last = got === null ? total - 1 : Number(got[2]);
    const wantEnd = Math.min(range.end ?? total, total);
    if (first === range.start && last === wantEnd - 1)
      return { response, skip: 0, take: undefined };
    if (first > range.start || last < wantEnd - 1) {
      throw new RuntimeError(
        `get ${key}: the server sent bytes ${first}-${last}, not the range asked for`,
        {
          code: Code.Unavailable,
          details: { key },
        },
      );
    }
    return { response, skip: range.start - first, take: wantEnd - range.start };
  }

  /** For ranges S3 cannot express or refused: the exact result (or error) from the object's size. */
  async #emptyRange(key: string, range: ByteRange, deadline: DeadlineSignal): Promise<Uint8Array> {
    const info = await this.#head(key, `get ${key}`, deadline);
    if (info === undefined) {
      throw new RuntimeError(`object ${key} not found`, { code: Code.NotFound, details: { key } });
    }
    const { start, end } = resolveRange(key, info.sizeBytes, range);
    if (end !== start) {
      throw new RuntimeError(`get ${key}: the server refused a satisfiable range`, {
        code: Code.Unavailable,
        details: { key },
      });
    }
    return new Uint8Array(0);
  }

  async #head(
    key: string,
    operation: string,
    deadline: DeadlineSignal,
  ): Promise<ObjectInfo | undefined> {
    try {
      const head = await this.#retrying(operation, deadline, (signal) =>
        this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), {
          abortSignal: signal,
        }),
      );
      return {
        key,
        sizeBytes: head.ContentLength ?? 0,
        modifiedAtMs: head.LastModified?.getTime() ?? 0,
        ...(head.ETag === undefined ? {} : { etag: unquote(head.ETag) }),
      };
    } catch (error) {
      const mapped = errorFromS3(error, operation, key);
      if (mapped.code === Code.NotFound) return undefined;
      throw mapped;
    }
  }

  async #deleteOne(key: string, operation: string, deadline: DeadlineSignal): Promise<void> {
    try {
      await this.#retrying(operation, deadline, (signal) =>
        this.#client.send(
          new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
          {
            abortSignal: signal,
          },
        ),
      );
    } catch (error) {
      const mapped = errorFromS3(error, "delete", key);
      if (mapped.code !== Code.NotFound) throw mapped;
    }
  }

  async #deleteBatch(keys: string[], operation: string, deadline: DeadlineSignal): Promise<void> {
    const result = await this.#retrying(operation, deadline, (signal) =>
      this.#client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.map((key) => ({ Key: this.prefix + key })), Quiet: true },
        }),
        { abortSignal: signal },
      ),
    );
    const failed = (result.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
    if (failed.length > 0) {
      const first = failed[0];
      const key = first?.Key?.slice(this.prefix.length);
      throw errorFromS3(
        {
          name: first?.Code,
          message: `${first?.Message ?? "delete failed"} (${failed.length} of ${keys.length} keys failed)`,
        },
        "deleteMany",
        key,
      );
    }
  }

  /** One request with retries, mapping SDK errors, inside the call's deadline. */
  #retrying<T>(
    operation: string,
    deadline: DeadlineSignal,
    send: (signal: AbortSignal) => Promise<T>,
    context: S3ErrorContext = {},
  ): Promise<T> {
    const remaining = deadline.remainingMs();
    return retry(
      async (signal) => {
        try {
          return await send(signal);
        } catch (error) {
          throw errorFromS3(error, operation, undefined, context);
        }
      },
      {
        ...this.#retry,
        operation,
        signal: deadline.signal,
        ...(Number.isFinite(remaining) ? { timeoutMs: remaining } : {}),
      },
    );
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) {
      throw new RuntimeError(`${this.uri} is closed`, { code: Code.FailedPrecondition });
    }
  }
}

/** Creates an {@link S3Storage}. */
export function createS3Storage(options: S3StorageOptions): S3Storage {
  return new S3Storage(options);
}

/** A GetObject answer and the part of its body that answers the range. */
interface RangedResponse {
  response: GetObjectCommandOutput;
  skip: number;
  take: number | undefined;
}

function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === "" || prefix === "/") return "";
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  validateKey(trimmed);
  return `${trimmed}/`;
}

/** Keys S3 may hold that Strata cannot name (probe objects, `a//b`) are not listed. */
function isVisibleKey(key: string): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}

function invalidOption(field: string, why: string): RuntimeError {
  return new RuntimeError(`S3Storage option ${field} ${why}`, {
    code: Code.InvalidArgument,
    details: { field },
  });
}
