import path from "node:path";
import { Code, RuntimeError } from "@strata/runtime-core";
import { createLocalStorage, createStorage, type StorageBackend } from "@strata/storage";

/** Opens the storage a CLI `--storage` value names. Injectable for tests. */
export type OpenStorage = (uri: string) => Promise<StorageBackend>;

/**
 * The CLI's default opener: a plain path opens a local folder; anything with a scheme goes to
 * `createStorage` from `@strata/storage` (`file:///abs`, `file:rel`, `s3://bucket/prefix?endpoint=…`,
 * `memory://`). S3 credentials come from the standard AWS environment and files.
 */
export const openStorage: OpenStorage = async (uri) => {
  if (typeof uri !== "string" || uri === "") {
    throw new RuntimeError("--storage is required (a path, file:// or s3:// URI)", {
      code: Code.InvalidArgument,
      details: { field: "storage" },
    });
  }
  if (!/^[a-z][a-z0-9+.-]*:/i.test(uri)) return createLocalStorage({ root: path.resolve(uri) });
  return createStorage(uri);
};
