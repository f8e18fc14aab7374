import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { Code } from "@strata/runtime-core";
import type { ObjectInfo, StorageBackend } from "../src/index.js";

/** How the contract suite gets a backend: a fresh, empty one per test. */
export interface ContractHarness {
  /** Returns a new, empty backend (a new temp folder, a new S3 prefix, ...). */
  create(): Promise<StorageBackend>;
  /**
   * Whether racing create-only puts have exactly one winner. Default true; false only for an S3
   * server without conditional writes, where the documented fallback is HEAD-then-PUT. The
   * suite then checks the weaker guarantee: at least one wins and the object is one writer's.
   */
  createOnlyIsRaceFree?: boolean;
  /**
   * Whether `list` returns keys in UTF-8 byte order even where `/` sorts after other
   * punctuation ("a-b" before "a/a"). Default true (memory, local, AWS S3, MinIO); false for
   * s3rver, which walks its folders. The suite then checks that order only for keys without
   * such punctuation.
   */
  strictListOrder?: boolean;
}

/** Asserts that `promise` rejects with a RuntimeError of `code`. */
export async function expectCode(promise: Promise<unknown>, code: Code): Promise<void> {
  await expect(promise).rejects.toMatchObject({ name: "RuntimeError", code });
}

/** Collects a list into an array of keys. */
export async function listKeys(
  storage: StorageBackend,
  prefix: string,
  pageSize?: number,
): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of storage.list(prefix, pageSize === undefined ? {} : { pageSize })) {
    keys.push(info.key);
  }
  return keys;
}

/** Reads a whole stream into one buffer. */
export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Splits bytes into a stream of `chunkBytes`-sized chunks. */
export function chunked(bytes: Uint8Array, chunkBytes: number): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
    chunks.push(Buffer.from(bytes.subarray(offset, offset + chunkBytes)));
  }
  return Readable.from(chunks);
}

/** A body that yields `first` and then never produces another chunk. */
async function* stalledAfter(first: Uint8Array): AsyncGenerator<Uint8Array> {
  yield first;
  await new Promise<never>(() => undefined);
}

const text = (value: string) => Buffer.from(value, "utf8");
const str = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");

/**
 * The behaviour every {@link StorageBackend} must have. Run unchanged against memory, local disk
 * and S3 (s3rver), so a checkpoint tested against one backend behaves the same on the others.
 */
