import { ApiRequestError } from "./api-request-error.js";

/** Query-string values; `undefined`, `null` and `""` are left out. */
export type QueryParams = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** A small typed client for the coordinator's HTTP API (`/api/*`). */
export interface ApiClient {
  /** The coordinator origin, or `""` for the page's own origin. */
  readonly baseUrl: string;
  /** The fetch the client (and the event stream) use. */
  readonly fetch: typeof fetch;
  /** Whether requests go to another origin (cookies are then sent with `credentials: include`). */
  readonly crossOrigin: boolean;
  /** The absolute or root-relative URL of an API path with its query. */
  url(path: string, query?: QueryParams): string;
  /** `GET path` parsed as JSON of type `T` (the response types of `@strata/coordinator/api`). */
  get<T>(path: string, options?: { query?: QueryParams; signal?: AbortSignal }): Promise<T>;
  /** `POST`/`PUT`/`DELETE` with an optional JSON body; a 204 answer resolves to `undefined`. */
  send<T>(
    method: "POST" | "PUT" | "DELETE",
    path: string,
    body?: unknown,
    options?: { signal?: AbortSignal },
  ): Promise<T>;
}

/** Options for {@link createApiClient}. */
export interface ApiClientOptions {
  /** Coordinator origin (`http://host:3000`), or `""` (default) for the page's own origin. */
  baseUrl?: string;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** Creates an {@link ApiClient}. Errors are thrown as {@link ApiRequestError}. */
export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  const baseUrl = options.baseUrl ?? "";
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const crossOrigin =
    baseUrl !== "" &&
    typeof globalThis.location !== "undefined" &&
    new URL(baseUrl).origin !== globalThis.location.origin;
  const credentials: RequestCredentials = crossOrigin ? "include" : "same-origin";

  const url = (path: string, query?: QueryParams): string => {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined || value === null || value === "") continue;
      params.set(key, String(value));
    }
    const search = params.toString();
    return `${baseUrl}${path}${search === "" ? "" : `?${search}`}`;
  };

  const request = async <T>(method: string, target: string, init: RequestInit): Promise<T> => {
    let response: Response;
    try {
      response = await fetchImpl(target, { ...init, method, credentials });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      const where = baseUrl === "" ? "the coordinator" : `the coordinator at ${baseUrl}`;
      throw new ApiRequestError(`cannot reach ${where}: ${(error as Error).message}`, {
        status: 0,
        code: "unreachable",
      });
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const payload = (body ?? {}) as { code?: unknown; message?: unknown; field?: unknown };
      const message =
        typeof payload.message === "string"
          ? payload.message
          : `${method} ${new URL(target, "http://x").pathname} failed with HTTP ${response.status}`;
      throw new ApiRequestError(message, {
        status: response.status,
        code: typeof payload.code === "string" ? payload.code : `http_${response.status}`,
        field: typeof payload.field === "string" ? payload.field : null,
      });
    }
    if (body === undefined && text !== "") {
      throw new ApiRequestError(`${method} ${target}: the answer is not JSON`, {
        status: response.status,
        code: "bad_response",
      });
    }
    return body as T;
  };

  return {
    baseUrl,
    fetch: fetchImpl,
    crossOrigin,
    url,
    get: (path, opts) =>
      request("GET", url(path, opts?.query), {
        headers: { accept: "application/json" },
        signal: opts?.signal ?? null,
      }),
    send: (method, path, body, opts) =>
      request(method, url(path), {
        headers:
          body === undefined
            ? { accept: "application/json" }
            : { accept: "application/json", "content-type": "application/json" },
        body: body === undefined ? null : JSON.stringify(body),
        signal: opts?.signal ?? null,
      }),
  };
}
