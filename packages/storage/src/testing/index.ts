/**
 * Test helpers for code built on `@strata/storage`: a real S3-compatible server (s3rver) in a
 * child process. Not loaded by the main entry point.
 */

export type { S3rverFixture, S3rverOptions } from "./s3rver-fixture.js";
export { freePort, S3RVER_CREDENTIALS, startS3rver } from "./s3rver-fixture.js";
