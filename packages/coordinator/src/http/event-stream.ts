import {
  type Clock,
  Code,
  type Logger,
  RuntimeError,
  systemClock,
  type TimerHandle,
} from "@strata/runtime-core";
import type { Request, RequestHandler, Response } from "express";
import type { ApiEvent, StreamHello, StreamTick } from "../api/events.js";
import type { History } from "../history/history.js";

/** Options for {@link EventStreamHub}. */
export interface EventStreamOptions {
  history: History;
  /** Sent in `hello`. */
  coordinatorId: string;
  /** When the coordinator started (ms since the epoch), sent in `hello`. */
  startedAtMs: () => number;
  clock?: Clock;
  logger: Logger;
  /** A client whose unsent data passes this is told `reset` (slow_consumer) and dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Interval of `: ping` comments, in ms. Default 15,000. */
  pingIntervalMs?: number;
  /** Most events replayed on connect; beyond that the client gets `reset` (replay_limit). Default 10,000. */
  replayLimit?: number;
  /** Called when a client is dropped as too slow (for a `log` event). */
  onDropped?: (clientCount: number) => void;
}

interface Client {
  response: Response;
  /** Frames queued this event-loop turn (encoded once, shared by every client). */
  queue: Buffer[];
  dropped: boolean;
}

/** One SSE frame, encoded. */
function frame(event: string, data: string, id?: number): Buffer {
  return Buffer.from(`${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`);
}

/** Parses `Last-Event-ID` / `?after=`: a non-negative integer, or a 400 naming the field. */
function resumeFrom(request: Request): number | undefined {
  const header = request.headers["last-event-id"];
  const query = request.query.after;
  const [field, raw] =
    typeof header === "string" && header.trim() !== ""
      ? ["last-event-id", header.trim()]
      : ["after", typeof query === "string" ? query.trim() : query];
  if (raw === undefined || raw === "") return undefined;
  const value = typeof raw === "string" && /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw new RuntimeError(`${field}: expected a non-negative integer event seq`, {
      code: Code.InvalidArgument,
      details: { field },
    });
  }
  return value;
}

/**
 * `/api/events`: the live event stream (protocol in `src/api/events.ts`). Every history event
 * goes to every client as `event: coordinator` with `id: <seq>`, a `tick` once a second, `: ping`
 * every 15 s. A client that resumes (`Last-Event-ID` or `?after=`) first gets the events it
 * missed, from history, so nothing is lost or repeated across reconnects and restarts.
 *
 * Frames are serialised once and written to all clients once per event-loop turn. A client that
 * does not read is never buffered without bound: past `maxBufferedBytes` of unsent data it gets
 * `reset` (slow_consumer) and is disconnected; it can reconnect and resume.
 */
export class EventStreamHub {
  readonly #o: EventStreamOptions;
  readonly #clock: Clock;
  readonly #clients = new Set<Client>();
  readonly #dirty = new Set<Client>();
  readonly #maxBuffered: number;
  readonly #unsubscribe: () => void;
  #flushScheduled = false;
  #pingTimer: TimerHandle | undefined;
  #closed = false;

  constructor(options: EventStreamOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
    // No client, no frame: a registration burst emits thousands of events nobody is reading.
    this.#unsubscribe = options.history.subscribe((event) => {
      if (this.#clients.size > 0) this.#broadcast(eventFrame(event));
    });
    this.#schedulePing();
  }

  /** Connected clients. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** The route handler. */
  readonly handler: RequestHandler = (request, response) => {
    if (this.#closed) {
      throw new RuntimeError("the coordinator is shutting down", { code: Code.Unavailable });
    }
    const after = resumeFrom(request);
    const history = this.#o.history;
    const hello: StreamHello = {
      seq: history.lastSeq,
      coordinator_id: this.#o.coordinatorId,
      started_at: this.#o.startedAtMs(),
    };
    if (request.method === "HEAD") {
      response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" }).end();
      return;
    }
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      // The connection is not reused once the stream ends, so shutdown is not held by it.
      connection: "close",
      // Proxies such as nginx would otherwise buffer the stream.
      "x-accel-buffering": "no",
    });
    request.socket.setNoDelay(true);
    const client: Client = { response, queue: [], dropped: false };
    // Everything below runs in one synchronous turn, so no live event slips between the replay
    // and the subscription: the stream is gap-free and in seq order.
    this.#enqueue(client, Buffer.from("retry: 2000\n\n"));
    this.#enqueue(client, frame("hello", JSON.stringify(hello)));
    if (after !== undefined) {
      const replay = history.replay(after, this.#o.replayLimit ?? 10_000);
      if (replay.ok) for (const event of replay.events) this.#enqueue(client, eventFrame(event));
      else this.#enqueue(client, frame("reset", JSON.stringify({ reason: replay.reason })));
    }
    this.#clients.add(client);
    const forget = () => {
      this.#clients.delete(client);
      this.#dirty.delete(client);
      // The client went away (its half of the connection is closed): release ours too.
      if (!response.writableEnded) response.destroy();
    };
    response.on("close", forget);
    response.on("error", forget);
    // A client that goes away half-closes the connection (FIN), which node's HTTP server does
    // not treat as the end of a response still being written.
    request.socket.once("end", forget);
  };

  /** Sends the once-a-second tick to every client. */
  tick(tick: StreamTick): void {
    if (this.#clients.size === 0) return;
    this.#broadcast(frame("tick", JSON.stringify(tick)));
  }

  /** Ends every stream (clients reconnect and resume elsewhere or later) and stops the timers. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    if (this.#pingTimer !== undefined) this.#clock.clearTimeout(this.#pingTimer);
    this.#flush();
    for (const client of this.#clients) client.response.end();
    this.#clients.clear();
  }

  #broadcast(frame: Buffer): void {
    for (const client of this.#clients) this.#enqueue(client, frame);
  }

  #enqueue(client: Client, frame: Buffer): void {
    if (client.dropped) return;
    client.queue.push(frame);
    this.#dirty.add(client);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    for (const client of this.#dirty) {
      if (client.dropped || client.queue.length === 0) continue;
      const chunk =
        client.queue.length === 1 ? (client.queue[0] as Buffer) : Buffer.concat(client.queue);
      client.queue = [];
      const response = client.response;
      if (response.writableLength + chunk.length > this.#maxBuffered) {
        this.#drop(client);
        continue;
      }
      response.write(chunk);
    }
    this.#dirty.clear();
  }

  /** Tells a client that stopped reading to reload, then disconnects it. */
  #drop(client: Client): void {
    client.dropped = true;
    this.#clients.delete(client);
    const response = client.response;
    response.end(frame("reset", JSON.stringify({ reason: "slow_consumer" })));
    // The reset may never be read; the socket must not outlive it by much.
    const timer = setTimeout(() => response.destroy(), 5_000);
    timer.unref();
    response.once("close", () => clearTimeout(timer));
    this.#o.logger.warn({ clients: this.#clients.size }, "event stream client too slow; dropped");
    this.#o.onDropped?.(this.#clients.size);
  }

  #schedulePing(): void {
    if (this.#closed) return;
    this.#pingTimer = this.#clock.setTimeout(
      () => {
        this.#broadcast(PING);
        this.#schedulePing();
      },
      this.#o.pingIntervalMs ?? 15_000,
      { unref: true },
    );
  }
}

const PING = Buffer.from(": ping\n\n");

function eventFrame(event: ApiEvent): Buffer {
  return frame("coordinator", JSON.stringify(event), event.seq);
}
