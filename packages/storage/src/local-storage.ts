import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { Dirent, Stats } from "node:fs";
import { constants as fsConstants } from "node:fs";
import {
  type FileHandle,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  rename,
  rmdir,
  unlink,
} from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import {
  type CallOptions,
  Code,
  createDeadlineSignal,
  type DeadlineSignal,
  RuntimeError,
  throwIfAborted,
} from "@strata/runtime-core";
import { bodyChunks } from "./body-chunks.js";
import { errorFromFs } from "./fs-error.js";
import { guardReadStream } from "./guard-read-stream.js";
import { compareKeys, resolveRange } from "./memory-storage.js";
import type {
  GetOptions,
  ListOptions,
  ObjectInfo,
  PutBody,
  PutOptions,
  StorageBackend,
} from "./storage-backend.js";
import { RESERVED_SEGMENT_PREFIX, validateKey, validatePrefix } from "./validate-key.js";

/** Options for {@link createLocalStorage}. */
export interface LocalStorageOptions {
  /** The folder that holds the objects; relative paths resolve against the working directory. Created on the first put. */
  root: string;
  /**
   * Mode of object files, set exactly (not masked by the umask). Default `0o644`; use `0o600`
   * for private data.
   */
  fileMode?: number;
  /** Mode of folders LocalStorage creates, masked by the process umask. Default `0o755` (`0o700` for private data). */
  dirMode?: number;
}

/** One object of {@link LocalStorage.putMany}. */
export interface LocalPutEntry {
  key: string;
  body: PutBody;
  /** Fail with `AlreadyExists` instead of replacing. Default false. */
  createOnly?: boolean;
}

/** Options for {@link LocalStorage.putMany}. */
export interface PutManyOptions extends CallOptions {
  /** Objects written at once. Default 4. */
  concurrency?: number;
}

/**
 * The deadline of a call without a signal or timeout: a shared signal that never aborts (a put
 * is a millisecond on a fast disk, and an AbortController per call is a measurable part of it).
 */
const NO_DEADLINE: DeadlineSignal = (() => {
  const signal = new AbortController().signal;
  setMaxListeners(0, signal); // concurrent streamed puts each listen to it for a moment
  return { signal, cleanup: () => undefined, remainingMs: () => Number.POSITIVE_INFINITY };
})();

function deadlineOf(operation: string, options: CallOptions): DeadlineSignal {
  return options.signal === undefined && options.timeoutMs === undefined
    ? NO_DEADLINE
    : createDeadlineSignal(operation, options);
}

/** Largest single read or write syscall, in bytes; between them the signal is checked. */
const IO_CHUNK_BYTES = 64 * 1024 * 1024;
/**
 * A put flushes its file to disk (fdatasync, in the background) every time this many bytes were
 * written since the last flush: big objects then stream to disk at its pace instead of filling
 * the page cache and being throttled. Measured on our 2-core VM: a 512 MiB put went from 0.3-0.5x
 * to about 1x of plain write+fsync of the same bytes in 64 MiB files when other jobs were writing.
 */
const WRITE_BEHIND_BYTES = 64 * 1024 * 1024;

/** How many files `deleteMany` removes at once. */
const DELETE_CONCURRENCY = 16;
/**
 * How often a put retries when its freshly created folder was removed under it (by a concurrent
 * delete pruning empty folders, or a listing removing an empty one).
 */
const PRUNE_RACE_RETRIES = 5;

