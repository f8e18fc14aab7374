import path from "node:path";
import { fileURLToPath } from "node:url";
import { Code, RuntimeError } from "@strata/runtime-core";
import { createLocalStorage, type StorageBackend } from "@strata/storage";

/**
 * Opens the storage a CLI `--storage` URI names: `file:///abs/path`, a plain path, or any URI
 * the storage package's factory understands.
 */
export type OpenStorage = (uri: string) => Promise<StorageBackend>;

/** The default opener: local paths and `file://` URIs. */
export const openStorage: OpenStorage = async (uri) => {
  if (typeof uri !== "string" || uri === "") {
    throw new RuntimeError("--storage is required (a path, file:// or s3:// URI)", {
      code: Code.InvalidArgument,
      details: { field: "storage" },
    });
  }
  if (uri.startsWith("file://")) return createLocalStorage({ root: fileURLToPath(uri) });
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return createLocalStorage({ root: path.resolve(uri) });
  throw new RuntimeError(`unsupported storage URI ${JSON.stringify(uri)} (use a path or file://)`, {
    code: Code.InvalidArgument,
    details: { field: "storage" },
  });
};
