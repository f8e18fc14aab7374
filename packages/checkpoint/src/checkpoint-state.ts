import { Code, RuntimeError } from "@strata/runtime-core";
import { MAX_STEP } from "./layout.js";
import type { Dtype } from "./manifest.js";

/** A buffer to save: a Buffer, a Uint8Array or any other typed array (its bytes are saved). */
export type StateBuffer =
  | Uint8Array
  | Uint8ClampedArray
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A training state to save. */
export interface CheckpointState {
  /** The training step, a non-negative integer below 10^12. Identifies the checkpoint. */
  step: number;
  /** The epoch, a non-negative integer. Default 0. */
  epoch?: number;
  /** Named buffers (model weights, optimizer state, RNG state...). Names must be unique and non-empty. */
  buffers: Readonly<Record<string, StateBuffer>>;
  /** The data loader's position (opaque JSON, e.g. data-shard's epoch position). Default null. */
  dataPosition?: unknown;
  /** Any other JSON metadata (learning rate, config hash). Default `{}`. */
  metadata?: Readonly<Record<string, unknown>>;
}

/** One buffer after the snapshot: a private copy the background writer owns. */
export interface SnapshotBuffer {
  name: string;
  bytes: Uint8Array;
  dtype: Dtype;
}

/** The state after the snapshot: nothing in it aliases the caller's memory. */
export interface StateSnapshot {
  step: number;
  epoch: number;
  buffers: SnapshotBuffer[];
  rawSizeBytes: number;
  dataPosition: unknown;
  metadata: Record<string, unknown>;
}

const MAX_NAME_LENGTH = 512;

/**
 * Validates `state` and copies it: every buffer is copied once (one `memcpy` per buffer, the
 * only work `save` does on the caller's time), and the JSON parts are round-tripped through
 * `JSON.stringify`, so the caller may change or reuse all of it as soon as this returns.
 */
export function snapshotState(state: CheckpointState): StateSnapshot {
  const checked = validateState(state);
  let rawSizeBytes = 0;
  const buffers = checked.views.map(({ name, value, dtype }) => {
    const source = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    rawSizeBytes += source.length;
    return { name, bytes: copyBytes(source), dtype };
  });
  return {
    step: checked.step,
    epoch: checked.epoch,
    buffers,
    rawSizeBytes,
    dataPosition: checked.dataPosition,
    metadata: checked.metadata,
  };
}

/**
 * Checks `state` without copying any buffer (the JSON parts are cloned, which also proves they
 * serialise). `InvalidArgument` naming the field on any defect.
 */
export function validateState(state: CheckpointState): {
  step: number;
  epoch: number;
  views: { name: string; value: StateBuffer; dtype: Dtype }[];
  dataPosition: unknown;
  metadata: Record<string, unknown>;
} {
  if (typeof state !== "object" || state === null) fail("state", "must be an object");
  const step = state.step;
  if (!Number.isSafeInteger(step) || step < 0 || step > MAX_STEP) {
    fail("step", `must be an integer in 0..${MAX_STEP}, got ${String(step)}`);
  }
  const epoch = state.epoch ?? 0;
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    fail("epoch", `must be a non-negative integer, got ${String(epoch)}`);
  }
  if (typeof state.buffers !== "object" || state.buffers === null) {
    fail("buffers", "must be an object of named buffers");
  }
  const entries = Object.entries(state.buffers);
  if (entries.length === 0) fail("buffers", "must hold at least one buffer");
  const views = entries.map(([name, value]) => {
    if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
      fail(`buffers[${JSON.stringify(name)}]`, `name must be 1-${MAX_NAME_LENGTH} characters`);
    }
    const dtype = dtypeOf(value);
    if (dtype === undefined) {
      fail(`buffers[${JSON.stringify(name)}]`, "must be a Buffer, Uint8Array or typed array");
    }
    return { name, value: value as StateBuffer, dtype };
  });
  const dataPosition = cloneJson(state.dataPosition ?? null, "dataPosition");
  const metadata = cloneJson(state.metadata ?? {}, "metadata");
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    fail("metadata", "must be a JSON object");
  }
  return { step, epoch, views, dataPosition, metadata: metadata as Record<string, unknown> };
}

/** One copy of `source` into fresh, uninitialised memory (no zero-fill first). */
export function copyBytes(source: Uint8Array): Uint8Array {
  const copy = Buffer.allocUnsafeSlow(source.length);
  copy.set(source);
  return copy;
}

function dtypeOf(value: unknown): Dtype | undefined {
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? "bytes" : "uint8";
  if (value instanceof Int8Array) return "int8";
  if (value instanceof Uint8ClampedArray) return "uint8clamped";
  if (value instanceof Uint16Array) return "uint16";
  if (value instanceof Int16Array) return "int16";
  if (value instanceof Uint32Array) return "uint32";
  if (value instanceof Int32Array) return "int32";
  if (value instanceof Float32Array) return "float32";
  if (value instanceof Float64Array) return "float64";
  if (value instanceof BigInt64Array) return "bigint64";
  if (value instanceof BigUint64Array) return "biguint64";
  return undefined;
}

function cloneJson(value: unknown, field: string): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    fail(field, `must be JSON-serialisable (${(error as Error).message})`);
  }
  if (text === undefined) fail(field, "must be JSON-serialisable");
  return JSON.parse(text);
}

function fail(field: string, why: string): never {
  throw new RuntimeError(`invalid checkpoint state: ${field} ${why}`, {
    code: Code.InvalidArgument,
    details: { field },
  });
}

/**
 * Views loaded bytes as the typed array they were saved from (`dtype` from the manifest). Copies
 * only when the bytes are not aligned for the element type.
 */
export function toTypedArray(bytes: Uint8Array, dtype: Dtype): StateBuffer {
  const make = <T>(ctor: {
    new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
    BYTES_PER_ELEMENT: number;
  }): T => {
    const size = ctor.BYTES_PER_ELEMENT;
    if (bytes.length % size !== 0) {
      throw new RuntimeError(`${bytes.length} bytes are not a whole number of ${dtype} elements`, {
        code: Code.InvalidArgument,
      });
    }
    const aligned = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
    return new ctor(aligned.buffer, aligned.byteOffset, aligned.length / size);
  };
  switch (dtype) {
    case "bytes":
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    case "uint8":
      return bytes;
    case "int8":
      return make(Int8Array);
    case "uint8clamped":
      return make(Uint8ClampedArray);
    case "uint16":
      return make(Uint16Array);
    case "int16":
      return make(Int16Array);
    case "uint32":
      return make(Uint32Array);
    case "int32":
      return make(Int32Array);
    case "float32":
      return make(Float32Array);
    case "float64":
      return make(Float64Array);
    case "bigint64":
      return make(BigInt64Array);
    case "biguint64":
      return make(BigUint64Array);
  }
}
