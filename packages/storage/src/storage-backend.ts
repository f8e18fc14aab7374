import type { Readable } from "node:stream";
import type { CallOptions } from "@strata/runtime-core";

/** What a stored object looks like from the outside. */
export interface ObjectInfo {
  /** The object's key, relative to the backend's root or prefix. */
  key: string;
  sizeBytes: number;
  /** Last modification time, ms since the epoch. */
  modifiedAtMs: number;
  /** An opaque version tag (S3 ETag, or a digest/mtime tag locally), when the backend has one. */
  etag?: string;
}

/**
 * The body of a put: bytes in memory, or a stream of chunks (a Node `Readable` is one). A chunk
 * belongs to the backend once yielded: do not modify or reuse it afterwards (backends may hold it
 * until the put ends, e.g. to assemble an S3 part).
 */
export type PutBody = Uint8Array | AsyncIterable<Uint8Array>;

/** Options for {@link StorageBackend.put}. */
export interface PutOptions extends CallOptions {
  /**
   * Create-only: fail with `AlreadyExists` if the key exists, and never overwrite it. This is
   * what atomic commits (checkpoint manifests) are built on. Default false (overwrite).
   */
  createOnly?: boolean;
  /** Total size of a streamed body in bytes, when known; lets backends size multipart parts. */
  sizeHint?: number;
  /** Called with the number of bytes written so far, for progress bars. */
  onProgress?: (writtenBytes: number) => void;
}

/** A byte range: `start` inclusive, `end` exclusive; `end` absent means to the end of the object. */
export interface ByteRange {
  start: number;
  end?: number;
}

/** Options for reads. */
export interface GetOptions extends CallOptions {
  /** Read only these bytes. A range past the end of the object fails with `OutOfRange`. */
  range?: ByteRange;
}

/** Options for {@link StorageBackend.list}. */
export interface ListOptions extends CallOptions {
  /** Objects per page fetched from the backend; default 1,000. Does not limit the total. */
  pageSize?: number;
}

/**
 * One interface over local disk, S3 and memory.
 *
 * Guarantees every backend keeps:
 * - A successful `put` means the bytes are durable (fsynced locally, acknowledged by S3) and a
 *   reader sees either the whole old object or the whole new one, never a partial one.
 * - Keys are `/`-separated relative paths (see `validateKey`); an invalid key fails with
 *   `InvalidArgument` before any I/O.
 * - Every call takes an `AbortSignal` and a timeout (`CallOptions`), and fails with `Canceled` or
 *   `DeadlineExceeded` when they end it. For `put` they also bound reading a streamed body; for
 *   `getStream` and `list` they bound the whole stream or iteration, not only its start.
 * - Errors are `RuntimeError`s: `NotFound`, `AlreadyExists`, `PermissionDenied`,
 *   `InvalidArgument`, `OutOfRange`, `Unavailable`, `DeadlineExceeded`, `Canceled`.
 */
export interface StorageBackend {
  /** A URI that names this backend and root, such as `file:///data/ckpt` or `s3://bucket/prefix`. */
  readonly uri: string;

  /** Writes `body` under `key`, atomically. Returns the stored object's info. */
  put(key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo>;

  /** Reads a whole object (or a range) into memory. `NotFound` if it does not exist. */
  get(key: string, options?: GetOptions): Promise<Uint8Array>;

  /** Opens a stream over an object (or a range). `NotFound` if it does not exist. */
  getStream(key: string, options?: GetOptions): Promise<Readable>;

  /** The object's info, or `undefined` if it does not exist. */
  stat(key: string, options?: CallOptions): Promise<ObjectInfo | undefined>;

  /** Whether the object exists. */
  exists(key: string, options?: CallOptions): Promise<boolean>;

  /**
   * Every object whose key starts with `prefix` (a plain string prefix, not a folder), in
   * ascending key order, fetched a page at a time. An empty prefix lists everything.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;

  /** Deletes an object. Deleting a missing object is not an error (deletes are idempotent). */
  delete(key: string, options?: CallOptions): Promise<void>;

  /** Deletes many objects, in batches where the backend supports it. Missing keys are ignored. */
  deleteMany(keys: readonly string[], options?: CallOptions): Promise<void>;

  /** Releases connections and handles. Idempotent. */
  close(): Promise<void>;
}
