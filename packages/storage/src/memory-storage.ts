import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  type CallOptions,
  Code,
  createDeadlineSignal,
  RuntimeError,
  throwIfAborted,
} from "@strata/runtime-core";
import { bodyChunks } from "./body-chunks.js";
import { guardReadStream } from "./guard-read-stream.js";
import type {
  GetOptions,
  ListOptions,
  ObjectInfo,
  PutBody,
  PutOptions,
  StorageBackend,
} from "./storage-backend.js";
import { validateKey, validatePrefix } from "./validate-key.js";

interface StoredObject {
  bytes: Uint8Array;
  modifiedAtMs: number;
  etag: string;
}

/** Options for {@link createMemoryStorage}. */
export interface MemoryStorageOptions {
  /** Name used in `uri` (`memory://name`). Default `default`. */
  name?: string;
  /** Clock for modification times; default `Date.now`. */
  now?: () => number;
}

/**
 * A storage backend that keeps objects in memory, for tests and examples. It keeps every
 * guarantee of {@link StorageBackend} (atomic puts, create-only, key rules, signals) so code
 * tested against it behaves the same on disk and S3. Objects are copied in and out, so callers
 * may reuse their buffers.
 */
export class MemoryStorage implements StorageBackend {
  readonly uri: string;
  readonly #objects = new Map<string, StoredObject>();
  readonly #now: () => number;

  constructor(options: MemoryStorageOptions = {}) {
    this.uri = `memory://${options.name ?? "default"}`;
    this.#now = options.now ?? Date.now;
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    validateKey(key);
    // The deadline also bounds reading a streamed body (a stalled stream ends with the timeout).
    const deadline = createDeadlineSignal(`put ${key}`, options);
    let bytes: Uint8Array;
    try {
      bytes = await collect(body, options, deadline.signal, `put ${key}`);
      throwIfAborted(deadline.signal, `put ${key}`);
    } finally {
      deadline.cleanup();
    }
    if (options.createOnly && this.#objects.has(key)) {
      throw new RuntimeError(`object ${key} already exists`, {
        code: Code.AlreadyExists,
        details: { key },
      });
    }
    const object = {
      bytes,
      modifiedAtMs: this.#now(),
      etag: createHash("md5").update(bytes).digest("hex"),
    };
    this.#objects.set(key, object);
    return info(key, object);
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    validateKey(key);
    throwIfAborted(options.signal, `get ${key}`);
    const object = this.#require(key);
    const { start, end } = resolveRange(key, object.bytes.length, options.range);
    return object.bytes.slice(start, end);
  }

  async getStream(key: string, options: GetOptions = {}): Promise<Readable> {
    const bytes = await this.get(key, options);
    // The signal and timeout bound the whole read, as on the other backends.
    const deadline = createDeadlineSignal(`getStream ${key}`, options);
    return guardReadStream(Readable.from([bytes]), deadline, `getStream ${key}`, (error) =>
      RuntimeError.from(error),
    );
  }

  async stat(key: string, options: CallOptions = {}): Promise<ObjectInfo | undefined> {
    validateKey(key);
    throwIfAborted(options.signal, `stat ${key}`);
    const object = this.#objects.get(key);
    return object === undefined ? undefined : info(key, object);
  }

  async exists(key: string, options: CallOptions = {}): Promise<boolean> {
    return (await this.stat(key, options)) !== undefined;
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    const keys = [...this.#objects.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
    for (const key of keys) {
      throwIfAborted(options.signal, `list ${prefix}`);
      const object = this.#objects.get(key);
      if (object !== undefined) yield info(key, object);
    }
  }

  async delete(key: string, options: CallOptions = {}): Promise<void> {
    validateKey(key);
    throwIfAborted(options.signal, `delete ${key}`);
    this.#objects.delete(key);
  }

  async deleteMany(keys: readonly string[], options: CallOptions = {}): Promise<void> {
    keys.forEach(validateKey);
    throwIfAborted(options.signal, "deleteMany");
    for (const key of keys) this.#objects.delete(key);
  }

  async close(): Promise<void> {}

  #require(key: string): StoredObject {
    const object = this.#objects.get(key);
    if (object === undefined)
      throw new RuntimeError(`object ${key} not found`, { code: Code.NotFound, details: { key } });
    return object;
  }
}

/** Creates an in-memory backend. */
export function createMemoryStorage(options: MemoryStorageOptions = {}): MemoryStorage {
  return new MemoryStorage(options);
}

function info(key: string, object: StoredObject): ObjectInfo {
  return {
    key,
    sizeBytes: object.bytes.length,
    modifiedAtMs: object.modifiedAtMs,
    etag: object.etag,
  };
}

/** Byte-order comparison of keys, as S3 lists them (UTF-8 binary order). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

async function collect(
  body: PutBody,
  options: PutOptions,
  signal: AbortSignal,
  operation: string,
): Promise<Uint8Array> {
  if (body instanceof Uint8Array) {
    throwIfAborted(signal, operation);
    options.onProgress?.(body.length);
    return new Uint8Array(body);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of bodyChunks(body, signal, operation)) {
    chunks.push(chunk);
    total += chunk.length;
    options.onProgress?.(total);
  }
  return new Uint8Array(Buffer.concat(chunks, total));
}

/**
 * Checks a byte range against an object's size and returns concrete bounds. `OutOfRange` when the
 * range starts past the end or is inverted; `end` past the size is clamped to the size.
 */
export function resolveRange(
  key: string,
  size: number,
  range: { start: number; end?: number } | undefined,
): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: size };
  const end = Math.min(range.end ?? size, size);
  if (
    !Number.isSafeInteger(range.start) ||
    range.start < 0 ||
    (range.end !== undefined && (!Number.isSafeInteger(range.end) || range.end < range.start))
  ) {
    throw new RuntimeError(`invalid byte range ${JSON.stringify(range)} for ${key}`, {
      code: Code.InvalidArgument,
      details: { key },
    });
  }
  if (range.start > size || (range.start === size && size > 0 && range.end !== range.start)) {
    throw new RuntimeError(
      `byte range starts at ${range.start}, past the end of ${key} (${size} bytes)`,
      {
        code: Code.OutOfRange,
        details: { key, size },
      },
    );
  }
  return { start: range.start, end };
}
