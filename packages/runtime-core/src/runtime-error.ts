import { Code, codeToString } from "./code.js";

/** Options for {@link RuntimeError}. An options object, because positional arguments get mixed up. */
export interface RuntimeErrorOptions {
  /** The error code; defaults to `Code.Unknown`. */
  code?: Code;
  /** The underlying error, kept for logs. It is never sent to a client as is. */
  cause?: unknown;
  /**
   * Structured facts about the failure that callers may branch on or show (the key that was
   * invalid, the worker that died). Values must be JSON-serialisable.
   */
  details?: Readonly<Record<string, unknown>>;
}

/**
 * The one error class of Strata. Every package throws it (or converts to it with
 * {@link RuntimeError.from}); the coordinator maps its `code` to a gRPC status and the HTTP API to
 * an HTTP status (see `codeToHttpStatus`), only at those edges.
 *
 * `message` carries the code (`[not_found] dataset "x" is not registered`); `rawMessage` does not,
 * and is what goes over the wire.
 */
export class RuntimeError extends Error {
  override readonly name = "RuntimeError";
  readonly code: Code;
  readonly rawMessage: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, options: RuntimeErrorOptions = {}) {
    const code = options.code ?? Code.Unknown;
    super(
      `[${codeToString(code)}] ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.rawMessage = message;
    this.details = options.details ?? {};
  }

  /**
   * Turns anything thrown into a RuntimeError. A RuntimeError is returned as is; an
   * `AbortError`/`TimeoutError` from an `AbortSignal` becomes `Canceled`/`DeadlineExceeded`; an
   * object with a numeric gRPC `code` keeps it; anything else becomes `fallbackCode` (default
   * `Unknown`) with the original as `cause`.
   */
  static from(reason: unknown, fallbackCode: Code = Code.Unknown): RuntimeError {
    if (reason instanceof RuntimeError) return reason;
    // Duck-typed rather than `instanceof Error`: DOMExceptions (abort reasons) and errors from
    // other realms (vm contexts, workers) are errors too.
    if (isErrorLike(reason)) {
      if (reason.name === "TimeoutError") {
        return new RuntimeError(reason.message || "operation timed out", {
          code: Code.DeadlineExceeded,
          cause: reason,
        });
      }
      if (reason.name === "AbortError") {
        return new RuntimeError(reason.message || "operation was canceled", {
          code: Code.Canceled,
          cause: reason,
        });
      }
      const grpcCode = (reason as { code?: unknown }).code;
      const details = (reason as { details?: unknown }).details;
      if (typeof grpcCode === "number" && grpcCode > 0 && grpcCode <= 16) {
        return new RuntimeError(
          typeof details === "string" && details !== "" ? details : reason.message,
          {
            code: grpcCode as Code,
            cause: reason,
          },
        );
      }
      return new RuntimeError(reason.message, { code: fallbackCode, cause: reason });
    }
    return new RuntimeError(
      typeof reason === "string" ? reason : `non-error thrown: ${safeString(reason)}`,
      {
        code: fallbackCode,
        cause: reason,
      },
    );
  }

  /** A plain JSON form for logs and the HTTP API: `{ code, message, details }`. */
  toJSON(): { code: string; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: codeToString(this.code), message: this.rawMessage, details: this.details };
  }
}

function isErrorLike(value: unknown): value is Error {
  return (
    value instanceof Error ||
    (typeof value === "object" &&
      value !== null &&
      typeof (value as Error).name === "string" &&
      typeof (value as Error).message === "string")
  );
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
