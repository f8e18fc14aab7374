import type { Logger } from "@strata/runtime-core";
import { Code, codeToHttpStatus, codeToString, RuntimeError } from "@strata/runtime-core";
import type { ErrorRequestHandler, Response } from "express";
import type { ApiError } from "../api/common.js";

/** The field a validation error names, if it names one. */
function fieldOf(error: RuntimeError): string | undefined {
  const field = error.details.field;
  return typeof field === "string" ? field : undefined;
}

/** Sends `error` as `{code, message}` (plus `field` when it names one) with its mapped HTTP status. */
export function sendError(
  response: Response,
  error: RuntimeError,
  options: { status?: number; headers?: Readonly<Record<string, string>> } = {},
): void {
  const field = fieldOf(error);
  const body: ApiError = {
    code: codeToString(error.code),
    message: error.rawMessage,
    ...(field === undefined ? {} : { field }),
  };
  if (response.headersSent) {
    response.destroy();
    return;
  }
  response
    .status(options.status ?? codeToHttpStatus(error.code))
    .set({ "cache-control": "no-store", ...options.headers })
    .json(body);
}

/** The shape body-parser gives its errors (`type` names the failure). */
interface BodyParserError {
  type?: unknown;
  status?: unknown;
}

/**
 * The last middleware: a `RuntimeError` answers with its mapped status; body-parser failures are
 * 413 (too large) or 400 naming `body`; anything else is logged and answered `internal error`
 * without details (no foreign message or stack reaches a client).
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (reason: unknown, request, response, _next) => {
    if (reason instanceof RuntimeError) {
      if (reason.code === Code.Internal || reason.code === Code.Unknown) {
        logger.error({ err: reason, path: request.path }, "http request failed");
      }
      sendError(response, reason);
      return;
    }
    const type = (reason as BodyParserError | null)?.type;
    if (type === "entity.too.large") {
      sendError(
        response,
        new RuntimeError("body: request body too large", {
          code: Code.ResourceExhausted,
          details: { field: "body" },
        }),
        { status: 413 },
      );
      return;
    }
    if (typeof type === "string" && (type.startsWith("entity.") || type.includes("encoding"))) {
      sendError(
        response,
        new RuntimeError(`body: ${type === "entity.parse.failed" ? "malformed JSON" : type}`, {
          code: Code.InvalidArgument,
          details: { field: "body" },
        }),
      );
      return;
    }
    // Errors of express's own middleware (static files: 404 missing, 403 forbidden path, 416 range).
    const status = (reason as BodyParserError | null)?.status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      const code =
        status === 404
          ? Code.NotFound
          : status === 403
            ? Code.PermissionDenied
            : status === 416
              ? Code.OutOfRange
              : status === 412
                ? Code.FailedPrecondition
                : Code.InvalidArgument;
      sendError(
        response,
        new RuntimeError(
          status === 404 ? `no such file ${request.path}` : `request refused (${status})`,
          {
            code,
          },
        ),
        { status },
      );
      return;
    }
    logger.error({ err: reason, path: request.path }, "http handler failed");
    sendError(response, new RuntimeError("internal error", { code: Code.Internal }));
  };
}
