import type { S3Client } from "@aws-sdk/client-s3";
import type { BackoffOptions } from "@strata/runtime-core";

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
  /**
   * Bound for background clean-up requests (the best-effort AbortMultipartUpload after a failed
   * upload, the DELETE of the conditional-write probe's scratch object), in ms. Default 10,000.
   * `close()` waits for them, so this also bounds how long `close()` can take.
   */
  abortTimeoutMs?: number;
  /**
   * Bound for the one-time conditional-write probe of `conditionalWrites: "auto"`, in ms.
   * Default 30,000. The probe is shared by all callers and runs under this bound alone: each
   * create-only put waits for it only as long as its own `signal`/`timeoutMs` allow.
   */
  probeTimeoutMs?: number;
  /** A ready client to use instead of building one (its own settings then apply). Not closed by `close()`. */
  client?: S3Client;
}
