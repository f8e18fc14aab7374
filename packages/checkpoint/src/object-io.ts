import type { Readable } from "node:stream";
import { type CallOptions, Code, RuntimeError, retry } from "@strata/runtime-core";
import type { StorageBackend } from "@strata/storage";
import { CHECKSUM_ALGORITHMS, createHasher } from "./checksum.js";
import { type Compression, encodeLz4Frame, Lz4FrameDecoder } from "./compression.js";
import type { ManifestObject } from "./manifest.js";

/** Where one buffer landed inside a pack, for its manifest entry. */
export interface WrittenObject {
  /** Byte offset of the buffer's stored bytes inside the pack. */
  offset: number;
  /** Stored size in bytes (after compression). */
  sizeBytes: number;
  /** Checksum of the stored bytes. */
  checksum: string;
  rawSizeBytes: number;
}

/** Options for {@link writePack}. */
export interface WritePackOptions extends CallOptions {
  compression: Compression;
  /** Bytes per streamed chunk (and per LZ4 frame). */
  chunkBytes: number;
  /** Called with the number of raw bytes just handed to storage. */
  onBytes?: (rawBytes: number) => void;
}

/**
 * Streams `buffers`, back to back, into one pack object at `key`, and returns where each landed
 * with its own checksum. One object per pack (rather than per buffer) means one fsync and one
 * folder sync on a disk, and one multipart upload on S3, instead of one per buffer: on our test
 * disk that alone tripled throughput.
 *
 * The checksum (and compression) of chunk i+1 is computed while storage writes chunk i: the event
 * loop is idle then, so hashing overlaps the I/O instead of adding to it. Transient storage
 * errors (`Unavailable`...) are retried from the start, which is safe because a put is atomic and
 * we still hold the snapshot.
 */
export async function writePack(
  storage: StorageBackend,
  key: string,
  buffers: readonly Uint8Array[],
  options: WritePackOptions,
): Promise<WrittenObject[]> {
  return retry(
    async (signal) => {
      if (options.compression === "none")
        return writeRawPack(storage, key, buffers, options, signal);
      const chunks = new PackPipeline(
        buffers,
        options.chunkBytes,
        options.compression,
        options.onBytes,
      );
      // Compressed: the stored size is not known in advance (no sizeHint).
      await storage.put(key, chunks, { signal });
      return chunks.results(key);
    },
    {
      operation: `write ${key}`,
      maxAttempts: 3,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    },
  );
}

/**
 * An uncompressed pack: the stored bytes are the buffers themselves, so they go to storage as they
 * are (views, no copies) while their checksums are computed alongside, in slices between which
 * the event loop runs. The write never waits for the hash: on a busy machine a hash-then-write
 * pipeline stalled the disk whenever the main thread was late to prepare the next chunk (we
 * measured 0.3-0.5x of plain write+fsync that way, against about 1x now). The snapshot is
 * immutable, so the bytes hashed are exactly the bytes stored.
 */
async function writeRawPack(
  storage: StorageBackend,
  key: string,
  buffers: readonly Uint8Array[],
  options: WritePackOptions,
  signal: AbortSignal,
): Promise<WrittenObject[]> {
  const sizeHint = buffers.reduce((n, b) => n + b.length, 0);
  const stop = { stopped: false };
  const hashing = checksumBuffers(buffers, options.chunkBytes, stop);
  try {
    await storage.put(key, rawChunks(buffers, RAW_CHUNK_BYTES, options.onBytes), {
      signal,
      sizeHint,
    });
  } catch (error) {
    stop.stopped = true;
    await hashing.catch(() => undefined);
    throw error;
  }
  return hashing;
}

/**
 * Uncompressed buffers go to storage in views of up to this many bytes: few, large writes (a
 * local disk writes 64 MiB per call; S3 cuts parts out of them without copying).
 */
const RAW_CHUNK_BYTES = 64 * 1024 * 1024;

