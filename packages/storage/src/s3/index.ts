export { MAX_PART_BYTES, MAX_PARTS, MIN_PART_BYTES, maxUnknownSizeBytes } from "./part-size.js";
export { createS3Storage, S3Storage } from "./s3-storage.js";
export type {
  ConditionalWritesMode,
  S3Credentials,
  S3StorageOptions,
} from "./s3-storage-options.js";
