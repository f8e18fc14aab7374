import path from "node:path";
import { fileURLToPath } from "node:url";
import { Code, RuntimeError } from "@strata/runtime-core";
import { createLocalStorage, type LocalStorageOptions } from "./local-storage.js";
import { createMemoryStorage } from "./memory-storage.js";
import type { S3StorageOptions } from "./s3/s3-storage-options.js";
import type { StorageBackend } from "./storage-backend.js";

/** Options for {@link createStorage}, per scheme. */
export interface CreateStorageOptions {
  /** Extra options for `file:` URIs (modes). `root` comes from the URI. */
  local?: Omit<LocalStorageOptions, "root">;
  /**
   * Extra options for `s3:` URIs. `bucket` and `prefix` come from the URI. Unset `endpoint`,
   * `region` and `forcePathStyle` also come from the URI's query (`?endpoint=…&region=…&forcePathStyle=true`),
   * then from the environment (`STRATA_S3_ENDPOINT`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`;
   * `STRATA_S3_FORCE_PATH_STYLE`).
   */
  s3?: Omit<S3StorageOptions, "bucket" | "prefix">;
  /** Base folder for relative `file:` URIs. Default: the working directory. */
  cwd?: string;
  /** Environment to read S3 settings from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Opens a storage backend from a URI:
 *
 * | URI | backend |
 * |---|---|
 * | `file:///abs/path` | {@link LocalStorage} rooted at `/abs/path` |
 * | `file:relative/path`, `file:./x` | LocalStorage rooted at `cwd/relative/path` |
 * | `s3://bucket/prefix` | `S3Storage` (loaded on demand, so the AWS SDK is only imported when used) |
 * | `memory://name` | a new, empty {@link MemoryStorage} (not shared between calls) |
 *
 * Anything else fails with `InvalidArgument` naming the problem.
 */
export async function createStorage(
  uri: string,
  options: CreateStorageOptions = {},
): Promise<StorageBackend> {
  if (typeof uri !== "string" || uri === "") throw invalidUri(uri, "it is empty");
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  switch (scheme) {
    case "memory": {
      const name = uri.slice("memory:".length).replace(/^\/\//, "");
      if (name.includes("/") || name.includes("?")) throw invalidUri(uri, "use memory://name");
      return createMemoryStorage({ name: name === "" ? "default" : name });
    }
    case "file":
      return createLocalStorage({
        ...options.local,
        root: fileRoot(uri, options.cwd ?? process.cwd()),
      });
    case "s3": {
      const { createS3Storage } = await import("./s3/s3-storage.js");
      return createS3Storage(s3Options(uri, options));
    }
    case undefined:
      throw invalidUri(uri, "it has no scheme; use file://, s3:// or memory://");
    default:
      throw invalidUri(uri, `unknown scheme "${scheme}:"; use file://, s3:// or memory://`);
  }
}

function fileRoot(uri: string, cwd: string): string {
  const rest = uri.slice("file:".length);
  if (rest.startsWith("//")) {
    let root: string;
    try {
      root = fileURLToPath(uri);
    } catch (error) {
      throw invalidUri(uri, error instanceof Error ? error.message : "not a file URL");
    }
    return root;
  }
  if (rest === "" || rest.startsWith("/")) {
    if (rest === "") throw invalidUri(uri, "it names no folder");
    return rest; // file:/abs/path
  }
  return path.resolve(cwd, decodeURIComponent(rest));
}

function s3Options(uri: string, options: CreateStorageOptions): S3StorageOptions {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalidUri(uri, "it is not a valid URL");
  }
  const bucket = url.hostname;
  if (bucket.length < 3) throw invalidUri(uri, "it names no bucket (s3://bucket/prefix)");
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+/, "");
  const env = options.env ?? process.env;
  const query = url.searchParams;
  const endpoint =
    options.s3?.endpoint ??
    query.get("endpoint") ??
    env.STRATA_S3_ENDPOINT ??
    env.AWS_ENDPOINT_URL_S3 ??
    env.AWS_ENDPOINT_URL ??
    undefined;
  const region = options.s3?.region ?? query.get("region") ?? undefined;
  const pathStyle = query.get("forcePathStyle") ?? env.STRATA_S3_FORCE_PATH_STYLE;
  const forcePathStyle =
    options.s3?.forcePathStyle ??
    (pathStyle === undefined || pathStyle === null ? undefined : parseBool(uri, pathStyle));
  return {
    ...options.s3,
    bucket,
    prefix,
    ...(endpoint === undefined || endpoint === "" ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(forcePathStyle === undefined ? {} : { forcePathStyle }),
  };
}

function parseBool(uri: string, value: string): boolean {
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw invalidUri(uri, `forcePathStyle must be true or false, got "${value}"`);
}

function invalidUri(uri: unknown, why: string): RuntimeError {
  return new RuntimeError(`invalid storage URI ${JSON.stringify(uri)}: ${why}`, {
    code: Code.InvalidArgument,
    details: { uri: String(uri) },
  });
}
