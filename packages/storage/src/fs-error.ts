import { Code, RuntimeError } from "@strata/runtime-core";

/**
 * Converts an error from `node:fs` into a `RuntimeError`, by its errno code. The edge between
 * the file system and Strata: every LocalStorage call goes through it.
 *
 * @internal
 */
export function errorFromFs(error: unknown, operation: string, key?: string): RuntimeError {
  if (error instanceof RuntimeError) return error;
  const errno = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const make = (code: Code, why: string) =>
    new RuntimeError(`${operation}${key === undefined ? "" : ` ${key}`}: ${why} (${message})`, {
      code,
      cause: error,
      details: key === undefined ? { errno } : { key, errno },
    });
  switch (errno) {
    case "ENOENT": // the object (or one of its folders) does not exist
    case "ENOTDIR": // a folder in the key is a file, so the object cannot exist
      return make(Code.NotFound, "no such object");
    case "EISDIR": // the key names a folder, which is not an object
      return make(Code.NotFound, "the key names a folder, not an object");
    case "EEXIST": // create-only put found the key taken
      return make(Code.AlreadyExists, "the object already exists");
    case "EACCES": // file modes forbid it
    case "EPERM": // the OS forbids it (immutable file, no hard links allowed, ...)
    case "EROFS": // read-only file system
      return make(Code.PermissionDenied, "permission denied");
    case "ELOOP": // a symbolic link where LocalStorage refuses to follow one
      return make(Code.PermissionDenied, "refusing to follow a symbolic link");
    case "ENOSPC": // disk full
    case "EDQUOT": // quota exceeded
      return make(Code.ResourceExhausted, "no space left");
    case "EMFILE": // too many open files in this process
    case "ENFILE": // too many open files in the system
      return make(Code.ResourceExhausted, "too many open files");
    case "ENAMETOOLONG": // a key segment is longer than the file system allows
      return make(Code.InvalidArgument, "the key is too long for this file system");
    case "EIO": // the device failed a read or write: the bytes may be gone
      return make(Code.DataLoss, "I/O error from the device");
    case "EAGAIN": // transient: try again
    case "EBUSY": // transient: the file is busy
    case "EINTR": // interrupted system call
    case "ETIMEDOUT": // network file system timeout
    case "ESTALE": // stale NFS handle; reopening may work
      return make(Code.Unavailable, "the file system is temporarily unavailable");
    case "EXDEV": // temp file and object are always in one folder, so this is a bug
      return make(Code.Internal, "unexpected cross-device rename");
    default: // anything else: keep the original as the cause
      return make(Code.Unknown, "file system error");
  }
}
