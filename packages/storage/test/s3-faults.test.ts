import { randomBytes } from "node:crypto";
import { Code, type RuntimeError } from "@strata/runtime-core";
import { createS3Storage, type S3Storage } from "../src/s3/index.js";
import { S3RVER_CREDENTIALS, type S3rverFixture, startS3rver } from "../src/testing/index.js";
import { listKeys } from "./contract.js";

const MiB = 1024 * 1024;
let server: S3rverFixture;
let storage: S3Storage;
const warnings: string[] = [];

beforeEach(async () => {
  server = await startS3rver({ bucket: "faults" });
  storage = createS3Storage({
    bucket: server.bucket,
    prefix: "jobs/7",
    endpoint: server.endpoint,
    credentials: S3RVER_CREDENTIALS,
    partSizeBytes: 5 * MiB,
    queueSize: 2,
    maxAttempts: 4,
    backoff: { initialDelayMs: 50, maxDelayMs: 200 },
    abortTimeoutMs: 2_000,
    onWarning: (message) => warnings.push(message),
  });
});
afterEach(async () => {
  server.resume();
  await storage?.close();
  await server?.dispose();
});

/** Yields `bytes` in 1 MiB chunks and runs `midway` once `afterBytes` have been yielded. */
async function* withFault(
  bytes: Buffer,
  afterBytes: number,
  midway: () => Promise<void>,
): AsyncGenerator<Uint8Array> {
  let fired = false;
  for (let offset = 0; offset < bytes.length; offset += MiB) {
    if (!fired && offset >= afterBytes) {
      fired = true;
      await midway();
    }
    yield bytes.subarray(offset, offset + MiB);
  }
}

describe("S3Storage when the server fails", () => {
  it("reports a clear error within the timeout when the server dies mid-upload, shows no partial object, and a retry after restart succeeds", async () => {
    const bytes = randomBytes(24 * MiB);
    await storage.put("ckpt/other", Buffer.from("untouched"));

    const failed = await storage
      .put(
        "ckpt/shard-0",
        withFault(bytes, 12 * MiB, () => server.kill()),
        { sizeHint: bytes.length, timeoutMs: 20_000 },
      )
      .then(
        () => undefined,
        (error: RuntimeError) => error,
      );
    expect(failed).toMatchObject({ name: "RuntimeError", code: Code.Unavailable });
    expect(failed?.message).toMatch(
      /put ckpt\/shard-0.*(ECONNREFUSED|ECONNRESET|socket hang up|network)/,
    );

    await server.restart();
    expect(await storage.exists("ckpt/shard-0")).toBe(false);
    expect(await listKeys(storage, "")).toEqual(["ckpt/other"]);

    await storage.put(
      "ckpt/shard-0",
      withFault(bytes, bytes.length, async () => undefined),
      {
        sizeHint: bytes.length,
        timeoutMs: 20_000,
      },
    );
    expect(Buffer.from(await storage.get("ckpt/shard-0")).equals(bytes)).toBe(true);
    expect(await listKeys(storage, "")).toEqual(["ckpt/other", "ckpt/shard-0"]);
  }, 60_000);

  it("gives up with Unavailable before the deadline while the server is down", async () => {
    await server.kill();
    await expect(storage.put("k", Buffer.from("x"), { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: Code.Unavailable,
    });
    await expect(storage.stat("k", { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: Code.Unavailable,
    });
  });

  it("ends every call at its deadline when the server stalls without closing connections", async () => {
    await storage.put("k", Buffer.from("x"));
    server.pause();
    await expect(storage.get("k", { timeoutMs: 300 })).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
    await expect(storage.put("k2", randomBytes(6 * MiB), { timeoutMs: 300 })).rejects.toMatchObject(
      {
        code: Code.DeadlineExceeded,
      },
    );
    const listing = (async () => {
      for await (const _ of storage.list("", { timeoutMs: 300 })) break;
    })();
    await expect(listing).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    server.resume();
    expect(Buffer.from(await storage.get("k")).toString()).toBe("x");
    expect(await storage.exists("k2")).toBe(false);
  }, 30_000);
});
