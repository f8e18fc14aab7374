import type { ApiEvent, StreamHello, StreamTick } from "@strata/coordinator/api";
import type { ConnectionState } from "./connection-state.js";
import { createSseParser, type SseMessage } from "./sse-parser.js";

/** What the stream delivers; every callback runs on the main thread as messages arrive. */
export interface EventStreamHandlers {
  /** The first message of each connection. `reconnected` is true after an earlier live connection. */
  onHello?(hello: StreamHello, reconnected: boolean): void;
  /** A coordinator event (`seq` order; replayed ones first after a reconnect). */
  onEvent?(event: ApiEvent): void;
  /** The once-a-second metric sample and changed workers. */
  onTick?(tick: StreamTick): void;
  /** The client missed too much: refetch every resource. */
  onReset?(reason: string): void;
  /** Every change of the connection state. */
  onState?(state: ConnectionState): void;
}

/** Options for {@link openEventStream}. */
export interface EventStreamOptions {
  /** URL of the stream, e.g. `/api/events` or `http://host:3000/api/events`. */
  url: string;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** `include` for a coordinator on another origin; default `same-origin`. */
  credentials?: RequestCredentials;
  /** Resume after this event seq (sent as `Last-Event-ID`). Default: live events only. */
  lastEventId?: number;
  /**
   * No byte for this long means a dead connection (the coordinator ticks every second and pings
   * every 15 s): abort and reconnect. Default 5,000 ms.
   */
  stallTimeoutMs?: number;
  /** Lost for this long turns `reconnecting` into `offline`. Default 10,000 ms. */
  offlineAfterMs?: number;
  /** First retry delay, doubled per failure up to `maxRetryMs`. Default 250 ms. */
  minRetryMs?: number;
  /** Longest retry delay, so a restarted coordinator is found within it. Default 3,000 ms. */
  maxRetryMs?: number;
  /** Retry delay while unauthorized (waiting for a sign-in). Default 15,000 ms. */
  unauthorizedRetryMs?: number;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** A running stream. */
export interface EventStream {
  /** The newest coordinator event seq received (the next `Last-Event-ID`), or undefined. */
  readonly lastEventId: number | undefined;
  /** The current connection state. */
  readonly state: ConnectionState;
  /** Drops the current attempt or wait and connects at once (after a sign-in, or `online`). */
  reconnectNow(): void;
  /** Stops for good. Idempotent. */
  close(): void;
}

/**
 * Opens the coordinator's `/api/events` stream (protocol in `@strata/coordinator/api`'s
 * `events.ts`) and keeps it open: a lost, stalled or refused connection is retried by itself with
 * capped exponential backoff and jitter, resuming with `Last-Event-ID` so replayed events fill the
 * gap. Implemented over `fetch` rather than `EventSource`, which gives up for good on an HTTP
 * error (a restarting coordinator answers 503) and cannot report why it failed.
 */
export function openEventStream(
  options: EventStreamOptions,
  handlers: EventStreamHandlers,
): EventStream {
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;
  const stallTimeoutMs = options.stallTimeoutMs ?? 5_000;
  const offlineAfterMs = options.offlineAfterMs ?? 10_000;
  const minRetryMs = options.minRetryMs ?? 250;
  const maxRetryMs = options.maxRetryMs ?? 3_000;
  const unauthorizedRetryMs = options.unauthorizedRetryMs ?? 15_000;

  let lastEventId = options.lastEventId;
  let closed = false;
  let everLive = false;
  let attemptController: AbortController | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let offlineTimer: ReturnType<typeof setTimeout> | undefined;
  let stallTimer: ReturnType<typeof setTimeout> | undefined;
  let state: ConnectionState = {
    status: "connecting",
    since: now(),
    lastLiveAt: null,
    attempt: 0,
    nextRetryAt: null,
    error: null,
  };

  const setState = (next: Partial<ConnectionState>): void => {
    state = { ...state, ...next };
    handlers.onState?.(state);
  };

  const clearTimers = (): void => {
    if (retryTimer !== undefined) clearTimeout(retryTimer);
    if (offlineTimer !== undefined) clearTimeout(offlineTimer);
    if (stallTimer !== undefined) clearTimeout(stallTimer);
    retryTimer = offlineTimer = stallTimer = undefined;
  };

  const dispatch = (message: SseMessage): void => {
    switch (message.event) {
      case "hello": {
        const hello = JSON.parse(message.data) as StreamHello;
        const reconnected = everLive;
        everLive = true;
        const at = now();
        setState({
          status: "live",
          since: at,
          lastLiveAt: at,
          attempt: 0,
          nextRetryAt: null,
          error: null,
        });
        handlers.onHello?.(hello, reconnected);
        break;
      }
      case "coordinator": {
        const event = JSON.parse(message.data) as ApiEvent;
        const id = message.id === undefined ? event.seq : Number(message.id);
        if (Number.isSafeInteger(id)) lastEventId = id;
        handlers.onEvent?.(event);
        break;
      }
      case "tick":
        if (state.status === "live") setState({ lastLiveAt: now() });
        handlers.onTick?.(JSON.parse(message.data) as StreamTick);
        break;
      case "reset": {
        const { reason } = JSON.parse(message.data) as { reason?: unknown };
        handlers.onReset?.(typeof reason === "string" ? reason : "reset");
        break;
      }
      default:
        break;
    }
  };

  const scheduleRetry = (error: string, unauthorized: boolean): void => {
    if (closed) return;
    clearTimers();
    const at = now();
    const attempt = state.attempt + 1;
    const lostAt = state.status === "reconnecting" || state.status === "offline" ? state.since : at;
    const base = Math.min(maxRetryMs, minRetryMs * 2 ** (attempt - 1));
    const delay = unauthorized ? unauthorizedRetryMs : base * (0.8 + Math.random() * 0.4);
    const status = unauthorized
      ? "unauthorized"
      : at - lostAt >= offlineAfterMs || state.status === "offline"
        ? "offline"
        : "reconnecting";
    setState({
      status,
      since: unauthorized && state.status !== "unauthorized" ? at : lostAt,
      attempt,
      nextRetryAt: at + delay,
      error,
    });
    if (status === "reconnecting") {
      offlineTimer = setTimeout(
        () => {
          if (!closed && state.status === "reconnecting") setState({ status: "offline" });
        },
        Math.max(0, lostAt + offlineAfterMs - at),
      );
    }
    retryTimer = setTimeout(() => void connect(), delay);
  };

  const armStall = (controller: AbortController): void => {
    if (stallTimer !== undefined) clearTimeout(stallTimer);
    stallTimer = undefined;
    if (closed || controller.signal.aborted) return;
    stallTimer = setTimeout(() => controller.abort(new Error("stalled")), stallTimeoutMs);
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    clearTimers();
    const controller = new AbortController();
    attemptController = controller;
    if (state.nextRetryAt !== null) setState({ nextRetryAt: null });
    armStall(controller);
    let failure = "the stream ended";
    let unauthorized = false;
    try {
      const headers: Record<string, string> = { accept: "text/event-stream" };
      if (lastEventId !== undefined) headers["last-event-id"] = String(lastEventId);
      const response = await fetchImpl(options.url, {
        headers,
        credentials: options.credentials ?? "same-origin",
        cache: "no-store",
        signal: controller.signal,
      });
      if (response.status === 401 || response.status === 403) {
        unauthorized = true;
        failure = "sign in with the coordinator's token";
        await response.body?.cancel();
        return;
      }
      const type = response.headers.get("content-type") ?? "";
      if (!response.ok || !type.includes("text/event-stream") || response.body === null) {
        failure = response.ok
          ? `unexpected content type ${JSON.stringify(type)}`
          : `HTTP ${response.status}`;
        await response.body?.cancel();
        return;
      }
      const parser = createSseParser({ onMessage: dispatch });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      armStall(controller);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        armStall(controller);
        parser.push(value);
        if (closed) return;
      }
    } catch (error) {
      if (closed) return;
      const reason = controller.signal.reason;
      failure =
        reason instanceof Error && reason.message === "stalled"
          ? `no data for ${stallTimeoutMs / 1000}s`
          : (error as Error).message || String(error);
    } finally {
      if (attemptController === controller) {
        attemptController = undefined;
        if (stallTimer !== undefined) clearTimeout(stallTimer);
        stallTimer = undefined;
      }
      controller.abort();
      if (!closed && !controller.signal.reason?.restart) scheduleRetry(failure, unauthorized);
    }
  };

  const onOnline = (): void => stream.reconnectNow();
  globalThis.addEventListener?.("online", onOnline);

  const stream: EventStream = {
    get lastEventId() {
      return lastEventId;
    },
    get state() {
      return state;
    },
    reconnectNow() {
      if (closed) return;
      const current = attemptController;
      if (current !== undefined) {
        current.abort({ restart: true });
        attemptController = undefined;
      }
      clearTimers();
      void connect();
    },
    close() {
      if (closed) return;
      closed = true;
      clearTimers();
      attemptController?.abort();
      globalThis.removeEventListener?.("online", onOnline);
    },
  };
  void connect();
  return stream;
}
