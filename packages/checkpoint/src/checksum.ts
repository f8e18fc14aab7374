import { crc32c } from "@node-rs/crc32";

/**
 * The checksum every checkpoint object and manifest carries: CRC32C (Castagnoli), the checksum
 * S3, GCS and ext4 use, computed with SIMD by `@node-rs/crc32` (several GB/s per core, well above
 * disk speed). Written as 8 lower-case hex digits.
 */
export const CHECKSUM_ALGORITHM = "crc32c";

/** The name of a checksum algorithm this package can verify. */
export type ChecksumAlgorithm = typeof CHECKSUM_ALGORITHM;

/** An incremental CRC32C: feed chunks in order with `update`, read the result with `digest`. */
export class Crc32c {
  #value = 0;
  #bytes = 0;

  /** Adds `chunk` to the running checksum. */
  update(chunk: Uint8Array): this {
    this.#value = crc32c(toBuffer(chunk), this.#value);
    this.#bytes += chunk.length;
    return this;
  }

  /** The checksum so far, as 8 hex digits. */
  digest(): string {
    return formatChecksum(this.#value);
  }

  /** How many bytes were fed, in total. */
  get bytes(): number {
    return this.#bytes;
  }
}

/** The CRC32C of `bytes`, as 8 hex digits. */
export function checksumOf(bytes: Uint8Array | string): string {
  const buffer = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : toBuffer(bytes);
  return formatChecksum(crc32c(buffer, 0));
}

function formatChecksum(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}

/** A Buffer view over the same memory (no copy); the native binding wants a Buffer. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
