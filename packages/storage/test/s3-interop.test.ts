import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createStorage } from "../src/index.js";
import type { S3Storage } from "../src/s3/index.js";
import { S3RVER_CREDENTIALS, type S3rverFixture, startS3rver } from "../src/testing/index.js";
import { aws, requireAwsCli } from "./aws-cli.js";
import { chunked, listKeys } from "./contract.js";

const MiB = 1024 * 1024;
let server: S3rverFixture;
let storage: S3Storage;
let scratch: string;

beforeAll(async () => {
  requireAwsCli();
  server = await startS3rver({ bucket: "interop" });
  scratch = await mkdtemp(path.join(tmpdir(), "strata-interop-"));
  storage = (await createStorage(`s3://${server.bucket}/shared/run-1`, {
    env: { STRATA_S3_ENDPOINT: server.endpoint },
    s3: { credentials: S3RVER_CREDENTIALS, partSizeBytes: 5 * MiB },
  })) as S3Storage;
}, 30_000);
afterAll(async () => {
  await storage?.close();
  await server?.dispose();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe("S3Storage and the AWS CLI read each other's objects", () => {
  it("objects S3Storage wrote are listed and read byte-exact by the AWS CLI", async () => {
    const small = randomBytes(1234);
    const large = randomBytes(12 * MiB + 17); // multipart: 5 MiB parts
    await storage.put("ckpt/step-1/manifest.json", small, { createOnly: true });
    await storage.put("ckpt/step-1/shard-0.bin", chunked(large, MiB), { sizeHint: large.length });

    const listing = JSON.parse(
      (
        await aws(server.endpoint, [
          "s3api",
          "list-objects-v2",
          "--bucket",
          server.bucket,
          "--prefix",
          "shared/run-1/",
        ])
      ).toString(),
    ) as { Contents: Array<{ Key: string; Size: number }> };
    expect(listing.Contents.map((o) => [o.Key, o.Size])).toEqual([
      ["shared/run-1/ckpt/step-1/manifest.json", small.length],
      ["shared/run-1/ckpt/step-1/shard-0.bin", large.length],
    ]);

    const smallOut = path.join(scratch, "small");
    const largeOut = path.join(scratch, "large");
    await aws(server.endpoint, [
      "s3",
      "cp",
      `s3://${server.bucket}/shared/run-1/ckpt/step-1/manifest.json`,
      smallOut,
    ]);
    await aws(server.endpoint, [
      "s3",
      "cp",
      `s3://${server.bucket}/shared/run-1/ckpt/step-1/shard-0.bin`,
      largeOut,
    ]);
    expect((await readFile(smallOut)).equals(small)).toBe(true);
    expect((await readFile(largeOut)).equals(large)).toBe(true);
  });

  it("objects the AWS CLI wrote are listed and read byte-exact by S3Storage", async () => {
    const single = randomBytes(3 * MiB + 5);
    const multipart = randomBytes(20 * MiB + 3); // the CLI uses multipart above 8 MiB
    await writeFile(path.join(scratch, "single"), single);
    await writeFile(path.join(scratch, "multipart"), multipart);
    await aws(server.endpoint, [
      "s3",
      "cp",
      path.join(scratch, "single"),
      `s3://${server.bucket}/shared/run-1/cli/single.bin`,
    ]);
    await aws(server.endpoint, [
      "s3",
      "cp",
      path.join(scratch, "multipart"),
      `s3://${server.bucket}/shared/run-1/cli/multi part.bin`,
    ]);

    expect(await listKeys(storage, "cli/")).toEqual(["cli/multi part.bin", "cli/single.bin"]);
    expect(Buffer.from(await storage.get("cli/single.bin")).equals(single)).toBe(true);
    expect(Buffer.from(await storage.get("cli/multi part.bin")).equals(multipart)).toBe(true);
    const range = await storage.get("cli/multi part.bin", {
      range: { start: 8 * MiB - 3, end: 16 * MiB + 3 },
    });
    expect(Buffer.from(range).equals(multipart.subarray(8 * MiB - 3, 16 * MiB + 3))).toBe(true);
    expect((await storage.stat("cli/multi part.bin"))?.sizeBytes).toBe(multipart.length);

    await storage.deleteMany(["cli/single.bin", "cli/multi part.bin"]);
    const after = (
      await aws(server.endpoint, ["s3", "ls", `s3://${server.bucket}/shared/run-1/cli/`]).catch(
        () => Buffer.from(""),
      )
    ).toString();
    expect(after).not.toContain("single.bin");
  }, 60_000);
});
