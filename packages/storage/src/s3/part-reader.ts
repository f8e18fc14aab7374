/**
 * Cuts a stream of chunks into parts of a requested size. Parts that lie inside one chunk are
 * views (no copy); parts spanning chunks are copied once.
 *
 * @internal
 */
export class PartReader {
  readonly #source: AsyncIterator<Uint8Array>;
  readonly #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /** The next part of `sizeBytes` (shorter only at the end), or undefined when nothing is left. */
  async read(sizeBytes: number): Promise<Uint8Array | undefined> {
    while (this.#pendingBytes < sizeBytes && !this.#done) await this.#pull();
    if (this.#pendingBytes === 0) return undefined;
    const take = Math.min(sizeBytes, this.#pendingBytes);
    const first = this.#pending[0] as Uint8Array;
    let part: Uint8Array;
    if (first.length >= take) {
      part = first.subarray(0, take);
      if (first.length === take) this.#pending.shift();
      else this.#pending[0] = first.subarray(take);
    } else {
      part = new Uint8Array(take);
      let filled = 0;
      while (filled < take) {
        const chunk = this.#pending[0] as Uint8Array;
        const n = Math.min(chunk.length, take - filled);
        part.set(chunk.subarray(0, n), filled);
        filled += n;
        if (n === chunk.length) this.#pending.shift();
        else this.#pending[0] = chunk.subarray(n);
      }
    }
    this.#pendingBytes -= take;
    return part;
  }

  /** Puts bytes back in front, to be read again. */
  unshift(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#pending.unshift(bytes);
    this.#pendingBytes += bytes.length;
  }

  /** Whether the source is exhausted (reads ahead one chunk to find out). */
  async atEnd(): Promise<boolean> {
    while (this.#pendingBytes === 0 && !this.#done) await this.#pull();
    return this.#pendingBytes === 0;
  }

  async #pull(): Promise<void> {
    const result = await this.#source.next();
    if (result.done) {
      this.#done = true;
      return;
    }
    if (result.value.length > 0) {
      this.#pending.push(result.value);
      this.#pendingBytes += result.value.length;
    }
  }
}
