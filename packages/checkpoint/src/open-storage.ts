import { stat } from "node:fs/promises";
import path from "node:path";
import { Code, RuntimeError } from "@strata/runtime-core";
import {
  createLocalStorage,
  createStorage,
  LocalStorage,
  type StorageBackend,
} from "@strata/storage";

/** Opens the storage a CLI `--storage` value names. Injectable for tests. */
export type OpenStorage = (uri: string) => Promise<StorageBackend>;

/**
 * The CLI's default opener: a plain path opens a local folder; anything with a scheme goes to
 * `createStorage` from `@strata/storage` (`file:///abs`, `file:rel`, `s3://bucket/prefix?endpoint=…`,
 * `memory://`). S3 credentials come from the standard AWS environment and files. A local folder
 * that does not exist is an `InvalidArgument` naming it: reading an empty storage there would
 * only report "no checkpoints" for what is really a typo.
 */
export const openStorage: OpenStorage = async (uri) => {
  if (typeof uri !== "string" || uri === "") {
    throw new RuntimeError("--storage is required (a path, file:// or s3:// URI)", {
      code: Code.InvalidArgument,
      details: { field: "storage" },
    });
  }
  const storage = /^[a-z][a-z0-9+.-]*:/i.test(uri)
    ? await createStorage(uri)
    : createLocalStorage({ root: path.resolve(uri) });
  if (storage instanceof LocalStorage) {
    const isFolder = await stat(storage.root).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isFolder) {
      throw new RuntimeError(`--storage ${uri}: ${storage.root} is not an existing folder`, {
        code: Code.InvalidArgument,
        details: { field: "storage" },
      });
    }
  }
  return storage;
};
