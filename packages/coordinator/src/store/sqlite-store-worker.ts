/**
 * The SQLite store's worker thread: owns the database connection, so commits (and their fsyncs)
 * never block the coordinator's event loop. Messages that arrive while a commit runs are
 * committed together in the next transaction (group commit). Started by `sqlite-store.ts`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Code, RuntimeError } from "@strata/runtime-core";
import type { StoreOp } from "./coordinator-store.js";
import { type CoordinatorDatabase, openCoordinatorDatabase } from "./sqlite-database.js";
import type {
  SqliteWorkerData,
  SqliteWorkerReply,
  SqliteWorkerRequest,
} from "./sqlite-store-protocol.js";

const port = parentPort;
if (port === null) throw new Error("sqlite-store-worker must run as a worker thread");
const data = workerData as SqliteWorkerData;

function toReplyError(error: unknown): { code: number; message: string } {
  const e = RuntimeError.from(error);
  return { code: e.code, message: e.rawMessage };
}

let db: CoordinatorDatabase | undefined;
try {
  db = openCoordinatorDatabase({ path: data.path, synchronous: data.synchronous });
  port.postMessage({ type: "ready" } satisfies SqliteWorkerReply);
} catch (error) {
  port.postMessage({ type: "init_error", error: toReplyError(error) } satisfies SqliteWorkerReply);
  port.close();
}

const queue: SqliteWorkerRequest[] = [];
let scheduled = false;
const pause = new Int32Array(new SharedArrayBuffer(4));

port.on("message", (request: SqliteWorkerRequest) => {
  queue.push(request);
  if (!scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
});

function reply(message: SqliteWorkerReply): void {
  port?.postMessage(message);
}

function drain(): void {
  scheduled = false;
  while (queue.length > 0) {
    const first = queue[0] as SqliteWorkerRequest;
    if (first.type !== "apply") {
      queue.shift();
      handleOther(first);
      continue;
    }
    // Every apply waiting right now goes into one transaction.
    const group: { id: number; ops: readonly StoreOp[] }[] = [];
    while (queue.length > 0 && (queue[0] as SqliteWorkerRequest).type === "apply") {
      group.push(queue.shift() as { id: number; ops: readonly StoreOp[] });
    }
    try {
      if (db === undefined)
        throw new RuntimeError("coordinator database is not open", { code: Code.Unavailable });
      if (data.simulatedCommitLatencyMs > 0) {
        // Benchmarks only: a slow disk. Blocks this thread, never the event loop.
        Atomics.wait(pause, 0, 0, data.simulatedCommitLatencyMs);
      }
      db.commit(group.length === 1 ? (group[0]?.ops ?? []) : group.flatMap((g) => g.ops));
      for (const g of group) reply({ type: "done", id: g.id });
    } catch (error) {
      const failure = toReplyError(error);
      for (const g of group) reply({ type: "failed", id: g.id, error: failure });
    }
  }
}

function handleOther(request: SqliteWorkerRequest): void {
  try {
    if (request.type === "load") {
      if (db === undefined)
        throw new RuntimeError("coordinator database is not open", { code: Code.Unavailable });
      reply({ type: "loaded", id: request.id, state: db.readAll() });
    } else if (request.type === "close") {
      db?.close();
      db = undefined;
      reply({ type: "done", id: request.id });
      port?.close();
    }
  } catch (error) {
    reply({ type: "failed", id: request.id, error: toReplyError(error) });
  }
}
