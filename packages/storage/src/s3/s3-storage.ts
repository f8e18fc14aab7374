import { createHash, randomUUID } from "node:crypto";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
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
import { RESERVED_SEGMENT_PREFIX, validateKey, validatePrefix } from "../validate-key.js";
import { PartReader } from "./part-reader.js";
import { choosePartSize, MAX_PARTS, MIN_PART_BYTES, partSizeFor } from "./part-size.js";
import { errorFromS3, type S3ErrorContext } from "./s3-error.js";

/**
 * How create-only puts are made atomic.
 * - `native`: send `If-None-Match: *` on PutObject and CompleteMultipartUpload; the server
 *   refuses (412) if the key exists. Race-free. AWS S3 (since August 2024), MinIO and Ceph RGW
 *   (recent releases) support it.
 * - `emulate`: HEAD the key, then upload without a condition. **Not race-free**: two writers
 *   that HEAD at the same moment both succeed and the last one wins. A warning is issued once.
 * - `auto`: find out with a probe on the first create-only put (put a scratch object, put it
 *   again with `If-None-Match: *`, expect 412, delete it), then use `native` or `emulate`.
 *   Servers that silently ignore the header (s3rver) are detected as `emulate`.
 */
export type ConditionalWritesMode = "auto" | "native" | "emulate";

