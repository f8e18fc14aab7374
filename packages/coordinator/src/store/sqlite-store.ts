import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Code, RuntimeError } from "@strata/runtime-core";
import type { CoordinatorStore, StoredState } from "./coordinator-store.js";
import type {
  SqliteWorkerData,
  SqliteWorkerReply,
  SqliteWorkerRequest,
} from "./sqlite-store-protocol.js";

/** Options for {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * The database file. The caller (the CLI) puts it inside the data directory; the store never
   * touches any other path (SQLite adds `-wal` and `-shm` files next to it). `:memory:` works too.
   */
  path: string;
  /**
   * SQLite `synchronous` level. Default `"full"`: every transaction is fsynced before `apply`
   * resolves, so a change the engine acknowledged survives power loss, not only `kill -9`. It is
   * affordable because the hot path (heartbeats) never writes through, the engine batches state
   * changes, and the commits run on a worker thread. `"normal"` in WAL mode survives process
   * crashes but may lose the last transactions on power loss.
   */
  synchronous?: "full" | "normal";
  /**
   * For benchmarks and fault tests only: every commit first sleeps this long on the store's
   * thread, as on a slow disk. Default 0.
   */
  simulatedCommitLatencyMs?: number;
}

interface Pending {
  resolve: (value: StoredState | undefined) => void;
  reject: (error: RuntimeError) => void;
}

/**
 * Opens (creating if needed) the coordinator's SQLite database through `libsql` (prebuilt
 * binaries, the better-sqlite3 API) on a worker thread, and returns a {@link CoordinatorStore}.
 * SQLite is synchronous; on its own thread its commits and fsyncs never stall heartbeats or the
 * failure detector. Everything applied while a commit runs is committed together next (group
 * commit). A failed transaction rejects every `apply` in it with `RuntimeError(Unavailable)` and
 * keeps nothing of it. Opening errors surface on `load()`.
 */
export function createSqliteStore(options: SqliteStoreOptions): CoordinatorStore {
  const data: SqliteWorkerData = {
    path: options.path,
    synchronous: options.synchronous ?? "full",
    simulatedCommitLatencyMs: options.simulatedCommitLatencyMs ?? 0,
  };
  const worker = startWorker(data);
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let failure: RuntimeError | undefined;
  let closing: Promise<void> | undefined;
  let resolveReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });

  const fail = (error: RuntimeError) => {
    failure ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
    resolveReady();
  };
  worker.on("message", (message: SqliteWorkerReply) => {
    switch (message.type) {
      case "ready":
        resolveReady();
        return;
      case "init_error":
        fail(toError(message.error));
        void worker.terminate();
        return;
      default: {
        const p = pending.get(message.id);
        if (p === undefined) return;
        pending.delete(message.id);
        if (pending.size === 0) worker.unref();
        if (message.type === "failed") p.reject(toError(message.error));
        else p.resolve(message.type === "loaded" ? message.state : undefined);
      }
    }
  });
  worker.on("error", (error) => {
    fail(
      new RuntimeError(`coordinator database thread failed: ${error.message}`, {
        code: Code.Unavailable,
        cause: error,
      }),
    );
  });
  worker.on("exit", () => {
    fail(new RuntimeError("coordinator store is closed", { code: Code.Unavailable }));
  });

  function send(
    request: SqliteWorkerRequest extends infer R
      ? R extends SqliteWorkerRequest
        ? Omit<R, "id">
        : never
      : never,
  ): Promise<StoredState | undefined> {
    if (failure !== undefined) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...request, id } as SqliteWorkerRequest);
    });
  }

  return {
    kind: "sqlite",
    async load() {
      await ready;
      if (closing !== undefined) throw closedError();
      return (await send({ type: "load" })) as StoredState;
    },
    apply(ops) {
      if (closing !== undefined) return Promise.reject(closedError());
      if (ops.length === 0) return Promise.resolve();
      return send({ type: "apply", ops }).then(() => undefined);
    },
    close() {
      closing ??= (async () => {
        await ready;
        if (failure === undefined) await send({ type: "close" }).catch(() => undefined);
        await worker.terminate();
      })();
      return closing;
    },
  };
}

function toError(error: { code: number; message: string }): RuntimeError {
  return new RuntimeError(error.message, { code: error.code as Code });
}

function closedError(): RuntimeError {
  return new RuntimeError("coordinator store is closed", { code: Code.Unavailable });
}

/**
 * Starts the worker thread from the built JavaScript next to this file, or, when running from
 * TypeScript sources (tests, benchmarks), through tsx with the `@strata/source` condition.
 */
function startWorker(data: SqliteWorkerData): Worker {
  const js = new URL("./sqlite-store-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData: data });
  const ts = new URL("./sqlite-store-worker.ts", import.meta.url).href;
  const boot = `import("tsx/esm/api").then(({ tsImport }) => tsImport(${JSON.stringify(ts)}, ${JSON.stringify(ts)}));`;
  return new Worker(boot, {
    eval: true,
    workerData: data,
    execArgv: ["--conditions=@strata/source"],
  });
}
