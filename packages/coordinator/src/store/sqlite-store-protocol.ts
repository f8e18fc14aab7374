import type { StoredState, StoreOp } from "./coordinator-store.js";

/** What the SQLite store passes to its worker thread at start. */
export interface SqliteWorkerData {
  path: string;
  synchronous: "full" | "normal";
  /** Benchmarks only: every commit sleeps this long first (a slow disk). */
  simulatedCommitLatencyMs: number;
}

/** A request from the store to its worker thread. */
export type SqliteWorkerRequest =
  | { type: "load"; id: number }
  | { type: "apply"; id: number; ops: readonly StoreOp[] }
  | { type: "close"; id: number };

/** A reply from the worker thread. Errors travel as a gRPC code and a message. */
export type SqliteWorkerReply =
  | { type: "ready" }
  | { type: "init_error"; error: { code: number; message: string } }
  | { type: "loaded"; id: number; state: StoredState }
  | { type: "done"; id: number }
  | { type: "failed"; id: number; error: { code: number; message: string } };
