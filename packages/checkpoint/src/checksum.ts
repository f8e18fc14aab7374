import { crc32c } from "@node-rs/crc32";
import { xxh3 } from "@node-rs/xxhash";

/**
 * The checksum this package writes: XXH3-64 (`@node-rs/xxhash`, a napi-rs binding of the
 * reference xxHash), as 16 lower-case hex digits. We measured it about 3× faster than CRC32C
 * (`@node-rs/crc32`) on this hardware, and the persist pipeline shares the CPU with the writes,
 * so the cheaper hash is the one that keeps up with disk. CRC32C (8 hex digits) is still read, so
 * manifests may name either.
 */
export const CHECKSUM_ALGORITHM = "xxh3-64";

/** The checksum algorithms this package can verify. */
export const CHECKSUM_ALGORITHMS = ["xxh3-64", "crc32c"] as const;

/** The name of a checksum algorithm this package can verify. */
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** An incremental checksum: feed chunks in order with `update`, read the result with `digest`. */
export interface Hasher {
  update(chunk: Uint8Array): this;
  digest(): string;
  /** How many bytes were fed, in total. */
  readonly bytes: number;
}

/** A fresh incremental hasher for `algorithm` (default: the one this package writes). */
export function createHasher(algorithm: ChecksumAlgorithm = CHECKSUM_ALGORITHM): Hasher {
  return algorithm === "crc32c" ? new Crc32cHasher() : new Xxh3Hasher();
}

class Xxh3Hasher implements Hasher {
  readonly #state = xxh3.Xxh3.withSeed(0n);
  #bytes = 0;

  update(chunk: Uint8Array): this {
    this.#state.update(toBuffer(chunk));
    this.#bytes += chunk.length;
    return this;
  }

  digest(): string {
    return this.#state.digest().toString(16).padStart(16, "0");
  }

  get bytes(): number {
    return this.#bytes;
  }
}

class Crc32cHasher implements Hasher {
  #value = 0;
  #bytes = 0;

  update(chunk: Uint8Array): this {
    this.#value = crc32c(toBuffer(chunk), this.#value);
    this.#bytes += chunk.length;
    return this;
  }

  digest(): string {
    return (this.#value >>> 0).toString(16).padStart(8, "0");
  }

  get bytes(): number {
    return this.#bytes;
  }
}

/** The checksum (default algorithm) of `bytes` or of a string's UTF-8 bytes. */
export function checksumOf(bytes: Uint8Array | string): string {
  const buffer = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : toBuffer(bytes);
  return createHasher().update(buffer).digest();
}

/** A Buffer view over the same memory (no copy); the native bindings want a Buffer. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
