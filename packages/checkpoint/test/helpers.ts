import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CallOptions } from "@strata/runtime-core";
import type { ObjectInfo, PutBody, PutOptions, StorageBackend } from "@strata/storage";

/** Deterministic pseudo-random bytes (so failures reproduce). */
export function patternBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A temp folder removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), "strata-ckpt-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Wraps a backend: every put of a data object (not a manifest) waits until `release()`; put
 * honours the abort signal while waiting. Records the order of deletes.
 */
export class GatedStorage implements StorageBackend {
  readonly deletes: string[] = [];
  readonly puts: string[] = [];
  /** Puts and deletes in the order they happened: `put <key>` / `delete <key>`. */
  readonly ops: string[] = [];
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  waiting = 0;
  #onWaiting: (() => void)[] = [];

  constructor(readonly inner: StorageBackend) {}

  get uri(): string {
    return this.inner.uri;
  }

  /** Makes data puts wait until {@link release}. */
  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  /** Resolves once a put is waiting at the gate. */
  whenWaiting(): Promise<void> {
    if (this.waiting > 0) return Promise.resolve();
    return new Promise((resolve) => this.#onWaiting.push(resolve));
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    const gate = this.#gate;
    if (gate !== undefined && !key.endsWith("MANIFEST.json") && !key.endsWith("LATEST")) {
      this.waiting++;
      for (const f of this.#onWaiting.splice(0)) f();
      try {
        await new Promise<void>((resolve, reject) => {
          const signal = options.signal;
          if (signal?.aborted) {
            reject(signal.reason);
            return;
          }
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
          gate.then(resolve);
        });
      } finally {
        this.waiting--;
      }
    }
    this.puts.push(key);
    this.ops.push(`put ${key}`);
    return this.inner.put(key, body, options);
  }

  get: StorageBackend["get"] = (key, options) => this.inner.get(key, options);
  getStream: StorageBackend["getStream"] = (key, options) => this.inner.getStream(key, options);
  stat: StorageBackend["stat"] = (key, options) => this.inner.stat(key, options);
  exists: StorageBackend["exists"] = (key, options) => this.inner.exists(key, options);
  list: StorageBackend["list"] = (prefix, options) => this.inner.list(prefix, options);

  async delete(key: string, options?: CallOptions): Promise<void> {
    this.deletes.push(key);
    this.ops.push(`delete ${key}`);
    return this.inner.delete(key, options);
  }

  async deleteMany(keys: readonly string[], options?: CallOptions): Promise<void> {
    this.deletes.push(...keys);
    this.ops.push(...keys.map((key) => `delete ${key}`));
    return this.inner.deleteMany(keys, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The rank manifests under `prefix` (`.../rank-NNNNN/<attempt>/MANIFEST.json`). */
export async function rankManifestKeys(storage: StorageBackend, prefix: string): Promise<string[]> {
  return (await keysOf(storage, prefix)).filter((k) =>
    /\/rank-\d{5}\/[^/]+\/MANIFEST\.json$/.test(k),
  );
}

/** Every key under `prefix`. */
export async function keysOf(storage: StorageBackend, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of storage.list(prefix)) keys.push(info.key);
  return keys;
}
