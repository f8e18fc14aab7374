import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@strata/runtime-core";
import { Code, codeToHttpStatus, codeToString, RuntimeError } from "@strata/runtime-core";
import type { BearerAuth } from "../auth/bearer-auth.js";

/** What a route handler returns: a status, a body (objects are sent as JSON) and extra headers. */
export interface HttpResult {
  status?: number;
  body: unknown;
  /** Defaults to `application/json` for objects and `text/plain` for strings. */
  contentType?: string;
  headers?: Readonly<Record<string, string>>;
}

/** A route handler. Throw a `RuntimeError` to answer `{code, message}` with the mapped status. */
export type HttpHandler = (request: IncomingMessage, url: URL) => HttpResult | Promise<HttpResult>;

/** Per-route options. */
export interface RouteOptions {
  /** Reachable without the bearer token even when one is configured (liveness only). */
  public?: boolean;
}

/**
 * A small method + exact-path router for the coordinator's HTTP side. The dashboard API (a later
 * issue) adds its routes with {@link HttpRouter.route}; auth, errors and JSON are handled here.
 */
export interface HttpRouter {
  route(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    handler: HttpHandler,
    options?: RouteOptions,
  ): void;
  /** The node:http request listener. */
  handle(request: IncomingMessage, response: ServerResponse): void;
}

/** Options for {@link createHttpRouter}. */
export interface HttpRouterOptions {
  /** When set, every non-public route needs `authorization: Bearer <token>`. */
  auth: BearerAuth | undefined;
  logger: Logger;
  /** Called on each refused token (for metrics). */
  onAuthFailure?: () => void;
}

function send(response: ServerResponse, result: HttpResult): void {
  const isText = typeof result.body === "string";
  const payload = isText ? (result.body as string) : JSON.stringify(result.body);
  response.writeHead(result.status ?? 200, {
    "content-type":
      result.contentType ??
      (isText ? "text/plain; charset=utf-8" : "application/json; charset=utf-8"),
    "content-length": Buffer.byteLength(payload),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...result.headers,
  });
  response.end(payload);
}

function errorResult(error: RuntimeError): HttpResult {
  return {
    status: codeToHttpStatus(error.code),
    body: { code: codeToString(error.code), message: error.rawMessage },
  };
}

/** Creates an empty router. */
export function createHttpRouter(options: HttpRouterOptions): HttpRouter {
  const routes = new Map<string, Map<string, { handler: HttpHandler; public: boolean }>>();
  return {
    route(method, path, handler, routeOptions) {
      let byMethod = routes.get(path);
      if (byMethod === undefined) {
        byMethod = new Map();
        routes.set(path, byMethod);
      }
      byMethod.set(method, { handler, public: routeOptions?.public ?? false });
    },
    handle(request, response) {
      let url: URL;
      try {
        url = new URL(request.url ?? "/", "http://localhost");
      } catch {
        send(
          response,
          errorResult(new RuntimeError("malformed URL", { code: Code.InvalidArgument })),
        );
        return;
      }
      const byMethod = routes.get(url.pathname);
      const route =
        byMethod?.get(request.method ?? "GET") ??
        (request.method === "HEAD" ? byMethod?.get("GET") : undefined);
      if (byMethod === undefined) {
        send(
          response,
          errorResult(new RuntimeError(`no route ${url.pathname}`, { code: Code.NotFound })),
        );
        return;
      }
      if (route === undefined) {
        send(response, {
          ...errorResult(
            new RuntimeError(`method ${request.method} not allowed`, { code: Code.Unimplemented }),
          ),
          status: 405,
          headers: { allow: [...byMethod.keys()].join(", ") },
        });
        return;
      }
      if (
        !route.public &&
        options.auth !== undefined &&
        !options.auth.check(request.headers.authorization)
      ) {
        options.onAuthFailure?.();
        send(response, {
          ...errorResult(
            new RuntimeError("missing or invalid bearer token", { code: Code.Unauthenticated }),
          ),
          headers: { "www-authenticate": 'Bearer realm="strata"' },
        });
        return;
      }
      const fail = (reason: unknown) => {
        const error = RuntimeError.from(reason, Code.Internal);
        if (reason instanceof RuntimeError) send(response, errorResult(error));
        else {
          options.logger.error({ err: error, path: url.pathname }, "http handler failed");
          send(response, errorResult(new RuntimeError("internal error", { code: Code.Internal })));
        }
      };
      try {
        const result = route.handler(request, url);
        if (result instanceof Promise) result.then((r) => send(response, r), fail);
        else send(response, result);
      } catch (error) {
        fail(error);
      }
    },
  };
}
