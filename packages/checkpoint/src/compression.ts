import { Code, RuntimeError } from "@strata/runtime-core";
import { compressSync, uncompressSync } from "lz4-napi";
import { toBuffer } from "./checksum.js";

/**
 * How a checkpoint object is stored. `none` keeps the bytes as they are; `lz4` stores a sequence
 * of LZ4 frames (`lz4-napi`, a prebuilt napi-rs binding of lz4_flex; about 4 GB/s per core here).
 * Each frame is `[u32 LE frame length][u32 LE raw length][LZ4 block]`, one per persist chunk, so
 * compression and decompression stream with bounded memory.
 */
export type Compression = "none" | "lz4";

/** Every compression this package writes and reads. */
export const COMPRESSIONS: readonly Compression[] = ["none", "lz4"];

/** Largest raw size of one LZ4 frame we accept when reading (guards against corrupt lengths). */
export const MAX_FRAME_RAW_BYTES = 64 * 1024 * 1024;

/** Compresses one chunk into one self-delimiting frame. */
export function encodeLz4Frame(chunk: Uint8Array): Uint8Array {
  // lz4-napi prepends the raw length (u32 LE) to the block; we prepend the frame length.
  const block = compressSync(toBuffer(chunk));
  const frame = Buffer.allocUnsafe(4 + block.length);
  frame.writeUInt32LE(block.length, 0);
  block.copy(frame, 4);
  return frame;
}

/**
 * Turns a stream of stored lz4 bytes back into raw bytes, frame by frame. `name` is used in
 * errors. Throws `DataLoss` on a malformed frame.
 */
export class Lz4FrameDecoder {
  readonly #name: string;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(name: string) {
    this.#name = name;
  }

  /** Feeds stored bytes; returns the raw chunks completed by them. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#pending.push(toBuffer(chunk));
    this.#pendingBytes += chunk.length;
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.#pendingBytes < 4) break;
      const head = this.#peek(4);
      const frameBytes = head.readUInt32LE(0);
      if (frameBytes < 4 || frameBytes > MAX_FRAME_RAW_BYTES + (MAX_FRAME_RAW_BYTES >>> 7) + 64) {
        throw this.#corrupt(`frame length ${frameBytes} is impossible`);
      }
      if (this.#pendingBytes < 4 + frameBytes) break;
      const frame = this.#take(4 + frameBytes).subarray(4);
      const rawBytes = frame.readUInt32LE(0);
      if (rawBytes > MAX_FRAME_RAW_BYTES) throw this.#corrupt(`frame raw length ${rawBytes}`);
      let raw: Buffer;
      try {
        raw = uncompressSync(frame);
      } catch (error) {
        throw this.#corrupt("an LZ4 block does not decode", error);
      }
      if (raw.length !== rawBytes) throw this.#corrupt("an LZ4 block decodes to the wrong size");
      out.push(raw);
    }
    return out;
  }

  /** Checks that the stream ended on a frame boundary. */
  end(): void {
    if (this.#pendingBytes !== 0) {
      throw this.#corrupt(`${this.#pendingBytes} trailing bytes after the last frame`);
    }
  }

  #peek(n: number): Buffer {
    const first = this.#pending[0];
    if (first !== undefined && first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.#pending, this.#pendingBytes).subarray(0, n);
  }

  #take(n: number): Buffer {
    const all =
      this.#pending.length === 1 && this.#pending[0] !== undefined
        ? this.#pending[0]
        : Buffer.concat(this.#pending, this.#pendingBytes);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#pending = rest.length > 0 ? [rest] : [];
    this.#pendingBytes = rest.length;
    return taken;
  }

  #corrupt(why: string, cause?: unknown): RuntimeError {
    return new RuntimeError(`checkpoint object ${this.#name} is corrupt: ${why}`, {
      code: Code.DataLoss,
      cause,
      details: { object: this.#name },
    });
  }
}
