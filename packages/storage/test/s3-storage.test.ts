import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { Code } from "@strata/runtime-core";
import { createS3Storage, S3Storage } from "../src/s3/index.js";
import { PartReader } from "../src/s3/part-reader.js";
import {
  choosePartSize,
  MAX_PARTS,
  maxUnknownSizeBytes,
  partSizeFor,
} from "../src/s3/part-size.js";
import { errorFromS3 } from "../src/s3/s3-error.js";
import { chunked, expectCode, readAll } from "./contract.js";

const MiB = 1024 * 1024;

/** A stand-in S3 client that records commands and answers from a script. */
function fakeClient(
  answer: (name: string, input: Record<string, unknown>, call: number) => unknown,
) {
  const calls: Array<{ name: string; input: Record<string, unknown> }> = [];
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = command.constructor.name.replace(/Command$/, "");
      calls.push({ name, input: command.input });
      const result = answer(name, command.input, calls.length);
      if (result instanceof Error) throw result;
      return result ?? {};
    },
    destroy() {},
  };
  return { client: client as unknown as S3Client, calls };
}

function s3Error(name: string, status: number): Error {
  return Object.assign(new Error(`${name} happened`), {
    name,
    $metadata: { httpStatusCode: status },
  });
}

describe("S3Storage with a native conditional-write server", () => {
  it("sends If-None-Match: * on PutObject and maps 412 to AlreadyExists", async () => {
    const stored = new Set<unknown>();
    const { client, calls } = fakeClient((name, input) => {
      if (name !== "PutObject") return {};
      if (input.IfNoneMatch === "*" && stored.has(input.Key))
        return s3Error("PreconditionFailed", 412);
      stored.add(input.Key);
      return { ETag: '"abc"' };
    });
    const storage = createS3Storage({ bucket: "bkt", client, conditionalWrites: "native" });
    await storage.put("m", Buffer.from("one"), { createOnly: true });
    expect(calls[0]).toMatchObject({ name: "PutObject", input: { Key: "m", IfNoneMatch: "*" } });
    await expectCode(
      storage.put("m", Buffer.from("two"), { createOnly: true }),
      Code.AlreadyExists,
    );
    await storage.put("m", Buffer.from("three"));
    expect(calls[2]?.input.IfNoneMatch).toBeUndefined();
  });

  it("sends If-None-Match: * on CompleteMultipartUpload, and aborts the upload when it fails", async () => {
    const { client, calls } = fakeClient((name, input) => {
      if (name === "CreateMultipartUpload") return { UploadId: "u1" };
      if (name === "UploadPart") return { ETag: `"etag-${String(input.PartNumber)}"` };
      if (name === "CompleteMultipartUpload") return s3Error("PreconditionFailed", 412);
      return {};
    });
    const storage = createS3Storage({
      bucket: "bkt",
      prefix: "p",
      client,
      conditionalWrites: "native",
    });
    await expectCode(
      storage.put("big", chunked(randomBytes(11 * MiB), MiB), { createOnly: true }),
      Code.AlreadyExists,
    );
    await storage.close();
    const complete = calls.find((c) => c.name === "CompleteMultipartUpload");
    expect(complete?.input).toMatchObject({ Key: "p/big", IfNoneMatch: "*", UploadId: "u1" });
    expect(complete?.input.MultipartUpload).toEqual({
      Parts: [
        { PartNumber: 1, ETag: '"etag-1"' },
        { PartNumber: 2, ETag: '"etag-2"' },
      ],
    });
    expect(calls.filter((c) => c.name === "UploadPart").map((c) => c.input.ContentLength)).toEqual([
      8 * MiB,
      3 * MiB,
    ]);
    expect(calls.at(-1)).toMatchObject({ name: "AbortMultipartUpload", input: { UploadId: "u1" } });
  });

  it("treats a 412 after a retried create-only put as success when the stored object is its own", async () => {
    const body = Buffer.from("payload");
    const md5 = "321c3cf486ed509164edec1e1981fec8"; // md5("payload")
    const { client, calls } = fakeClient((name, _input, call) => {
      if (name === "PutObject")
        return call === 1 ? s3Error("InternalError", 500) : s3Error("PreconditionFailed", 412);
      if (name === "HeadObject")
        return { ETag: `"${md5}"`, ContentLength: body.length, LastModified: new Date(0) };
      return {};
    });
    const storage = createS3Storage({
      bucket: "bkt",
      client,
      conditionalWrites: "native",
      backoff: { initialDelayMs: 1, maxDelayMs: 1 },
    });
    const info = await storage.put("k", body, { createOnly: true });
    expect(info).toMatchObject({ key: "k", sizeBytes: body.length, etag: md5 });
    expect(calls.map((c) => c.name)).toEqual(["PutObject", "PutObject", "HeadObject"]);
  });

  it("retries transient errors with backoff, but not permanent ones", async () => {
    let puts = 0;
    const { client } = fakeClient((name) => {
      if (name !== "PutObject") return {};
      puts++;
      if (puts <= 2)
        return Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
      if (puts === 3) return { ETag: '"x"' };
      return s3Error("AccessDenied", 403);
    });
    const storage = createS3Storage({
      bucket: "bkt",
      client,
      backoff: { initialDelayMs: 1, maxDelayMs: 2 },
    });
    await storage.put("a", Buffer.from("1"));
    expect(puts).toBe(3);
    await expectCode(storage.put("b", Buffer.from("2")), Code.PermissionDenied);
    expect(puts).toBe(4);
  });

  it("gives up with Unavailable after maxAttempts", async () => {
    let puts = 0;
    const { client } = fakeClient(() => {
      puts++;
      return s3Error("SlowDown", 503);
    });
    const storage = createS3Storage({
      bucket: "bkt",
      client,
      maxAttempts: 3,
      backoff: { initialDelayMs: 1 },
    });
    await expectCode(storage.put("a", Buffer.from("1")), Code.Unavailable);
    expect(puts).toBe(3);
  });

  it("falls back to single deletes when DeleteObjects is not implemented", async () => {
    const { client, calls } = fakeClient((name) =>
      name === "DeleteObjects" ? s3Error("NotImplemented", 501) : {},
    );
    const storage = createS3Storage({ bucket: "bkt", client });
    await storage.deleteMany(["a", "b", "a"]);
    expect(calls.map((c) => c.name).sort()).toEqual([
      "DeleteObject",
      "DeleteObject",
      "DeleteObjects",
    ]);
  });

  it("reads big objects in parallel ranges pinned to the first ETag, and fails with Aborted if it changes", async () => {
    const object = randomBytes(20 * MiB + 5);
    let replaced = false;
    const { client, calls } = fakeClient((name, input) => {
      if (name !== "GetObject") return {};
      const [, from, to] = /bytes=(\d+)-(\d+)/.exec(String(input.Range)) ?? [];
      const start = Number(from);
      const end = Math.min(Number(to) + 1, object.length);
      if (input.IfMatch !== undefined && (input.IfMatch !== '"v1"' || replaced)) {
        return s3Error("PreconditionFailed", 412);
      }
      return {
        Body: Readable.from([object.subarray(start, end)]),
        ContentLength: end - start,
        ContentRange: `bytes ${start}-${end - 1}/${object.length}`,
        ETag: '"v1"',
      };
    });
    const storage = createS3Storage({ bucket: "bkt", client });
    expect(Buffer.from(await storage.get("big")).equals(object)).toBe(true);
    const gets = calls.filter((c) => c.name === "GetObject");
    expect(gets.map((c) => c.input.Range)).toEqual([
      `bytes=0-${8 * MiB - 1}`,
      `bytes=${8 * MiB}-${16 * MiB - 1}`,
      `bytes=${16 * MiB}-${object.length - 1}`,
    ]);
    expect(gets.slice(1).every((c) => c.input.IfMatch === '"v1"')).toBe(true);
    expect((await readAll(await storage.getStream("big"))).equals(object)).toBe(true);
    replaced = true;
    await expectCode(storage.get("big"), Code.Aborted);
    await expectCode(readAll(await storage.getStream("big")), Code.Aborted);
  });

  it("reads the whole object when the server ignores the Range header", async () => {
    const object = randomBytes(9 * MiB);
    const { client } = fakeClient((name) =>
      name === "GetObject"
        ? { Body: Readable.from([object]), ContentLength: object.length, ETag: '"x"' }
        : {},
    );
    const storage = createS3Storage({ bucket: "bkt", client });
    expect(Buffer.from(await storage.get("k")).equals(object)).toBe(true);
    expect((await readAll(await storage.getStream("k"))).equals(object)).toBe(true);
  });

  it("fails calls after close, and close is idempotent", async () => {
    const { client } = fakeClient(() => ({}));
    const storage = new S3Storage({ bucket: "bkt", client });
    const first = storage.close();
    expect(storage.close()).toBe(first);
    await first;
    await expectCode(storage.get("k"), Code.FailedPrecondition);
  });

  it("validates its options", () => {
    expect(() => createS3Storage({ bucket: "ab" })).toThrow(/bucket/);
    expect(() => createS3Storage({ bucket: "bkt", partSizeBytes: MiB })).toThrow(/partSizeBytes/);
    expect(() => createS3Storage({ bucket: "bkt", queueSize: 0 })).toThrow(/queueSize/);
    expect(() => createS3Storage({ bucket: "bkt", prefix: "../x" })).toThrow(/invalid storage key/);
  });
});

