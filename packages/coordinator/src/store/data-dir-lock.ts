import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Code, RuntimeError } from "@strata/runtime-core";
import Database from "libsql";

/** The lock file inside the data directory (a tiny SQLite database held in exclusive mode). */
export const LOCK_FILE = "coordinator.lock";
/** The pid of the holder, for the error the next coordinator prints. */
export const PID_FILE = "coordinator.pid";

/** An exclusive hold on a data directory; see {@link lockDataDir}. */
export interface DataDirLock {
  readonly dir: string;
  /** Releases the lock. Idempotent. */
  release(): void;
}

/**
 * Takes the data directory for this process: one coordinator per directory, or two would hand out
 * the same ranks. The lock is SQLite's own exclusive lock on `coordinator.lock` (a POSIX advisory
 * lock the operating system releases when the process dies, so `kill -9` leaves no stale lock);
 * `coordinator.pid` names the holder.
 *
 * @throws RuntimeError(FailedPrecondition) naming the directory and the holder's pid when another
 *   process holds it; RuntimeError(Unavailable) when the lock file cannot be opened.
 */
export function lockDataDir(dir: string): DataDirLock {
  let db: InstanceType<typeof Database>;
  try {
    db = new Database(join(dir, LOCK_FILE));
    db.pragma("locking_mode = EXCLUSIVE");
  } catch (error) {
    throw new RuntimeError(`cannot open the lock file in data directory ${dir}`, {
      code: Code.Unavailable,
      cause: error,
      details: { field: "dataDir" },
    });
  }
  try {
    db.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === "SQLITE_BUSY") {
      throw new RuntimeError(
        `data directory ${dir} is in use by another coordinator (pid ${holderPid(dir)}); stop it first, or give this one its own --data-dir`,
        { code: Code.FailedPrecondition, details: { field: "dataDir", pid: holderPid(dir) } },
      );
    }
    throw new RuntimeError(`cannot lock data directory ${dir}`, {
      code: Code.Unavailable,
      cause: error,
      details: { field: "dataDir" },
    });
  }
  writeFileSync(join(dir, PID_FILE), `${process.pid}\n`);
  let released = false;
  return {
    dir,
    release() {
      if (released) return;
      released = true;
      try {
        rmSync(join(dir, PID_FILE), { force: true });
        db.exec("ROLLBACK");
      } finally {
        db.close();
      }
    },
  };
}

function holderPid(dir: string): string {
  try {
    return readFileSync(join(dir, PID_FILE), "utf8").trim() || "unknown";
  } catch {
    return "unknown";
  }
}