/** Static credentials; omit them to use the standard AWS chain. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Options for {@link createS3Storage}. */
export interface S3StorageOptions {
  /** The bucket (3–63 characters). Required. */
  bucket: string;
  /** Key prefix inside the bucket; a `/` is added if missing. Default: none (the bucket root). */
  prefix?: string;
  /**
   * AWS region. Default: `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1` (a region is
   * needed to sign requests even for S3-compatible servers).
   */
  region?: string;
  /** Endpoint URL of an S3-compatible server (MinIO, Ceph, s3rver), e.g. `http://127.0.0.1:9000`. Default: AWS. */
  endpoint?: string;
  /**
   * Path-style addressing (`endpoint/bucket/key` instead of `bucket.endpoint/key`). Default:
   * true when `endpoint` is set (what MinIO, Ceph and s3rver need), false for AWS.
   */
  forcePathStyle?: boolean;
  /**
   * Static credentials. Default: the standard AWS chain (env `AWS_ACCESS_KEY_ID`/
   * `AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, `AWS_PROFILE` and the shared config files, web
   * identity, ECS and EC2 instance metadata).
   */
  credentials?: S3Credentials;
  /**
   * Multipart part size in bytes. Default 8 MiB; at least 5 MiB (S3's minimum). Raised
   * automatically when `sizeHint` (or a byte body) says the object would need more than 10,000
   * parts. Memory use of one upload is about `partSizeBytes × (queueSize + 1)`.
   */
  partSizeBytes?: number;
  /** Objects up to this size (bytes) go up in one PutObject; larger ones in parts. Default `partSizeBytes`. */
  multipartThresholdBytes?: number;
  /** Parts uploaded (and ranges downloaded) at once per call. Default 8. */
  queueSize?: number;
  /** Attempts per request, the first included, for retryable errors (network, 5xx, throttling). Default 5. */
  maxAttempts?: number;
  /**
   * Backoff between attempts: capped exponential with jitter. Defaults: 100 ms initial, ×2,
   * 5,000 ms cap, half of each delay random. Retries never sleep past the caller's deadline.
   */
  backoff?: BackoffOptions;
  /** TCP connect timeout per request, in ms. Default 10,000. */
  connectTimeoutMs?: number;
  /**
   * A request whose socket is idle this long fails with `Unavailable` and is retried, in ms. This
   * catches a server that stalls without closing the connection. Default 60,000.
   */
  idleTimeoutMs?: number;
  /**
   * When the SDK adds request checksums. Default `WHEN_REQUIRED`: since SDK 3.729 the default
   * (`WHEN_SUPPORTED`) sends CRC32 trailers in `aws-chunked` framing, which many S3-compatible
   * servers (s3rver, older MinIO and Ceph) store verbatim, silently corrupting streamed objects.
   */
  requestChecksumCalculation?: "WHEN_REQUIRED" | "WHEN_SUPPORTED";
  /** When the SDK validates response checksums. Default `WHEN_REQUIRED`, for the same servers. */
  responseChecksumValidation?: "WHEN_REQUIRED" | "WHEN_SUPPORTED";
  /** How create-only puts are made atomic; see {@link ConditionalWritesMode}. Default `auto`. */
  conditionalWrites?: ConditionalWritesMode;
  /**
   * Receives warnings (the emulated, not race-free create-only; an abort the server refused).
   * Default: `process.emitWarning`.
   */
  onWarning?: (message: string) => void;
  /** Bound for the best-effort AbortMultipartUpload after a failed upload, in ms. Default 10,000. */
  abortTimeoutMs?: number;
  /** A ready client to use instead of building one (its own settings then apply). Not closed by `close()`. */
  client?: S3Client;
}

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
 * Multipart is implemented here rather than with `@aws-sdk/lib-storage`'s `Upload`, because
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
  #conditionalProbe: Promise<"native" | "emulate"> | undefined;
  #warnedEmulation = false;
  readonly #backgroundAborts = new Set<Promise<void>>();
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
      return await this.#putMultipart(key, reader, partBytes, sizeKnown, native, options, deadline);
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
        const whole = await this.#getWhole(key, deadline);
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
        const whole = await this.#streamWhole(key, deadline);
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

  /** Waits for pending multipart aborts (bounded by `abortTimeoutMs`), then closes the client. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#backgroundAborts]);
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
    if (this.#conditionalProbe === undefined) {
      this.#conditionalProbe = this.#probeConditionalWrites(options);
    }
    const probe = this.#conditionalProbe;
    try {
      return await probe;
    } catch (error) {
      if (this.#conditionalProbe === probe) this.#conditionalProbe = undefined; // try again next time
      throw error;
    }
  }

  async #probeConditionalWrites(options: CallOptions): Promise<"native" | "emulate"> {
    const deadline = createDeadlineSignal("conditional-write probe", options);
    const fullKey = `${this.prefix}${RESERVED_SEGMENT_PREFIX}probe-${randomUUID()}`;
    const put = (condition: boolean) =>
      this.#retrying("conditional-write probe", deadline, (signal) =>
        this.#client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: fullKey,
            Body: new Uint8Array(0),
            ContentLength: 0,
            ...(condition ? { IfNoneMatch: "*" } : {}),
          }),
          { abortSignal: signal },
        ),
      );
    try {
      await put(false);
      try {
        await put(true);
        return "emulate"; // the header was ignored: the object was overwritten
      } catch (error) {
        const code = errorFromS3(error, "probe", undefined, { createOnly: true }).code;
        if (code === Code.AlreadyExists) return "native";
        if (code === Code.Unimplemented || code === Code.InvalidArgument) return "emulate";
        throw error;
      }
    } finally {
      await this.#client
        .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fullKey }), {
          abortSignal: AbortSignal.timeout(this.#abortTimeoutMs),
        })
        .catch(() => undefined);
      deadline.cleanup();
    }
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

  async #putMultipart(
    key: string,
    reader: PartReader,
    partBytes: number,
    sizeKnown: boolean,
    native: boolean,
    options: PutOptions,
    deadline: DeadlineSignal,
  ): Promise<ObjectInfo> {
    const operation = `put ${key}`;
    const fullKey = this.prefix + key;
    const created = await this.#retrying(operation, deadline, (signal) =>
      this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey }), {
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
    const signal = AbortSignal.any([deadline.signal, stop.signal]);
    const partDeadline: DeadlineSignal = {
      signal,
      cleanup: () => undefined,
      remainingMs: deadline.remainingMs,
    };
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
        const task = this.#retrying(`${operation} (part ${number})`, partDeadline, (partSignal) =>
          this.#client.send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: fullKey,
              UploadId: uploadId,
              PartNumber: number,
              Body: body,
              ContentLength: body.length,
            }),
            { abortSignal: partSignal },
          ),
        ).then(
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
        while (inFlight.size >= this.#queueSize) await Promise.race(inFlight);
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
        const completed = await this.#retrying(
          operation,
          deadline,
          (completeSignal) => {
            attempts++;
            return this.#client.send(
              new CompleteMultipartUploadCommand({
                Bucket: this.bucket,
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
          const info = await this.#head(key, operation, deadline);
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
      this.#abortInBackground(fullKey, uploadId);
      if (deadline.signal.aborted)
        throw errorFromS3(deadline.signal.reason ?? error, operation, key);
      throw error;
    }
  }

  /**
   * Reads a whole object: the first `partSizeBytes` with one ranged GET, and when the object is
   * larger, the rest in parallel ranged GETs (`queueSize` at a time, each retried on its own,
   * each with `If-Match` on the first answer's ETag so a replaced object fails instead of mixing).
   * Undefined when the server refused the first range (an empty object on AWS: 416); the caller
   * then does a plain GET.
   */
  async #getWhole(key: string, deadline: DeadlineSignal): Promise<Uint8Array | undefined> {
    const operation = `get ${key}`;
    const partBytes = this.#partSizeBytes;
    let first: { bytes: Uint8Array; total: number; etag: string | undefined };
    try {
      first = await this.#retrying(operation, deadline, async (signal) => {
        const response = await this.#firstRange(key, partBytes, signal);
        if (response.total === 0) {
          (response.response.Body as Readable | undefined)?.destroy?.();
          return { bytes: new Uint8Array(0), total: 0, etag: response.etag };
        }
        const bytes = await readBody(response.response, key, signal);
        return {
          bytes,
          total: response.ranged ? response.total : bytes.length,
          etag: response.etag,
        };
      });
    } catch (error) {
      if (errorFromS3(error, operation, key).code === Code.OutOfRange) return undefined;
      throw error;
    }
    if (first.bytes.length >= first.total) return first.bytes;
    const whole = Buffer.allocUnsafe(first.total);
    whole.set(first.bytes, 0);
    const starts: number[] = [];
    for (let start = first.bytes.length; start < first.total; start += partBytes)
      starts.push(start);
    const stop = new AbortController();
    const partDeadline = linkedDeadline(deadline, stop.signal);
    try {
      await runPool(starts, this.#queueSize, async (start) => {
        const end = Math.min(first.total, start + partBytes);
        whole.set(await this.#fetchRange(key, start, end, first.etag, partDeadline), start);
      });
    } catch (error) {
      stop.abort();
      throw error;
    }
    return whole;
  }

  /** Like {@link #getWhole}, as a stream: parts are fetched ahead, `queueSize` at a time, and emitted in order. */
  async #streamWhole(key: string, deadline: DeadlineSignal): Promise<Readable | undefined> {
    const operation = `getStream ${key}`;
    const partBytes = this.#partSizeBytes;
    let first: FirstRange;
    try {
      first = await this.#retrying(operation, deadline, (signal) =>
        this.#firstRange(key, partBytes, signal),
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
    const parts: Array<Promise<Uint8Array>> = [];
    const stop = new AbortController();
    const partDeadline = linkedDeadline(deadline, stop.signal);
    const count = Math.ceil(total / partBytes);
    const launch = (index: number) => {
      if (index >= count || parts[index] !== undefined) return;
      const start = index * partBytes;
      const fetched = this.#fetchRange(
        key,
        start,
        Math.min(total, start + partBytes),
        first.etag,
        partDeadline,
      );
      fetched.catch(() => undefined); // awaited in order below
      parts[index] = fetched;
    };
    const queueSize = this.#queueSize;
    async function* inOrder(): AsyncGenerator<Uint8Array> {
      try {
        for (let index = 1; index <= queueSize; index++) launch(index);
        for await (const chunk of body as AsyncIterable<Uint8Array>) yield chunk;
        for (let index = 1; index < count; index++) {
          launch(index + queueSize);
          yield await (parts[index] as Promise<Uint8Array>);
        }
      } finally {
        stop.abort();
      }
    }
    return Readable.from(inOrder(), { objectMode: false, highWaterMark: 1024 * 1024 });
  }

  /** GET of the first `partBytes` of an object, with the object's total size and ETag. */
  async #firstRange(key: string, partBytes: number, signal: AbortSignal): Promise<FirstRange> {
    const response = await this.#client.send(
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
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

  /** Bytes `start .. end` (exclusive) of an object that must still have `etag`. */
  async #fetchRange(
    key: string,
    start: number,
    end: number,
    etag: string | undefined,
    deadline: DeadlineSignal,
  ): Promise<Uint8Array> {
    const operation = `get ${key} (bytes ${start}-${end - 1})`;
    try {
      return await this.#retrying(operation, deadline, async (signal) => {
        const response = await this.#client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
            Range: `bytes=${start}-${end - 1}`,
            ...(etag === undefined ? {} : { IfMatch: etag }),
          }),
          { abortSignal: signal },
        );
        const bytes = await readBody(response, key, signal);
        if (bytes.length !== end - start) throw truncated(key, bytes.length, end - start);
        return bytes;
      });
    } catch (error) {
      const mapped = errorFromS3(error, operation, key);
      if (mapped.code === Code.FailedPrecondition) {
        throw new RuntimeError(
          `get ${key}: the object was replaced while it was being read; read it again`,
          {
            code: Code.Aborted,
            cause: mapped,
            details: { key },
          },
        );
      }
      throw mapped;
    }
  }

  /** Best-effort AbortMultipartUpload, off the caller's path; `close()` waits for it. */
  #abortInBackground(fullKey: string, uploadId: string): void {
    const task = this.#client
      .send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey, UploadId: uploadId }),
        {
          abortSignal: AbortSignal.timeout(this.#abortTimeoutMs),
        },
      )
      .then(
        () => undefined,
        (error: unknown) => {
          const mapped = errorFromS3(error, "abort multipart upload", fullKey);
          if (mapped.code === Code.Unimplemented) return; // s3rver: 405; parts stay until the server cleans up
          if (mapped.code === Code.NotFound) return; // already gone
          this.#onWarning(
            `${this.uri}: could not abort multipart upload ${uploadId} of ${fullKey}; its parts stay billed until a lifecycle rule removes them (${mapped.rawMessage})`,
          );
        },
      );
    const tracked: Promise<void> = task.finally(() => this.#backgroundAborts.delete(tracked));
    this.#backgroundAborts.add(tracked);
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

/** The answer to the first ranged GET of a whole-object read. */
interface FirstRange {
  response: GetObjectCommandOutput;
  /** Whether the server answered with a range (206); if not, the body is the whole object. */
  ranged: boolean;
  total: number;
  etag: string | undefined;
}

/** A deadline whose signal also aborts with `extra` (to stop sibling requests after one fails). */
function linkedDeadline(deadline: DeadlineSignal, extra: AbortSignal): DeadlineSignal {
  return {
    signal: AbortSignal.any([deadline.signal, extra]),
    cleanup: () => undefined,
    remainingMs: deadline.remainingMs,
  };
}

/** A GetObject answer and the part of its body that answers the range. */
interface RangedResponse {
  response: GetObjectCommandOutput;
  skip: number;
  take: number | undefined;
}

/** The bytes `skip .. skip + take` of a stream. */
async function* sliceChunks(
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

/** Reads a GetObject body into one buffer, checking its length against Content-Length. */
async function readBody(
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
  let filled = 0;
  try {
    for await (const chunk of body) {
      if (filled + chunk.length > expected) throw truncated(key, filled + chunk.length, expected);
      bytes.set(chunk, filled);
      filled += chunk.length;
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  }
  if (filled !== expected) throw truncated(key, filled, expected);
  return bytes;
}

function truncated(key: string, got: number, expected: number): RuntimeError {
  // Retryable: a connection cut mid-body looks like this.
  return new RuntimeError(`get ${key}: received ${got} bytes, expected ${expected}`, {
    code: Code.Unavailable,
    details: { key },
  });
}

/** The ETag S3 gives a completed multipart object: MD5 of the parts' binary MD5s, dash, part count. */
function multipartEtag(parts: CompletedPart[]): string {
  const digests = parts.map((p) => Buffer.from(unquote(p.ETag ?? ""), "hex"));
  return `${createHash("md5").update(Buffer.concat(digests)).digest("hex")}-${parts.length}`;
}

function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, "");
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

async function runPool<T>(
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
