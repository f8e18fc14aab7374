import { createS3Storage } from "../src/s3/index.js";
import { S3RVER_CREDENTIALS, type S3rverFixture, startS3rver } from "../src/testing/index.js";
import { describeStorageContract } from "./contract.js";

let server: S3rverFixture;
let count = 0;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(async () => {
  await server?.dispose();
});

describeStorageContract("s3 (s3rver)", {
  create: async () =>
    createS3Storage({
      bucket: server.bucket,
      prefix: `contract-${count++}`,
      endpoint: server.endpoint,
      credentials: S3RVER_CREDENTIALS,
      partSizeBytes: 5 * 1024 * 1024,
      onWarning: () => undefined,
    }),
  // s3rver ignores If-None-Match, so create-only falls back to HEAD-then-PUT (documented).
  createOnlyIsRaceFree: false,
  // s3rver walks its folders, so "a-b" lists after "a/..." (AWS S3 and MinIO use byte order).
  strictListOrder: false,
});
