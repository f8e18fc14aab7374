import { Code, RuntimeError } from "@strata/runtime-core";
import { Router } from "express";
import { createSessionRequestSchema, type SessionResponse } from "../api/session.js";
import type { BearerAuth } from "../auth/bearer-auth.js";
import type { RequestAuth } from "./request-auth.js";
import { parseRequest } from "./request-validation.js";
import { SESSION_COOKIE } from "./session-cookie.js";

/**
 * `/api/session` (public): `GET` says whether a token is needed and whether the caller has it;
 * `POST {token}` checks the token and sets an HttpOnly, SameSite=Strict session cookie (`Secure`
 * over HTTPS), so a browser never puts the token in a URL or in script-readable storage;
 * `DELETE` clears the cookie.
 */
export function sessionRoutes(options: {
  auth: RequestAuth;
  bearer: BearerAuth | undefined;
  secure: boolean;
  onFailure?: () => void;
}): Router {
  const { auth, bearer, secure } = options;
  const router = Router();
  const cookieOptions = { httpOnly: true, sameSite: "strict" as const, secure, path: "/" };
  router.get("/", (request, response) => {
    const body: SessionResponse = {
      auth_required: auth.required,
      authenticated: auth.authenticated(request),
    };
    response.set("cache-control", "no-store").json(body);
  });
  router.post("/", (request, response) => {
    const { token } = parseRequest(createSessionRequestSchema, request.body, "body");
    if (bearer === undefined || auth.sessions === undefined) {
      // No token configured: every request is authenticated already; nothing to remember.
      response.status(204).end();
      return;
    }
    if (!bearer.check(`Bearer ${token}`)) {
      options.onFailure?.();
      throw new RuntimeError("wrong token", { code: Code.Unauthenticated });
    }
    const cookie = auth.sessions.issue();
    response
      .cookie(SESSION_COOKIE, cookie.value, { ...cookieOptions, maxAge: cookie.maxAgeMs })
      .status(204)
      .end();
  });
  router.delete("/", (_request, response) => {
    response.clearCookie(SESSION_COOKIE, cookieOptions).status(204).end();
  });
  return router;
}
