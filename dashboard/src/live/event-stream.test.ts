/**
 * @jest-environment node
 */
import type { ApiEvent, StreamTick } from "@strata/coordinator/api";
import type { ConnectionState } from "./connection-state.js";
import { openEventStream } from "./event-stream.js";

/** A fake coordinator stream: each fetch is one connection the test writes to or ends. */
function fakeServer() {
  const encoder = new TextEncoder();
  const connections: {
    headers: Record<string, string>;
    write(text: string): void;
    end(): void;
  }[] = [];
  let answer: "stream" | number = "stream";
  const fakeFetch = (async (_url: string, init: RequestInit) => {
    const headers = { ...(init.headers as Record<string, string>) };
    if (answer !== "stream") {
      connections.push({ headers, write() {}, end() {} });
      return new Response("no", { status: answer });
    }
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
    });
    init.signal?.addEventListener("abort", () => {
      try {
        controller.error(new Error("aborted"));
      } catch {}
    });
    connections.push({
      headers,
      write: (text) => controller.enqueue(encoder.encode(text)),
      end: () => controller.close(),
    });
    return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
  }) as unknown as typeof globalThis.fetch;
  return {
    fetch: fakeFetch,
    connections,
    answer(next: "stream" | number) {
      answer = next;
    },
    last() {
      const c = connections[connections.length - 1];
      if (c === undefined) throw new Error("no connection yet");
      return c;
    },
  };
}

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const hello = (seq: number) =>
  `event: hello\ndata: {"seq":${seq},"coordinator_id":"c","started_at":1}\n\n`;
const event = (seq: number) =>
  `event: coordinator\nid: ${seq}\ndata: ${JSON.stringify({ seq, type: "worker_registered", message: `e${seq}` })}\n\n`;

const fast = { minRetryMs: 5, maxRetryMs: 20, offlineAfterMs: 150, stallTimeoutMs: 2_000 };

describe("event stream", () => {
  test("goes live on hello, delivers events and ticks, and resumes with Last-Event-ID after a drop", async () => {
    const server = fakeServer();
    const events: ApiEvent[] = [];
    const ticks: StreamTick[] = [];
    const hellos: boolean[] = [];
    const states: ConnectionState[] = [];
    const stream = openEventStream(
      { url: "/api/events", fetch: server.fetch, ...fast },
      {
        onEvent: (e) => events.push(e),
        onTick: (t) => ticks.push(t),
        onHello: (_h, reconnected) => hellos.push(reconnected),
        onState: (s) => states.push(s),
      },
    );
    try {
      await until(() => server.connections.length === 1);
      expect(server.last().headers["last-event-id"]).toBeUndefined();
      expect(stream.state.status).toBe("connecting");
      server.last().write(hello(6));
      await until(() => stream.state.status === "live");
      server
        .last()
        .write(`${event(7)}${event(8)}event: tick\ndata: {"at":5,"sample":{},"workers":[]}\n\n`);
      await until(() => events.length === 2 && ticks.length === 1);
      expect(stream.lastEventId).toBe(8);

      server.last().end();
      await until(() => server.connections.length === 2);
      expect(states.some((s) => s.status === "reconnecting")).toBe(true);
      expect(server.last().headers["last-event-id"]).toBe("8");
      server.last().write(hello(8));
      await until(() => hellos.length === 2);
      expect(hellos).toEqual([false, true]);
      expect(stream.state.status).toBe("live");
      expect(stream.state.attempt).toBe(0);
    } finally {
      stream.close();
    }
  });

  test("keeps retrying a refusing coordinator, turns offline after offlineAfterMs, recovers by itself", async () => {
    const server = fakeServer();
    const stream = openEventStream({ url: "/api/events", fetch: server.fetch, ...fast }, {});
    try {
      await until(() => server.connections.length === 1);
      server.last().write(hello(1));
      await until(() => stream.state.status === "live");
      server.answer(503);
      server.last().end();
      await until(() => stream.state.status === "reconnecting");
      const lostAt = stream.state.since;
      await until(() => stream.state.status === "offline");
      expect(stream.state.since).toBe(lostAt);
      expect(stream.state.error).toBe("HTTP 503");
      const attempts = server.connections.length;
      await until(() => server.connections.length > attempts + 2);
      server.answer("stream");
      await until(
        () =>
          server.last().headers.accept === "text/event-stream" &&
          server.connections.length > attempts + 3,
      );
      await until(() => {
        try {
          server.last().write(hello(1));
        } catch {}
        return stream.state.status === "live";
      });
    } finally {
      stream.close();
    }
  });

  test("a 401 shows unauthorized and waits; reconnectNow (after signing in) connects at once", async () => {
    const server = fakeServer();
    server.answer(401);
    const stream = openEventStream(
      { url: "/api/events", fetch: server.fetch, ...fast, unauthorizedRetryMs: 60_000 },
      {},
    );
    try {
      await until(() => stream.state.status === "unauthorized");
      const attempts = server.connections.length;
      await new Promise((r) => setTimeout(r, 60));
      expect(server.connections.length).toBe(attempts);
      server.answer("stream");
      stream.reconnectNow();
      await until(() => server.connections.length === attempts + 1);
      server.last().write(hello(0));
      await until(() => stream.state.status === "live");
    } finally {
      stream.close();
    }
  });

  test("a stalled stream (no bytes, not even pings) is dropped and reopened", async () => {
    const server = fakeServer();
    const stream = openEventStream(
      { url: "/api/events", fetch: server.fetch, ...fast, stallTimeoutMs: 80 },
      {},
    );
    try {
      await until(() => server.connections.length === 1);
      server.last().write(hello(3));
      await until(() => stream.state.status === "live");
      await until(() => server.connections.length === 2);
      expect(stream.state.error).toMatch(/no data/);
    } finally {
      stream.close();
    }
  });

  test("close stops for good", async () => {
    const server = fakeServer();
    const stream = openEventStream({ url: "/api/events", fetch: server.fetch, ...fast }, {});
    await until(() => server.connections.length === 1);
    stream.close();
    stream.close();
    await new Promise((r) => setTimeout(r, 60));
    expect(server.connections).toHaveLength(1);
  });
});
