import type { Readable } from "node:stream";
import { type CallOptions, Code, RuntimeError, retry } from "@strata/runtime-core";
import type { StorageBackend } from "@strata/storage";
import { CHECKSUM_ALGORITHMS, createHasher } from "./checksum.js";
import { type Compression, encodeLz4Frame, Lz4FrameDecoder } from "./compression.js";
import type { ManifestObject } from "./manifest.js";

/** What writing one object produced, for its manifest entry. */
export interface WrittenObject {
  sizeBytes: number;
  checksum: string;
  rawSizeBytes: number;
}

/** Options for {@link writeObject}. */
export interface WriteObjectOptions extends CallOptions {
  compression: Compression;
  /** Bytes per streamed chunk (and per LZ4 frame). */
  chunkBytes: number;
  /** Called with the number of raw bytes just handed to storage. */
  onBytes?: (rawBytes: number) => void;
}

/**
 * Streams `bytes` to `key`, computing the checksum (and compressing) one chunk ahead of the
 * write: while storage writes chunk i, the event loop is idle and we prepare chunk i+1, so
 * checksumming overlaps the I/O instead of adding to it. Transient storage errors
 * (`Unavailable`...) are retried from the start, which is safe because a put is atomic and we
 * still hold the snapshot.
 */
export async function writeObject(
  storage: StorageBackend,
  key: string,
  bytes: Uint8Array,
  options: WriteObjectOptions,
): Promise<WrittenObject> {
  return retry(
    async (signal) => {
      const chunks = new ChunkPipeline(
        bytes,
        options.chunkBytes,
        options.compression,
        options.onBytes,
      );
      const sizeHint = options.compression === "none" ? bytes.length : undefined;
      await storage.put(key, chunks, { signal, ...(sizeHint === undefined ? {} : { sizeHint }) });
      chunks.assertDone(key);
      return {
        sizeBytes: chunks.storedBytes,
        checksum: chunks.checksum.digest(),
        rawSizeBytes: bytes.length,
      };
    },
    {
      operation: `write ${key}`,
      maxAttempts: 3,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    },
  );
}

/** An async iterator of stored chunks that prepares the next chunk while the current one is written. */
class ChunkPipeline implements AsyncIterableIterator<Uint8Array> {
  readonly checksum = createHasher();
  storedBytes = 0;
  #offset = 0;
  #ready: Promise<Uint8Array | undefined>;

  constructor(
    readonly bytes: Uint8Array,
    readonly chunkBytes: number,
    readonly compression: Compression,
    readonly onBytes: ((rawBytes: number) => void) | undefined,
  ) {
    this.#ready = Promise.resolve().then(() => this.#produce());
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array, undefined>> {
    const value = await this.#ready;
    if (value === undefined) return { done: true, value: undefined };
    this.#ready = new Promise((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(this.#produce());
        } catch (error) {
          reject(error);
        }
      });
    });
    // A prefetch that fails after the consumer stopped pulling must not become an unhandled rejection.
    this.#ready.catch(() => {});
    return { done: false, value };
  }

  async return(): Promise<IteratorResult<Uint8Array, undefined>> {
    this.#offset = this.bytes.length;
    return { done: true, value: undefined };
  }

  assertDone(key: string): void {
    if (this.#offset !== this.bytes.length) {
      throw new RuntimeError(`storage accepted ${key} before reading all of it`, {
        code: Code.Internal,
      });
    }
  }

  #produce(): Uint8Array | undefined {
    if (this.#offset >= this.bytes.length) return undefined;
    const raw = this.bytes.subarray(this.#offset, this.#offset + this.chunkBytes);
    this.#offset += raw.length;
    const stored = this.compression === "lz4" ? encodeLz4Frame(raw) : raw;
    this.checksum.update(stored);
    this.storedBytes += stored.length;
    this.onBytes?.(raw.length);
    return stored;
  }
}

/** Options for {@link readObject}. */
export interface ReadObjectOptions extends CallOptions {
  /** Keep the raw bytes (load) or only check them (verify). */
  collect: boolean;
  /** Called with the number of stored bytes just read and checked. */
  onBytes?: (storedBytes: number) => void;
}

/**
 * Reads one object, checking its size and checksum against its manifest entry as it streams.
 * A missing, truncated, extended or damaged object is a `RuntimeError(DataLoss)` whose message and
 * `details.key` name the object.
 */
export async function readObject(
  storage: StorageBackend,
  key: string,
  entry: ManifestObject,
  options: ReadObjectOptions,
): Promise<Uint8Array | undefined> {
  const lost = (why: string, cause?: unknown) =>
    new RuntimeError(`checkpoint object ${key} (${entry.name}) ${why}`, {
      code: Code.DataLoss,
      cause,
      details: { key, name: entry.name },
    });
  if (!CHECKSUM_ALGORITHMS.includes(entry.algorithm))
    throw lost(`uses unknown checksum ${entry.algorithm}`);
  let stream: Readable;
  try {
    stream = await storage.getStream(key, options.signal ? { signal: options.signal } : {});
  } catch (error) {
    const e = RuntimeError.from(error);
    if (e.code === Code.NotFound) throw lost("is missing", e);
    throw e;
  }
  const out = options.collect ? Buffer.allocUnsafeSlow(entry.rawSizeBytes) : undefined;
  let rawBytes = 0;
  const acceptRaw = (chunk: Uint8Array) => {
    if (rawBytes + chunk.length > entry.rawSizeBytes) {
      throw lost(`holds more than the ${entry.rawSizeBytes} raw bytes its manifest records`);
    }
    out?.set(chunk, rawBytes);
    rawBytes += chunk.length;
  };
  const crc = createHasher(entry.algorithm);
  const decoder = entry.compression === "lz4" ? new Lz4FrameDecoder(key) : undefined;
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array>) {
      if (crc.bytes + chunk.length > entry.sizeBytes) {
        throw lost(`is longer than the ${entry.sizeBytes} bytes its manifest records`);
      }
      crc.update(chunk);
      if (decoder === undefined) acceptRaw(chunk);
      else if (out !== undefined) for (const raw of decoder.push(chunk)) acceptRaw(raw);
      options.onBytes?.(chunk.length);
    }
  } catch (error) {
    stream.destroy();
    const e = RuntimeError.from(error);
    if (e.code === Code.NotFound) throw lost("is missing", e);
    throw e;
  }
  if (crc.bytes !== entry.sizeBytes) {
    throw lost(`is truncated: ${crc.bytes} of ${entry.sizeBytes} bytes`);
  }
  if (crc.digest() !== entry.checksum) {
    throw lost(
      `fails its checksum: ${entry.algorithm} ${crc.digest()}, manifest says ${entry.checksum}`,
    );
  }
  if (out !== undefined) {
    decoder?.end();
    if (rawBytes !== entry.rawSizeBytes) {
      throw lost(`decodes to ${rawBytes} bytes, its manifest records ${entry.rawSizeBytes}`);
    }
  }
  return out;
}