describe("errorFromS3", () => {
  const cases: Array<[string, Record<string, unknown>, Code, boolean?]> = [
    ["NoSuchKey", { name: "NoSuchKey", $metadata: { httpStatusCode: 404 } }, Code.NotFound, false],
    ["HEAD 404", { name: "NotFound", $metadata: { httpStatusCode: 404 } }, Code.NotFound, false],
    [
      "412 on create",
      { name: "PreconditionFailed", $metadata: { httpStatusCode: 412 } },
      Code.AlreadyExists,
      true,
    ],
    [
      "412 otherwise",
      { name: "PreconditionFailed", $metadata: { httpStatusCode: 412 } },
      Code.FailedPrecondition,
    ],
    [
      "409 on create",
      { name: "ConditionalRequestConflict", $metadata: { httpStatusCode: 409 } },
      Code.AlreadyExists,
      true,
    ],
    [
      "403",
      { name: "AccessDenied", $metadata: { httpStatusCode: 403 } },
      Code.PermissionDenied,
      false,
    ],
    [
      "expired token",
      { name: "ExpiredToken", $metadata: { httpStatusCode: 400 } },
      Code.Unauthenticated,
    ],
    ["416", { name: "InvalidRange", $metadata: { httpStatusCode: 416 } }, Code.OutOfRange, false],
    ["500", { name: "InternalError", $metadata: { httpStatusCode: 500 } }, Code.Unavailable, false],
    [
      "503 SlowDown",
      { name: "SlowDown", $metadata: { httpStatusCode: 503 } },
      Code.Unavailable,
      false,
    ],
    [
      "429",
      { name: "TooManyRequests", $metadata: { httpStatusCode: 429 } },
      Code.Unavailable,
      false,
    ],
    [
      "405 abort on s3rver",
      { name: "MethodNotAllowed", $metadata: { httpStatusCode: 405 } },
      Code.Unimplemented,
    ],
    [
      "refused",
      { name: "Error", code: "ECONNREFUSED", message: "connect ECONNREFUSED" },
      Code.Unavailable,
    ],
    [
      "reset",
      { name: "Error", code: "ECONNRESET", message: "socket hang up" },
      Code.Unavailable,
      false,
    ],
    ["socket timeout", { name: "TimeoutError", message: "idle" }, Code.Unavailable, false],
    ["abort", { name: "AbortError", message: "aborted" }, Code.Canceled, false],
    [
      "400",
      { name: "InvalidArgument", $metadata: { httpStatusCode: 400 } },
      Code.InvalidArgument,
      false,
    ],
    ["other", { name: "Weird" }, Code.Unknown, false],
  ];
  const rows = cases.map(([label, shape, code, createOnly]) => ({
    label,
    shape,
    code,
    createOnly,
  }));
  it.each(rows)("classifies $label", ({ shape, code, createOnly }) => {
    const error = Object.assign(new Error(String(shape.message ?? "x")), shape);
    const mapped = errorFromS3(error, "put", "k", { createOnly: createOnly === true });
    expect(mapped.code).toBe(code);
    expect(mapped.cause).toBe(error);
    expect(mapped.details).toMatchObject({ key: "k" });
  });
});