export function describeStorageContract(name: string, harness: ContractHarness): void {
  describe(`StorageBackend contract: ${name}`, () => {
    let storage: StorageBackend;
    beforeEach(async () => {
      storage = await harness.create();
    });
    afterEach(async () => {
      await storage.close();
    });

    describe("put and get", () => {
      it("round-trips bytes and reports the stored size", async () => {
        const info = await storage.put("a/b/hello.txt", text("hello world"));
        expect(info).toMatchObject({ key: "a/b/hello.txt", sizeBytes: 11 });
        expect(str(await storage.get("a/b/hello.txt"))).toBe("hello world");
      });

      it("overwrites an existing object", async () => {
        await storage.put("k", text("first version"));
        await storage.put("k", text("second"));
        expect(str(await storage.get("k"))).toBe("second");
        expect((await storage.stat("k"))?.sizeBytes).toBe(6);
      });

      it("stores an empty object", async () => {
        await storage.put("empty", new Uint8Array(0));
        expect((await storage.get("empty")).length).toBe(0);
        expect((await storage.stat("empty"))?.sizeBytes).toBe(0);
        expect(await listKeys(storage, "")).toEqual(["empty"]);
      });

      it("puts a Node Readable and an async generator, reporting progress", async () => {
        const bytes = randomBytes(300_000);
        const progress: number[] = [];
        await storage.put("s/readable", chunked(bytes, 65_536), {
          onProgress: (n) => progress.push(n),
        });
        expect(Buffer.from(await storage.get("s/readable")).equals(bytes)).toBe(true);
        expect(progress.at(-1)).toBe(bytes.length);
        expect([...progress].sort((a, b) => a - b)).toEqual(progress);

        async function* generate() {
          yield text("abc");
          yield text("");
          yield text("def");
        }
        await storage.put("s/generator", generate(), { sizeHint: 6 });
        expect(str(await storage.get("s/generator"))).toBe("abcdef");
      });

      it("keeps the caller's buffer untouched and returns independent copies", async () => {
        const bytes = text("immutable");
        await storage.put("copy", bytes);
        bytes.fill(0);
        const first = await storage.get("copy");
        first.fill(1);
        expect(str(await storage.get("copy"))).toBe("immutable");
      });

      it("round-trips a non-ASCII key", async () => {
        await storage.put("données/ключ-1", text("x"));
        expect(str(await storage.get("données/ключ-1"))).toBe("x");
        expect(await listKeys(storage, "données/")).toEqual(["données/ключ-1"]);
      });

      it("fails with NotFound for a missing object", async () => {
        await expectCode(storage.get("missing"), Code.NotFound);
        await expectCode(storage.getStream("missing"), Code.NotFound);
        await storage.put("dir/file", text("x"));
        await expectCode(storage.get("dir"), Code.NotFound);
        await expectCode(storage.get("dir/file/below"), Code.NotFound);
      });
    });

    describe("byte ranges and streams", () => {
      const digits = "0123456789";
      beforeEach(async () => {
        await storage.put("r", text(digits));
      });

      it("reads a range, an open-ended range and a range clamped at the end", async () => {
        expect(str(await storage.get("r", { range: { start: 2, end: 5 } }))).toBe("234");
        expect(str(await storage.get("r", { range: { start: 7 } }))).toBe("789");
        expect(str(await storage.get("r", { range: { start: 8, end: 100 } }))).toBe("89");
        expect(str(await storage.get("r", { range: { start: 0, end: 1 } }))).toBe("0");
      });

      it("returns nothing for an empty range and fails past the end", async () => {
        expect((await storage.get("r", { range: { start: 4, end: 4 } })).length).toBe(0);
        await expectCode(storage.get("r", { range: { start: 11 } }), Code.OutOfRange);
        await expectCode(storage.get("r", { range: { start: 10 } }), Code.OutOfRange);
        await expectCode(storage.get("r", { range: { start: 5, end: 2 } }), Code.InvalidArgument);
        await expectCode(storage.get("r", { range: { start: -1 } }), Code.InvalidArgument);
      });

      it("streams a whole object and a range", async () => {
        expect(str(await readAll(await storage.getStream("r")))).toBe(digits);
        expect(
          str(await readAll(await storage.getStream("r", { range: { start: 3, end: 6 } }))),
        ).toBe("345");
        expect(
          (await readAll(await storage.getStream("r", { range: { start: 2, end: 2 } }))).length,
        ).toBe(0);
      });

      it("ends a stream with Canceled when the signal aborts while reading", async () => {
        const big = randomBytes(6 * 1024 * 1024);
        await storage.put("big-stream", big);
        const controller = new AbortController();
        const stream = await storage.getStream("big-stream", { signal: controller.signal });
        controller.abort();
        await expectCode(readAll(stream), Code.Canceled);
      });
    });

    describe("stat and exists", () => {
      it("describes an object and says whether it exists", async () => {
        const before = Date.now();
        await storage.put("x/y", text("12345"));
        const info = (await storage.stat("x/y")) as ObjectInfo;
        expect(info.key).toBe("x/y");
        expect(info.sizeBytes).toBe(5);
        expect(info.modifiedAtMs).toBeGreaterThan(before - 60_000);
        expect(await storage.exists("x/y")).toBe(true);
        expect(await storage.exists("x")).toBe(false);
        expect(await storage.exists("x/z")).toBe(false);
        expect(await storage.stat("nope")).toBeUndefined();
      });

      it("changes the etag when the object is replaced", async () => {
        await storage.put("e", text("one"));
        const first = (await storage.stat("e"))?.etag;
        await storage.put("e", text("two!"));
        const second = (await storage.stat("e"))?.etag;
        expect(first).toBeDefined();
        expect(second).not.toBe(first);
      });
    });

    describe("list", () => {
      it("lists by plain string prefix, in byte order", async () => {
        const ordered = ["a/a", "a/b", "a/b2", "a/c/d", "ab", "b/x"];
        for (const key of [...ordered].reverse()) await storage.put(key, text(key));
        expect(await listKeys(storage, "")).toEqual(ordered);
        expect(await listKeys(storage, "a/b")).toEqual(["a/b", "a/b2"]);
        expect(await listKeys(storage, "a/")).toEqual(["a/a", "a/b", "a/b2", "a/c/d"]);
        expect(await listKeys(storage, "a")).toEqual(["a/a", "a/b", "a/b2", "a/c/d", "ab"]);
        expect(await listKeys(storage, "a/c/")).toEqual(["a/c/d"]);
        expect(await listKeys(storage, "zzz")).toEqual([]);
        expect(await listKeys(storage, "a/c/d/")).toEqual([]);
        if (!(harness.strictListOrder ?? true)) return;
        await storage.deleteMany(ordered);
        const keys = ["a/b", "a-b", "a/c/d", "ab", "a/b2", "b/x", "a/a"];
        for (const key of keys) await storage.put(key, text(key));
        expect(await listKeys(storage, "")).toEqual([
          "a-b",
          "a/a",
          "a/b",
          "a/b2",
          "a/c/d",
          "ab",
          "b/x",
        ]);
        expect(await listKeys(storage, "a/")).toEqual(["a/a", "a/b", "a/b2", "a/c/d"]);
        expect(await listKeys(storage, "a/b")).toEqual(["a/b", "a/b2"]);
        expect(await listKeys(storage, "a")).toEqual(["a-b", "a/a", "a/b", "a/b2", "a/c/d", "ab"]);
        expect(await listKeys(storage, "a/c/")).toEqual(["a/c/d"]);
        expect(await listKeys(storage, "zzz")).toEqual([]);
        expect(await listKeys(storage, "a/c/d/")).toEqual([]);
      });

      it("reports sizes while listing", async () => {
        await storage.put("sz/one", text("1"));
        await storage.put("sz/three", text("333"));
        const infos: ObjectInfo[] = [];
        for await (const info of storage.list("sz/")) infos.push(info);
        expect(infos.map((i) => [i.key, i.sizeBytes])).toEqual([
          ["sz/one", 1],
          ["sz/three", 3],
        ]);
      });

      it("pages through more objects than one page holds", async () => {
        const keys = Array.from({ length: 7 }, (_, i) => `page/obj-${i}`);
        await Promise.all(keys.map((key) => storage.put(key, text(key))));
        await storage.put("pagf", text("outside"));
        expect(await listKeys(storage, "page/", 2)).toEqual(keys);
        expect(await listKeys(storage, "", 3)).toEqual([...keys, "pagf"]);
      });

      it("rejects an invalid prefix", async () => {
        await expect(async () => {
          for await (const _ of storage.list("../")) break;
        }).rejects.toMatchObject({ code: Code.InvalidArgument });
      });

      it("ends with Canceled when the signal aborts", async () => {
        await storage.put("c/1", text("1"));
        const controller = new AbortController();
        controller.abort();
        await expect(async () => {
          for await (const _ of storage.list("c/", { signal: controller.signal })) break;
        }).rejects.toMatchObject({ code: Code.Canceled });
      });
    });

    describe("delete", () => {
      it("deletes one object, and deleting a missing one is not an error", async () => {
        await storage.put("d/1", text("1"));
        await storage.put("d/2", text("2"));
        await storage.delete("d/1");
        expect(await storage.exists("d/1")).toBe(false);
        await storage.delete("d/1");
        await storage.delete("never/was");
        expect(await listKeys(storage, "")).toEqual(["d/2"]);
      });

      it("deletes many objects, ignoring missing ones", async () => {
        const keys = Array.from({ length: 25 }, (_, i) => `many/${String(i).padStart(2, "0")}`);
        await Promise.all(keys.map((key) => storage.put(key, text(key))));
        await storage.put("keep", text("k"));
        await storage.deleteMany([...keys, "many/missing"]);
        expect(await listKeys(storage, "")).toEqual(["keep"]);
        await storage.deleteMany([]);
      });

      it("can put again under a folder that a delete emptied", async () => {
        await storage.put("deep/er/x", text("1"));
        await storage.delete("deep/er/x");
        expect(await listKeys(storage, "deep")).toEqual([]);
        await storage.put("deep/er/y", text("2"));
        expect(await listKeys(storage, "deep")).toEqual(["deep/er/y"]);
      });
    });

    describe("create-only put", () => {
      it("creates once and then fails with AlreadyExists, keeping the first object", async () => {
        await storage.put("manifest", text("first"), { createOnly: true });
        await expectCode(
          storage.put("manifest", text("second"), { createOnly: true }),
          Code.AlreadyExists,
        );
        expect(str(await storage.get("manifest"))).toBe("first");
      });

      it("fails with AlreadyExists for a streamed body too", async () => {
        await storage.put("m2", text("first"));
        await expectCode(
          storage.put("m2", chunked(text("second"), 2), { createOnly: true }),
          Code.AlreadyExists,
        );
        expect(str(await storage.get("m2"))).toBe("first");
      });

      const raceFree = harness.createOnlyIsRaceFree ?? true;
      const raceTitle = raceFree
        ? "lets exactly one of many racing writers win"
        : "lets at least one racing writer win and keeps one writer's whole object (emulated)";
      it(raceTitle, async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) =>
            storage.put("race", text(`writer-${i}`), { createOnly: true }),
          ),
        );
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r) => r.status === "rejected");
        for (const r of lost)
          expect((r as PromiseRejectedResult).reason).toMatchObject({ code: Code.AlreadyExists });
        const winners = results.flatMap((r, i) =>
          r.status === "fulfilled" ? [`writer-${i}`] : [],
        );
        if (raceFree) {
          expect(won).toHaveLength(1);
          expect(str(await storage.get("race"))).toBe(winners[0]);
        } else {
          expect(won.length).toBeGreaterThanOrEqual(1);
          expect(winners).toContain(str(await storage.get("race")));
        }
      });
    });

    describe("invalid keys", () => {
      const bad = [
        "",
        "../escape",
        "a/../../b",
        "/abs",
        "a\\b",
        "a\u0000b",
        "a\u001fb",
        "a\u007fb",
        "a\u0080b",
        "a\u009bb",
        "a\u009fb",
        "a//b",
        "a/",
        ".",
        "x/.strata-tmp-1",
      ];
      it.each(bad)("rejects %j with InvalidArgument before any I/O", async (key) => {
        await expectCode(storage.put(key, text("x")), Code.InvalidArgument);
        await expectCode(storage.get(key), Code.InvalidArgument);
        await expectCode(storage.getStream(key), Code.InvalidArgument);
        await expectCode(storage.stat(key), Code.InvalidArgument);
        await expectCode(storage.exists(key), Code.InvalidArgument);
        await expectCode(storage.delete(key), Code.InvalidArgument);
        await expectCode(storage.deleteMany(["ok", key]), Code.InvalidArgument);
      });
    });

    describe("cancellation and deadlines", () => {
      it("fails with Canceled when the signal is already aborted", async () => {
        const controller = new AbortController();
        controller.abort();
        await expectCode(storage.put("c", text("x"), { signal: controller.signal }), Code.Canceled);
        expect(await storage.exists("c")).toBe(false);
        await storage.put("c", text("x"));
        await expectCode(storage.get("c", { signal: controller.signal }), Code.Canceled);
      });

      it("aborts a streamed put midway and leaves no object", async () => {
        await storage.put("half", text("old"));
        const controller = new AbortController();
        const put = storage.put("half", stalledAfter(randomBytes(1024)), {
          signal: controller.signal,
        });
        setImmediate(() => controller.abort());
        await expectCode(put, Code.Canceled);
        expect(str(await storage.get("half"))).toBe("old");
        await expectCode(
          storage.put("half-new", stalledAfter(randomBytes(1024)), {
            signal: AbortSignal.timeout(50),
          }),
          Code.DeadlineExceeded,
        );
        expect(await listKeys(storage, "")).toEqual(["half"]);
      });

      it("fails with DeadlineExceeded when the timeout passes while the body stalls", async () => {
        await expectCode(
          storage.put("slow", stalledAfter(randomBytes(2048)), { timeoutMs: 100 }),
          Code.DeadlineExceeded,
        );
        expect(await storage.exists("slow")).toBe(false);
        expect(await listKeys(storage, "")).toEqual([]);
      });
    });

    describe("large objects", () => {
      it("round-trips a 12 MiB streamed object byte-exact and reads ranges across parts", async () => {
        const bytes = randomBytes(12 * 1024 * 1024);
        let lastProgress = 0;
        const info = await storage.put("large/blob", chunked(bytes, 1024 * 1024), {
          sizeHint: bytes.length,
          onProgress: (n) => {
            lastProgress = n;
          },
        });
        expect(info.sizeBytes).toBe(bytes.length);
        expect(lastProgress).toBe(bytes.length);
        expect(Buffer.from(await storage.get("large/blob")).equals(bytes)).toBe(true);
        expect((await readAll(await storage.getStream("large/blob"))).equals(bytes)).toBe(true);
        const start = 5 * 1024 * 1024 - 10;
        const end = 10 * 1024 * 1024 + 10;
        const part = await storage.get("large/blob", { range: { start, end } });
        expect(Buffer.from(part).equals(bytes.subarray(start, end))).toBe(true);
        expect((await storage.stat("large/blob"))?.sizeBytes).toBe(bytes.length);
      });

      it("round-trips a 12 MiB buffer created only once", async () => {
        const bytes = randomBytes(12 * 1024 * 1024 + 3);
        await storage.put("large/buffer", bytes, { createOnly: true });
        await expectCode(
          storage.put("large/buffer", bytes, { createOnly: true }),
          Code.AlreadyExists,
        );
        expect(Buffer.from(await storage.get("large/buffer")).equals(bytes)).toBe(true);
      });
    });
  });
}