/**
 * A {@link StorageBackend} over a local folder.
 *
 * - **Atomic, durable puts.** The body goes to a temporary file in the object's own folder (named
 *   `.strata-tmp-<pid>-<random>`, a segment no key may use), which is fsynced, then renamed over
 *   the key, and the folder is fsynced. A reader sees the old object or the new one, never a
 *   partial one, even if the process is killed mid-write; success is reported only after both
 *   fsyncs. The temporary file is removed when the put fails or is aborted (a killed process can
 *   leave one behind; `list` skips them).
 * - **Create-only puts are atomic under races.** Instead of a rename (which would replace), the
 *   temporary file is hard-linked to the key with `link(2)`, which fails with `EEXIST` if any
 *   other writer got there first, then the temporary name is unlinked. This needs a file system
 *   with hard links (every POSIX local file system; not some FUSE or SMB mounts, where the put
 *   fails with `PermissionDenied`).
 * - **Keys cannot escape the root.** Keys pass {@link validateKey} (no `..`, absolute paths, NUL
 *   or backslashes), the joined path is checked to stay under the root, and no symbolic link
 *   under the root is ever followed: the object's folder must resolve (`realpath`) to exactly
 *   itself, a put creates missing folders one level at a time and checks each (so a planted
 *   symlinked folder cannot make it create anything outside the root), files are opened with
 *   `O_NOFOLLOW`, and `list` checks every folder before reading it. A key or list prefix that
 *   leads through a symbolic link fails with `PermissionDenied`. (The root itself may be a
 *   symbolic link: it is resolved once.)
 * - **Ordered listing.** `list` walks folders in key order (UTF-8 byte order, as S3 does), so
 *   results stream without sorting the whole tree; `pageSize` does not apply.
 * - Empty folders left by `delete` are removed, up to the root.
 */
export class LocalStorage implements StorageBackend {
  readonly uri: string;
  /** The root folder as given (made absolute). */
  readonly root: string;
  readonly #fileMode: number;
  readonly #dirMode: number;
  #realRoot: string | undefined;

