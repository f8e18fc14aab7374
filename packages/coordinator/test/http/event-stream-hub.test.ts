import { createServer, type Server } from "node:http";
import { connect as netConnect } from "node:net";
import { createSilentLogger } from "@strata/runtime-core";
import express from "express";
import { type History, openHistory } from "../../src/history/history.js";
import { errorHandler } from "../../src/http/api-error.js";
import { EventStreamHub } from "../../src/http/event-stream.js";
import { eventually, SseClient } from "./http-client.js";

// The hub in-process, on a real HTTP server on port 0, with small limits so a slow reader is
// reached quickly.

let history: History;
let hub: EventStreamHub;
let server: Server;
let url: string;
const dropped: number[] = [];

function append(message: string) {
  return history.append({
    type: "log",
    at: Date.now(),
    level: "info",
    message,
    source: "test",
    worker_id: null,
    task_id: null,
    dataset_id: null,
    barrier_id: null,
    job_id: null,
    data: {},
  });
}

beforeEach(async () => {
  history = openHistory({
    retention: { retentionMs: 3_600_000, fullResolutionMs: 60_000, maxEvents: 100_000 },
  });
  hub = new EventStreamHub({
    history,
    coordinatorId: "test",
    startedAtMs: () => 1,
    logger: createSilentLogger(),
    maxBufferedBytes: 256 * 1024,
    pingIntervalMs: 50,
    replayLimit: 5,
    onDropped: (clients) => dropped.push(clients),
  });
  const app = express();
  app.get("/events", hub.handler);
  app.use(errorHandler(createSilentLogger()));
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  url = `http://127.0.0.1:${address.port}/events`;
  dropped.length = 0;
});

afterEach(async () => {
  hub.close();
  await history.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test("live events in order with their seq as id, and ping comments", async () => {
  const client = await SseClient.open(url);
  try {
    const hello = await client.next((m) => m.event === "hello");
    expect(JSON.parse(hello.data)).toEqual({ seq: 0, coordinator_id: "test", started_at: 1 });
    for (let i = 0; i < 20; i++) append(`event ${i}`);
    await client.next((m) => m.data.includes("event 19"));
    expect(client.events().map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(client.messages.filter((m) => m.event === "coordinator").map((m) => m.id)).toEqual(
      Array.from({ length: 20 }, (_, i) => String(i + 1)),
    );
    hub.tick({ at: 5, sample: { workers_alive: 1 }, workers: [] });
    expect(JSON.parse((await client.next((m) => m.event === "tick")).data).sample).toEqual({
      workers_alive: 1,
    });
    await eventually(async () => (client.comments.includes("ping") ? true : undefined), "a ping");
  } finally {
    client.close();
  }
});

test("resuming replays what was missed, or says reset when it is too much or unknown", async () => {
  for (let i = 1; i <= 10; i++) append(`event ${i}`);
  const resumed = await SseClient.open(url, { "last-event-id": "7" });
  const tooFar = await SseClient.open(`${url}?after=2`);
  const future = await SseClient.open(`${url}?after=99`);
  try {
    await resumed.next((m) => m.data.includes("event 10"));
    expect(resumed.events().map((e) => e.seq)).toEqual([8, 9, 10]);
    const reset = await tooFar.next((m) => m.event !== "hello");
    expect(reset).toMatchObject({ event: "reset", data: '{"reason":"replay_limit"}' });
    expect((await future.next((m) => m.event !== "hello")).data).toBe('{"reason":"unknown_seq"}');
    // After a reset the stream goes on live.
    append("event 11");
    expect(JSON.parse((await tooFar.next((m) => m.event === "coordinator")).data).seq).toBe(11);
  } finally {
    for (const c of [resumed, tooFar, future]) c.close();
  }
});

test("a client that stops reading is told reset (slow_consumer) and dropped; a reading one is not", async () => {
  const reader = await SseClient.open(url);
  const socket = netConnect(Number(new URL(url).port), "127.0.0.1");
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(`GET /events HTTP/1.1\r\nHost: x\r\n\r\n`);
  socket.pause(); // never reads
  const filler = "x".repeat(2_000);
  for (let round = 0; round < 500 && dropped.length === 0; round++) {
    for (let i = 0; i < 50; i++) append(`${round}-${i} ${filler}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  expect(dropped).toEqual([1]);
  expect(hub.clientCount).toBe(1);
  // What the slow client finally reads ends with the reset, then the connection closes.
  const received: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  socket.resume();
  await new Promise((resolve) => socket.once("close", resolve));
  const text = Buffer.concat(received).toString();
  // (Raw HTTP/1.1: the body is chunked, so look at the last SSE frame, not the last bytes.)
  const lastFrame = text.slice(text.lastIndexOf("event: "));
  expect(lastFrame.startsWith('event: reset\ndata: {"reason":"slow_consumer"}\n\n')).toBe(true);
  // The reading client got every event, in order.
  const last = history.lastSeq;
  await reader.next((m) => m.id === String(last));
  const seqs = reader.events().map((e) => e.seq);
  expect(seqs).toEqual(Array.from({ length: last }, (_, i) => i + 1));
  reader.close();
});

test("a malformed Last-Event-ID is 400 naming the header", async () => {
  const answer = await fetch(url, { headers: { "last-event-id": "abc" } });
  expect(answer.status).toBe(400);
  expect(await answer.json()).toEqual({
    code: "invalid_argument",
    message: "last-event-id: expected a non-negative integer event seq",
    field: "last-event-id",
  });
});