describe("part sizes", () => {
  it("keeps the configured size for small objects and scales up so no object needs over 10,000 parts", () => {
    expect(choosePartSize(12 * MiB, 8 * MiB)).toBe(8 * MiB);
    expect(choosePartSize(undefined, 8 * MiB)).toBe(8 * MiB);
    const huge = 200 * 1024 * MiB; // 200 GiB
    const part = choosePartSize(huge, 8 * MiB);
    expect(part % MiB).toBe(0);
    expect(Math.ceil(huge / part)).toBeLessThanOrEqual(MAX_PARTS);
    expect(choosePartSize(1, MiB)).toBe(5 * MiB);
  });

  it("grows parts of unknown-size streams so about 8 TiB fit at 8 MiB", () => {
    expect(partSizeFor(1, 8 * MiB, false)).toBe(8 * MiB);
    expect(partSizeFor(1000, 8 * MiB, false)).toBe(8 * MiB);
    expect(partSizeFor(1001, 8 * MiB, false)).toBe(16 * MiB);
    expect(partSizeFor(5000, 8 * MiB, true)).toBe(8 * MiB);
    expect(maxUnknownSizeBytes(8 * MiB)).toBe(1000 * 8 * MiB * 1023);
  });
});

describe("PartReader", () => {
  it("cuts chunks into parts, without copies inside a chunk", async () => {
    const source = Buffer.from("abcdefghij");
    async function* chunks() {
      yield source.subarray(0, 7);
      yield source.subarray(7);
    }
    const reader = new PartReader(chunks());
    const first = await reader.read(3);
    expect(Buffer.from(first as Uint8Array).toString()).toBe("abc");
    expect((first as Uint8Array).buffer).toBe(source.buffer);
    expect(Buffer.from((await reader.read(6)) as Uint8Array).toString()).toBe("defghi");
    expect(await reader.atEnd()).toBe(false);
    reader.unshift(Buffer.from("XY"));
    expect(Buffer.from((await reader.read(10)) as Uint8Array).toString()).toBe("XYj");
    expect(await reader.atEnd()).toBe(true);
    expect(await reader.read(1)).toBeUndefined();
  });
});
