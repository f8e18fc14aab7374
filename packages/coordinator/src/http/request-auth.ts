import { Code, RuntimeError } from "@strata/runtime-core";
import type { Request, RequestHandler } from "express";
import type { BearerAuth } from "../auth/bearer-auth.js";
import { sendError } from "./api-error.js";
import { SESSION_COOKIE, type SessionCookies } from "./session-cookie.js";

/** How the HTTP side checks callers: the bearer token, or a session cookie it issued. */
export interface RequestAuth {
  /** Whether a token is configured at all. */
  readonly required: boolean;
  /** Whether `request` carries the token (`authorization: Bearer …`) or a valid session cookie. */
  authenticated(request: Request): boolean;
  /** Middleware answering 401 `unauthenticated` to requests that are not authenticated. */
  readonly middleware: RequestHandler;
  /** The session codec (undefined without a token). */
  readonly sessions: SessionCookies | undefined;
}

/** Creates the HTTP auth; without `bearer` every request is authenticated. */
export function createRequestAuth(options: {
  bearer: BearerAuth | undefined;
  sessions: SessionCookies | undefined;
  /** Called on each refused request (for metrics). */
  onFailure?: () => void;
}): RequestAuth {
  const { bearer, sessions } = options;
  const authenticated = (request: Request) =>
    bearer === undefined ||
    bearer.check(request.headers.authorization) ||
    (sessions?.verify((request.cookies as Record<string, unknown> | undefined)?.[SESSION_COOKIE]) ??
      false);
  return {
    required: bearer !== undefined,
    authenticated,
    sessions,
    middleware(request, response, next) {
      if (authenticated(request)) {
        next();
        return;
      }
      options.onFailure?.();
      sendError(
        response,
        new RuntimeError("missing or invalid bearer token", { code: Code.Unauthenticated }),
        { headers: { "www-authenticate": 'Bearer realm="strata"' } },
      );
    },
  };
}
