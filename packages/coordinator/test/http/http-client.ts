import type { z } from "zod";

/** A JSON answer. */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  /** The parsed body (undefined when empty or not JSON). */
  body: unknown;
  text: string;
}

/** Options of one call. */
export interface CallOptions {
  method?: string;
  token?: string;
  cookie?: string;
  /** Sent as JSON unless `rawBody` is given. */
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** Calls the coordinator's HTTP API at `base` (`http://127.0.0.1:1234`). */
export async function call(
  base: string,
  path: string,
  options: CallOptions = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
  const response = await fetch(`${base}${path}`, {
    method: options.method ?? (body === undefined ? "GET" : "POST"),
    headers,
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** GETs `path`, expects 200 and returns the body parsed by `schema` (the contract check). */
export async function getParsed<S extends z.ZodType>(
  base: string,
  path: string,
  schema: S,
  options: CallOptions = {},
): Promise<z.infer<S>> {
  const answer = await call(base, path, options);
  if (answer.status !== 200) {
    throw new Error(
      `GET ${path}: expected 200, got ${answer.status}: ${answer.text.slice(0, 500)}`,
    );
  }
  return schema.parse(answer.body);
}

/** One server-sent event. */
export interface SseMessage {
  event: string;
  id: string | undefined;
  data: string;
}

/** A client of `/api/events` that keeps every message and lets a test await the next matching one. */
export class SseClient {
  readonly messages: SseMessage[] = [];
  /** Comment lines seen (`: ping`). */
  readonly comments: string[] = [];
  #cursor = 0;
  #waiters: (() => void)[] = [];
  #ended = false;
  #error: unknown;

  private constructor(private readonly controller: AbortController) {}

  /** Opens the stream; resolves once the response headers arrived. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const controller = new AbortController();
    const client = new SseClient(controller);
    const response = await fetch(url, { headers, signal: controller.signal });
    if (response.status !== 200 || response.body === null) {
      const text = await response.text();
      throw new Error(`event stream: ${response.status} ${text}`);
    }
    client.#pump(response.body).catch(() => undefined);
    return client;
  }

  /** Whether the server ended the stream. */
  get ended(): boolean {
    return this.#ended;
  }

  async #pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          this.#parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
        }
        this.#wake();
      }
    } catch (error) {
      this.#error = error;
    } finally {
      this.#ended = true;
      this.#wake();
    }
  }

  #parse(block: string): void {
    let event = "message";
    let id: string | undefined;
    const data: string[] = [];
    let any = false;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "id") id = value;
      else if (field === "data") data.push(value);
      else continue;
      any = true;
    }
    if (any && data.length > 0) this.messages.push({ event, id, data: data.join("\n") });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** The next message (after those already taken) matching `predicate`. */
  async next(
    predicate: (message: SseMessage) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<SseMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#cursor < this.messages.length) {
        const message = this.messages[this.#cursor++] as SseMessage;
        if (predicate(message)) return message;
      }
      if (this.#ended) {
        throw new Error(`event stream ended while waiting (${String(this.#error ?? "closed")})`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for an event stream message");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Every `coordinator` event parsed so far. */
  events(): { seq: number; type: string; [key: string]: unknown }[] {
    return this.messages
      .filter((m) => m.event === "coordinator")
      .map((m) => JSON.parse(m.data) as { seq: number; type: string });
  }

  close(): void {
    this.controller.abort();
  }
}

/** Polls `probe` every 50 ms until it returns a value other than undefined (bounded). */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
