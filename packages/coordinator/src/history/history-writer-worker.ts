/**
 * The history's writer thread: appends events, cluster samples and worker samples and applies
 * retention on its own SQLite connection, so a burst of thousands of events (or a batch of
 * 10,000 worker samples) never stalls the coordinator's event loop (reads stay on the main
 * thread's connection; WAL lets both run). Started by `sqlite-history.ts`.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "libsql";
import type { ApiEvent } from "../api/events.js";
import type { HistoryRetention, HistorySample, WorkerSampleBatch } from "./history-database.js";
import { prepareHistoryWrites } from "./history-sql.js";

/** A request to the writer thread. */
export type HistoryWriterRequest =
  | {
      type: "write";
      id: number;
      events: readonly ApiEvent[];
      samples: readonly HistorySample[];
      workerSamples: readonly WorkerSampleBatch[];
    }
  | { type: "compact"; id: number; nowMs: number; retention: HistoryRetention }
  | { type: "close"; id: number };

/** The writer thread's answer to one request. */
export type HistoryWriterReply =
  | { id: number; ok: true }
  | { id: number; ok: false; error: string };

const port = parentPort;
if (port === null) throw new Error("history-writer-worker must run as a worker thread");
const { path } = workerData as { path: string };

const db = new Database(path);
db.pragma("journal_mode = WAL");
// Batches are written without an fsync of their own (they survive a killed process); seq
// reservations, which must survive a machine crash, are fsynced by the main thread.
db.pragma("synchronous = NORMAL");
db.pragma("busy_timeout = 5000");

const writes = prepareHistoryWrites(db);

port.on("message", (request: HistoryWriterRequest) => {
  let reply: HistoryWriterReply;
  try {
    if (request.type === "write") {
      writes.write(request.events, request.samples, request.workerSamples);
    } else if (request.type === "compact") writes.compact(request.nowMs, request.retention);
    else db.close();
    reply = { id: request.id, ok: true };
  } catch (error) {
    reply = { id: request.id, ok: false, error: (error as Error).message ?? String(error) };
  }
  port.postMessage(reply);
  if (request.type === "close") port.close();
});