  constructor(options: LocalStorageOptions) {
    if (typeof options?.root !== "string" || options.root === "") {
      throw new RuntimeError("LocalStorage needs a root folder (options.root)", {
        code: Code.InvalidArgument,
        details: { field: "root" },
      });
    }
    for (const field of ["fileMode", "dirMode"] as const) {
      const mode = options[field];
      if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)) {
        throw new RuntimeError(`LocalStorage option ${field} must be a file mode such as 0o644`, {
          code: Code.InvalidArgument,
          details: { field },
        });
      }
    }
    this.root = path.resolve(options.root);
    this.uri = pathToFileURL(this.root).href;
    this.#fileMode = options.fileMode ?? 0o644;
    this.#dirMode = options.dirMode ?? 0o755;
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    validateKey(key);
    const operation = `put ${key}`;
    const deadline = deadlineOf(operation, options);
    try {
      return (await this.#writeObject(key, body, options, deadline.signal, true)).info;
    } catch (error) {
      throw errorFromFs(error, "put", key);
    } finally {
      deadline.cleanup();
    }
  }

  /**
   * Puts several objects and syncs each folder they land in once, instead of once per object.
   * Each object is atomic and durable exactly as with {@link put} once this resolves; objects are
   * written `concurrency` at a time (default 4), so their file fsyncs can share journal commits.
   * If it fails, some objects may have been written (each whole, never partially) and their
   * folder entries may not be durable yet: call it again or delete them.
   */
  async putMany(
    entries: readonly LocalPutEntry[],
    options: PutManyOptions = {},
  ): Promise<ObjectInfo[]> {
    for (const entry of entries) validateKey(entry.key);
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RuntimeError("putMany: concurrency must be a positive integer", {
        code: Code.InvalidArgument,
        details: { field: "concurrency" },
      });
    }
    const deadline = createDeadlineSignal("putMany", options);
    const results: ObjectInfo[] = new Array(entries.length);
    const folders = new Set<string>();
    try {
      let next = 0;
      const worker = async () => {
        while (next < entries.length) {
          const index = next++;
          const entry = entries[index] as LocalPutEntry;
          try {
            const written = await this.#writeObject(
              entry.key,
              entry.body,
              { createOnly: entry.createOnly === true },
              deadline.signal,
              false,
            );
            for (const folder of written.foldersToSync) folders.add(folder);
            results[index] = written.info;
          } catch (error) {
            throw errorFromFs(error, "put", entry.key);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, entries.length) }, worker));
      await Promise.all([...folders].map((folder) => fsyncDirectory(folder)));
      return results;
    } catch (error) {
      throw errorFromFs(error, "putMany");
    } finally {
      deadline.cleanup();
    }
  }

  /**
   * Writes one object to a temporary file in its folder, fsyncs it and renames (or, create-only,
   * links) it over the key. With `syncFolders` it then fsyncs the folder (and the parents of any
   * folder this put created), so the new name is durable; otherwise it returns the folders the
   * caller must sync. Independent steps overlap (the folder is opened while the file is, `fchmod`
   * runs with the first write, `fstat` with the fsync, the file closes while it is renamed), so
   * a small put costs about what the same durable sequence costs done by hand.
   */
  async #writeObject(
    key: string,
    body: PutBody,
    options: PutOptions,
    signal: AbortSignal,
    syncFolders: boolean,
  ): Promise<{ info: ObjectInfo; foldersToSync: string[] }> {
    const operation = `put ${key}`;
    let tempPath: string | undefined;
    let handle: FileHandle | undefined;
    let folderHandle: Promise<FileHandle | undefined> = Promise.resolve(undefined);
    let folderHandleTaken = false;
    try {
      let root = this.#realRoot ?? (await this.#ensureRoot());
      let finalPath = this.#pathOf(root, key);
      // A concurrent delete may prune the folder between its check and the open: then make it again.
      let folder: { dir: string; created: string[] };
      for (let attempt = 0; ; attempt++) {
        throwIfAborted(signal, operation);
        try {
          folder = await this.#makeFolderOf(root, key);
        } catch (error) {
          // A folder on the way was removed as we made the next one in it (or the whole root
          // was removed since we last used it): make them again.
          if ((error as { code?: unknown }).code !== "ENOENT" || attempt >= PRUNE_RACE_RETRIES) {
            throw error;
          }
          this.#realRoot = undefined;
          root = await this.#ensureRoot();
          finalPath = this.#pathOf(root, key);
          continue;
        }
        tempPath = path.join(
          folder.dir,
          `${RESERVED_SEGMENT_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`,
        );
        if (syncFolders) folderHandle = openFolder(folder.dir);
        try {
          handle = await open(
            tempPath,
            fsConstants.O_WRONLY |
              fsConstants.O_CREAT |
              fsConstants.O_EXCL |
              fsConstants.O_NOFOLLOW,
            this.#fileMode,
          );
          break;
        } catch (error) {
          tempPath = undefined;
          void folderHandle.then((h) => h?.close()).catch(() => undefined);
          folderHandle = Promise.resolve(undefined);
          const errno = (error as { code?: unknown }).code;
          if (errno === "ENOTDIR") throw folderConflict(error, key);
          if (errno !== "ENOENT" || attempt >= PRUNE_RACE_RETRIES) throw error;
        }
      }
      const chmod = handle.chmod(this.#fileMode); // exact, whatever the umask
      chmod.catch(() => undefined); // awaited below
      let written = 0;
      let unflushed = 0;
      // Write-behind: a large object is flushed as it is written (one fdatasync at a time, in
      // the background, while the next bytes are written), so it never piles up in the page
      // cache, where the kernel throttles a writer with too many dirty pages to the disk's
      // pace anyway, and does so only after the fact. Awaited before the final fsync.
      let flushing: Promise<void> = Promise.resolve();
      const file = handle;
      const writeChunk = async (chunk: Uint8Array) => {
        for (let offset = 0; offset < chunk.length; ) {
          const length = Math.min(IO_CHUNK_BYTES, chunk.length - offset);
          const { bytesWritten } = await file.write(chunk, offset, length);
          offset += bytesWritten;
          written += bytesWritten;
          unflushed += bytesWritten;
          throwIfAborted(signal, operation);
          if (unflushed >= WRITE_BEHIND_BYTES) {
            await flushing;
            unflushed = 0;
            flushing = file.datasync();
            flushing.catch(() => undefined); // awaited before the next one, or below
          }
        }
        options.onProgress?.(written);
      };
      if (body instanceof Uint8Array) {
        throwIfAborted(signal, operation);
        await writeChunk(body);
      } else {
        for await (const chunk of bodyChunks(body, signal, operation)) await writeChunk(chunk);
      }
      await flushing;
      await chmod;
      const [, stats] = await Promise.all([handle.sync(), handle.stat()]);
      throwIfAborted(signal, operation);
      const closed = handle.close();
      handle = undefined;
      try {
        if (options.createOnly) {
          // link(2) never replaces an existing name: this is the atomic "first writer wins".
          await link(tempPath, finalPath);
          await unlink(tempPath);
        } else {
          await rename(tempPath, finalPath).catch((error: unknown) => {
            throw folderConflict(error, key);
          });
        }
        tempPath = undefined;
      } finally {
        await closed.catch(() => undefined);
      }
      // The new name, and every folder this put created, must reach the disk too.
      const foldersToSync = [folder.dir, ...folder.created.map((created) => path.dirname(created))];
      if (!syncFolders) return { info: infoOf(key, stats), foldersToSync };
      folderHandleTaken = true;
      const opened = await folderHandle;
      if (opened === undefined) {
        await fsyncDirectory(folder.dir);
      } else {
        try {
          await opened.sync();
        } finally {
          void opened.close().catch(() => undefined);
        }
      }
      for (const parent of foldersToSync.slice(1)) await fsyncDirectory(parent);
      return { info: infoOf(key, stats), foldersToSync: [] };
    } finally {
      if (!folderHandleTaken) void folderHandle.then((h) => h?.close()).catch(() => undefined);
      await handle?.close().catch(() => undefined);
      if (tempPath !== undefined) await unlink(tempPath).catch(() => undefined);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    validateKey(key);
    const operation = `get ${key}`;
    const deadline = createDeadlineSignal(operation, options);
    let handle: FileHandle | undefined;
    try {
      handle = await this.#openForRead(key, deadline);
      const stats = await handle.stat();
      if (!stats.isFile()) throw notAnObject(key);
      const { start, end } = resolveRange(key, stats.size, options.range);
      const bytes = Buffer.allocUnsafe(end - start);
      let filled = 0;
      while (filled < bytes.length) {
        throwIfAborted(deadline.signal, operation);
        const length = Math.min(IO_CHUNK_BYTES, bytes.length - filled);
        const { bytesRead } = await handle.read(bytes, filled, length, start + filled);
        if (bytesRead === 0) {
          throw new RuntimeError(
            `get ${key}: the file ended early (${filled} of ${bytes.length} bytes)`,
            {
              code: Code.DataLoss,
              details: { key },
            },
          );
        }
        filled += bytesRead;
      }
      return bytes;
    } catch (error) {
      throw errorFromFs(error, "get", key);
    } finally {
      deadline.cleanup();
      await handle?.close().catch(() => undefined);
    }
  }

  async getStream(key: string, options: GetOptions = {}): Promise<Readable> {
    validateKey(key);
    const operation = `getStream ${key}`;
    const deadline = createDeadlineSignal(operation, options);
    let handle: FileHandle | undefined;
    try {
      handle = await this.#openForRead(key, deadline);
      const stats = await handle.stat();
      if (!stats.isFile()) throw notAnObject(key);
      const { start, end } = resolveRange(key, stats.size, options.range);
      let source: Readable;
      if (end === start) {
        await handle.close();
        source = Readable.from([]);
      } else {
        source = handle.createReadStream({ start, end: end - 1, highWaterMark: 1024 * 1024 });
      }
      handle = undefined;
      return guardReadStream(source, deadline, operation, (error) =>
        errorFromFs(error, "getStream", key),
      );
    } catch (error) {
      deadline.cleanup();
      await handle?.close().catch(() => undefined);
      throw errorFromFs(error, "getStream", key);
    }
  }

  async stat(key: string, options: CallOptions = {}): Promise<ObjectInfo | undefined> {
    validateKey(key);
    throwIfAborted(options.signal, `stat ${key}`);
    try {
      const root = await this.#existingRoot();
      if (root === undefined) return undefined;
      const dir = await this.#folderOf(root, key);
      const stats = await lstat(path.join(dir, path.basename(this.#pathOf(root, key))));
      return stats.isFile() ? infoOf(key, stats) : undefined;
    } catch (error) {
      const mapped = errorFromFs(error, "stat", key);
      if (mapped.code === Code.NotFound) return undefined;
      throw mapped;
    }
  }

  async exists(key: string, options: CallOptions = {}): Promise<boolean> {
    return (await this.stat(key, options)) !== undefined;
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    const operation = `list ${prefix}`;
    const deadline = createDeadlineSignal(operation, options);
    try {
      const root = await this.#existingRoot();
      if (root === undefined) return;
      // Start in the deepest folder the prefix names in full: "a/b/c" and "a/b/" start at "a/b".
      const slash = prefix.lastIndexOf("/");
      const startKey = slash < 0 ? "" : prefix.slice(0, slash);
      if (startKey !== "") {
        // The folder the prefix names must be a real folder under the root, like a key's folder:
        // a planted symbolic link ("evil" -> /outside) fails instead of listing /outside.
        try {
          await this.#folderOf(root, `${startKey}/x`);
        } catch (error) {
          const errno = (error as { code?: unknown }).code;
          if (errno === "ENOENT" || errno === "ENOTDIR") return; // nothing stored there
          throw error;
        }
      }
      yield* this.#walk(root, startKey, prefix, deadline.signal, operation);
    } catch (error) {
      throw errorFromFs(error, "list", prefix);
    } finally {
      deadline.cleanup();
    }
  }

  async delete(key: string, options: CallOptions = {}): Promise<void> {
    validateKey(key);
    const deadline = createDeadlineSignal(`delete ${key}`, options);
    try {
      await this.#delete(key, deadline.signal);
    } finally {
      deadline.cleanup();
    }
  }

  async deleteMany(keys: readonly string[], options: CallOptions = {}): Promise<void> {
    keys.forEach(validateKey);
    const deadline = createDeadlineSignal("deleteMany", options);
    try {
      let next = 0;
      const worker = async () => {
        while (next < keys.length) {
          const key = keys[next++] as string;
          await this.#delete(key, deadline.signal);
        }
      };
      await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker));
    } finally {
      deadline.cleanup();
    }
  }

  /** Nothing to release: every call opens and closes its own files. Idempotent. */
  async close(): Promise<void> {}

  async #delete(key: string, signal: AbortSignal): Promise<void> {
    throwIfAborted(signal, `delete ${key}`);
    try {
      const root = await this.#existingRoot();
      if (root === undefined) return;
      const dir = await this.#folderOf(root, key);
      await unlink(path.join(dir, path.basename(this.#pathOf(root, key))));
      await this.#pruneEmptyFolders(root, dir);
    } catch (error) {
      const mapped = errorFromFs(error, "delete", key);
      if (mapped.code === Code.NotFound) return; // deletes are idempotent
      throw mapped;
    }
  }

  /** Removes now-empty folders from `dir` up to (not including) the root; stops at the first non-empty one. */
  async #pruneEmptyFolders(root: string, dir: string): Promise<void> {
    let current = dir;
    while (current !== root && current.startsWith(root + path.sep)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty (or already gone, or a put is using it): stop
      }
      current = path.dirname(current);
    }
  }

  async *#walk(
    root: string,
    dirKey: string,
    prefix: string,
    signal: AbortSignal,
    operation: string,
  ): AsyncGenerator<ObjectInfo> {
    let entries: Dirent[];
    let dir: string;
    try {
      // Checked again right before reading: a folder swapped for a symbolic link after the
      // parent was read is refused, not followed.
      dir = dirKey === "" ? root : await this.#folderOf(root, `${dirKey}/x`);
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      const errno = (error as { code?: unknown }).code;
      if (errno === "ENOENT" || errno === "ENOTDIR") return; // the folder went away or never was
      throw error;
    }
    if (entries.length === 0 && dir !== root) {
      // An empty folder holds no object: one a process killed mid-delete left behind would
      // otherwise stay forever, since nothing lists it. rmdir fails harmlessly if a put just
      // created something in it (and a put whose folder vanishes makes it again).
      await rmdir(dir).catch(() => undefined);
      return;
    }
    // A folder's keys all start with "name/", so sorting folders as "name/" yields key order.
    const sorted = entries
      .filter((entry) => (entry.isFile() || entry.isDirectory()) && isValidSegment(entry.name))
      .map((entry) => ({ entry, sortKey: entry.isDirectory() ? `${entry.name}/` : entry.name }))
      .sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    for (const { entry } of sorted) {
      throwIfAborted(signal, operation);
      const key = dirKey === "" ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory()) {
        const asFolder = `${key}/`;
        if (asFolder.startsWith(prefix) || prefix.startsWith(asFolder)) {
          yield* this.#walk(root, key, prefix, signal, operation);
        }
      } else if (key.startsWith(prefix)) {
        try {
          const stats = await lstat(this.#pathOf(root, key));
          if (stats.isFile()) yield infoOf(key, stats);
        } catch (error) {
          if ((error as { code?: unknown }).code !== "ENOENT") throw error; // deleted meanwhile
        }
      }
    }
  }

  async #openForRead(key: string, deadline: DeadlineSignal): Promise<FileHandle> {
    throwIfAborted(deadline.signal, `read ${key}`);
    const root = await this.#existingRoot();
    if (root === undefined) {
      throw new RuntimeError(`object ${key} not found`, { code: Code.NotFound, details: { key } });
    }
    const dir = await this.#folderOf(root, key);
    return open(
      path.join(dir, path.basename(this.#pathOf(root, key))),
      fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW,
    );
  }

  /** The root's real path, creating the root first. */
  async #ensureRoot(): Promise<string> {
    if (this.#realRoot !== undefined) return this.#realRoot;
    const first = await mkdir(this.root, { recursive: true, mode: this.#dirMode });
    if (first !== undefined) {
      // Make the new folders' names durable: sync the parent of each folder just created.
      const parents = [path.dirname(first)];
      for (let dir = this.root; dir !== first; dir = path.dirname(dir))
        parents.push(path.dirname(dir));
      for (const parent of parents) await fsyncDirectory(parent);
    }
    this.#realRoot = await realpath(this.root);
    return this.#realRoot;
  }

  /** The root's real path, or undefined when the root does not exist yet (then nothing is stored). */
  async #existingRoot(): Promise<string | undefined> {
    if (this.#realRoot !== undefined) return this.#realRoot;
    try {
      this.#realRoot = await realpath(this.root);
      return this.#realRoot;
    } catch (error) {
      if ((error as { code?: unknown }).code === "ENOENT") return undefined;
      throw error;
    }
  }

  #pathOf(root: string, key: string): string {
    const joined = path.join(root, ...key.split("/"));
    if (!joined.startsWith(root + path.sep)) {
      // validateKey makes this unreachable; kept as a second lock on the door.
      throw new RuntimeError(`key ${JSON.stringify(key)} resolves outside the storage root`, {
        code: Code.InvalidArgument,
        details: { key },
      });
    }
    return joined;
  }

  /**
   * The folder that holds `key`, checked to be a real folder under the root: no component from
   * the root down may be a symbolic link (its real path must be exactly itself). A missing folder
   * throws the file system's `ENOENT`.
   */
  async #folderOf(root: string, key: string): Promise<string> {
    const dir = path.dirname(this.#pathOf(root, key));
    if (dir === root) return dir;
    if ((await realpath(dir)) === dir) return dir;
    throw throughSymlink(key);
  }

  /**
   * Like {@link #folderOf}, creating missing folders one level at a time, each checked (`lstat`)
   * before the next is made inside it, so a planted symbolic link never makes a put create
   * anything outside the root. Returns the folders it created, whose parents must be synced.
   */
  async #makeFolderOf(root: string, key: string): Promise<{ dir: string; created: string[] }> {
    try {
      return { dir: await this.#folderOf(root, key), created: [] };
    } catch (error) {
      if ((error as { code?: unknown }).code !== "ENOENT") throw error;
    }
    const dir = path.dirname(this.#pathOf(root, key));
    const created: string[] = [];
    let current = root;
    for (const segment of path.relative(root, dir).split(path.sep)) {
      current = path.join(current, segment);
      try {
        await mkdir(current, { mode: this.#dirMode });
        created.push(current);
      } catch (error) {
        if ((error as { code?: unknown }).code !== "EEXIST") throw folderConflict(error, key);
      }
      const stats = await lstat(current);
      if (stats.isSymbolicLink()) throw throughSymlink(key);
      if (!stats.isDirectory()) {
        throw folderConflict(Object.assign(new Error("not a folder"), { code: "ENOTDIR" }), key);
      }
    }
    return { dir, created };
  }
}

/** Creates a {@link LocalStorage} over `options.root`. */
export function createLocalStorage(options: LocalStorageOptions): LocalStorage {
  return new LocalStorage(options);
}

/** Opens a folder for fsync; undefined if that fails (the caller then retries the plain way). */
function openFolder(dir: string): Promise<FileHandle | undefined> {
  return open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY).catch(() => undefined);
}

/** fsync a folder, so a rename or link in it survives a crash. */
async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function infoOf(key: string, stats: Stats): ObjectInfo {
  return {
    key,
    sizeBytes: stats.size,
    modifiedAtMs: stats.mtimeMs,
    // inode + size + mtime change whenever the object is replaced (a rename brings a new inode).
    etag: `${stats.ino.toString(16)}-${stats.size.toString(16)}-${Math.round(stats.mtimeMs * 1000).toString(16)}`,
  };
}

/**
 * A folder cannot also be a file: `a` and `a/b` cannot both be objects on a local disk (they can
 * on S3). Turns the errno of that clash into a clear `FailedPrecondition`; other errors pass.
 */
function folderConflict(error: unknown, key: string): unknown {
  const errno = (error as { code?: unknown } | null)?.code;
  if (errno === "EEXIST" || errno === "ENOTDIR" || errno === "EISDIR" || errno === "ENOTEMPTY") {
    return new RuntimeError(
      `put ${key}: the key clashes with an existing object or folder (a local disk cannot hold both "a" and "a/b")`,
      { code: Code.FailedPrecondition, cause: error, details: { key, errno } },
    );
  }
  return error;
}

function throughSymlink(key: string): RuntimeError {
  return new RuntimeError(
    `key ${JSON.stringify(key)} leads through a symbolic link, which storage never follows`,
    { code: Code.PermissionDenied, details: { key } },
  );
}

function notAnObject(key: string): RuntimeError {
  return new RuntimeError(`object ${key} not found (the key names something that is not a file)`, {
    code: Code.NotFound,
    details: { key },
  });
}

/** Whether a file name can be a key segment: skips temporary files and names no key could have. */
function isValidSegment(name: string): boolean {
  if (name.startsWith(RESERVED_SEGMENT_PREFIX)) return false;
  try {
    validateKey(name);
    return true;
  } catch {
    return false;
  }
}