/** The buffers, back to back, in chunks of at most `chunkBytes` (views on the buffers). */
async function* rawChunks(
  buffers: readonly Uint8Array[],
  chunkBytes: number,
  onBytes: ((rawBytes: number) => void) | undefined,
): AsyncGenerator<Uint8Array> {
  for (const bytes of buffers) {
    for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
      const chunk = bytes.subarray(offset, offset + chunkBytes);
      onBytes?.(chunk.length);
      yield chunk;
    }
  }
}

/** Each buffer's placement in an uncompressed pack, with its checksum; yields between slices. */
async function checksumBuffers(
  buffers: readonly Uint8Array[],
  sliceBytes: number,
  stop: { stopped: boolean },
): Promise<WrittenObject[]> {
  const out: WrittenObject[] = [];
  let offset = 0;
  for (const bytes of buffers) {
    const hasher = createHasher();
    for (let at = 0; at < bytes.length; at += sliceBytes) {
      if (stop.stopped) throw new RuntimeError("pack write stopped", { code: Code.Aborted });
      hasher.update(bytes.subarray(at, at + sliceBytes));
      await yieldToEventLoop();
    }
    out.push({
      offset,
      sizeBytes: bytes.length,
      checksum: hasher.digest(),
      rawSizeBytes: bytes.length,
    });
    offset += bytes.length;
  }
  return out;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** An async iterator of stored chunks that prepares the next chunk while the current one is written. */
class PackPipeline implements AsyncIterableIterator<Uint8Array> {
  #entry = 0;
  #pos = 0;
  #entryStart = 0;
  #stored = 0;
  #hasher = createHasher();
  readonly #written: WrittenObject[] = [];
  #ready: Promise<Uint8Array | undefined>;

  constructor(
    readonly buffers: readonly Uint8Array[],
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
    this.#entry = this.buffers.length;
    return { done: true, value: undefined };
  }

  /** Every buffer's placement; fails if storage reported success before reading everything. */
  results(key: string): WrittenObject[] {
    if (this.#written.length !== this.buffers.length) {
      throw new RuntimeError(`storage accepted ${key} before reading all of it`, {
        code: Code.Internal,
      });
    }
    return this.#written;
  }

  #produce(): Uint8Array | undefined {
    for (;;) {
      const bytes = this.buffers[this.#entry];
      if (bytes === undefined) return undefined;
      if (this.#pos >= bytes.length) {
        this.#written.push({
          offset: this.#entryStart,
          sizeBytes: this.#stored - this.#entryStart,
          checksum: this.#hasher.digest(),
          rawSizeBytes: bytes.length,
        });
        this.#entry++;
        this.#pos = 0;
        this.#entryStart = this.#stored;
        this.#hasher = createHasher();
        continue;
      }
      const raw = bytes.subarray(this.#pos, this.#pos + this.chunkBytes);
      this.#pos += raw.length;
      const stored = this.compression === "lz4" ? encodeLz4Frame(raw) : raw;
      this.#hasher.update(stored);
      this.#stored += stored.length;
      this.onBytes?.(raw.length);
      return stored;
    }
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
  let stream: AsyncIterable<Uint8Array> & { destroy?: () => void };
  if (entry.sizeBytes === 0) {
    // Nothing stored: no read (a zero-length range is not portable across backends).
    stream = (async function* () {})();
  } else {
    try {
      stream = (await storage.getStream(key, {
        ...(options.signal ? { signal: options.signal } : {}),
        range: { start: entry.offset, end: entry.offset + entry.sizeBytes },
      })) as Readable & AsyncIterable<Uint8Array>;
    } catch (error) {
      const e = RuntimeError.from(error);
      if (e.code === Code.NotFound) throw lost("is missing", e);
      if (e.code === Code.OutOfRange)
        throw lost(`is truncated: it ends before byte ${entry.offset}`, e);
      throw e;
    }
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
    for await (const chunk of stream) {
      if (crc.bytes + chunk.length > entry.sizeBytes) {
        throw lost(`returned more than the ${entry.sizeBytes} bytes its manifest records`);
      }
      crc.update(chunk);
      if (decoder === undefined) acceptRaw(chunk);
      else if (out !== undefined) for (const raw of decoder.push(chunk)) acceptRaw(raw);
      options.onBytes?.(chunk.length);
    }
  } catch (error) {
    stream.destroy?.();
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
