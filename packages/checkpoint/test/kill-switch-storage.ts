import type { Readable } from "node:stream";
import type { CallOptions } from "@strata/runtime-core";
import { Code, RuntimeError } from "@strata/runtime-core";
import type {
  GetOptions,
  ListOptions,
  ObjectInfo,
  PutBody,
  PutOptions,
  StorageBackend,
} from "@strata/storage";

/**
 * A storage that dies like a killed process: the first `allowedWrites` writes (puts and deletes)
 * go through, and from the next one on every call fails (reads too) and nothing more reaches the
 * inner storage, not even the clean-up a failing save would try. Share one between the managers
 * of a simulated job to kill all its ranks at the same moment.
 */
export class KillSwitchStorage implements StorageBackend {
  writes = 0;
  killed = false;

  constructor(
    readonly inner: StorageBackend,
    readonly allowedWrites: number = Number.POSITIVE_INFINITY,
  ) {}

  get uri(): string {
    return this.inner.uri;
  }

  #check(): void {
    if (this.killed) throw killedError();
  }

  #write(): void {
    this.#check();
    if (this.writes >= this.allowedWrites) {
      this.killed = true;
      throw killedError();
    }
    this.writes++;
  }

  async put(key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo> {
    this.#write();
    return this.inner.put(key, body, options);
  }

  async delete(key: string, options?: CallOptions): Promise<void> {
    this.#write();
    return this.inner.delete(key, options);
  }

  async deleteMany(keys: readonly string[], options?: CallOptions): Promise<void> {
    if (keys.length === 0) return;
    this.#write();
    return this.inner.deleteMany(keys, options);
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array> {
    this.#check();
    return this.inner.get(key, options);
  }

  async getStream(key: string, options?: GetOptions): Promise<Readable> {
    this.#check();
    return this.inner.getStream(key, options);
  }

  async stat(key: string, options?: CallOptions): Promise<ObjectInfo | undefined> {
    this.#check();
    return this.inner.stat(key, options);
  }

  async exists(key: string, options?: CallOptions): Promise<boolean> {
    this.#check();
    return this.inner.exists(key, options);
  }

  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    this.#check();
    for await (const info of this.inner.list(prefix, options)) {
      this.#check();
      yield info;
    }
  }

  async close(): Promise<void> {}
}

function killedError(): RuntimeError {
  // Not a retryable code: retries would only meet the same dead process.
  return new RuntimeError("the process was killed (simulated)", { code: Code.Internal });
}
