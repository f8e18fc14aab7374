import { Code, RuntimeError } from "@strata/runtime-core";
import type { RequestHandler } from "express";
import { sendError } from "./api-error.js";

/**
 * The last handler of a route: 405 with an `Allow` header listing the methods the path has
 * (HEAD goes with GET), instead of a misleading 404.
 */
export function methodNotAllowed(...methods: readonly string[]): RequestHandler {
  const allow = methods.includes("GET") ? [...methods, "HEAD"] : [...methods];
  return (request, response) => {
    sendError(
      response,
      new RuntimeError(`method ${request.method} not allowed on ${request.path}`, {
        code: Code.Unimplemented,
      }),
      { status: 405, headers: { allow: allow.join(", ") } },
    );
  };
}
