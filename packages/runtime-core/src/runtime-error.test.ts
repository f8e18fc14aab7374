import { Code, codeFromNumber, codeToString, isRetryableCode } from "./code.js";
import { codeToHttpStatus } from "./code-to-http-status.js";
import { RuntimeError } from "./runtime-error.js";

describe("RuntimeError", () => {
  test("message carries the code, rawMessage does not", () => {
    const error = new RuntimeError("dataset x missing", {
      code: Code.NotFound,
      details: { datasetId: "x" },
    });
    expect(error.message).toBe("[not_found] dataset x missing");
    expect(error.rawMessage).toBe("dataset x missing");
    expect(error.toJSON()).toEqual({
      code: "not_found",
      message: "dataset x missing",
      details: { datasetId: "x" },
    });
    expect(error.name).toBe("RuntimeError");
  });

  test("defaults to Unknown and keeps the cause", () => {
    const cause = new Error("disk on fire");
    const error = new RuntimeError("write failed", { cause });
    expect(error.code).toBe(Code.Unknown);
    expect(error.cause).toBe(cause);
  });

  test("from() returns a RuntimeError unchanged", () => {
    const original = new RuntimeError("x", { code: Code.Aborted });
    expect(RuntimeError.from(original)).toBe(original);
  });

  test("from() maps abort and timeout errors", () => {
    const controller = new AbortController();
    controller.abort();
    expect(RuntimeError.from(controller.signal.reason).code).toBe(Code.Canceled);
    const timeout = new DOMException("The operation timed out", "TimeoutError");
    expect(RuntimeError.from(timeout).code).toBe(Code.DeadlineExceeded);
  });

  test("from() keeps a gRPC status code and its details", () => {
    const grpcError = Object.assign(new Error("5 NOT_FOUND: worker w gone"), {
      code: 5,
      details: "worker w gone",
    });
    const error = RuntimeError.from(grpcError);
    expect(error.code).toBe(Code.NotFound);
    expect(error.rawMessage).toBe("worker w gone");
    expect(error.cause).toBe(grpcError);
  });

  test("from() uses the fallback for plain errors and wraps non-errors", () => {
    expect(RuntimeError.from(new Error("boom"), Code.Internal).code).toBe(Code.Internal);
    const fromString = RuntimeError.from("plain string");
    expect(fromString.rawMessage).toBe("plain string");
    const fromObject = RuntimeError.from({ weird: true });
    expect(fromObject.rawMessage).toContain('{"weird":true}');
    expect(fromObject.code).toBe(Code.Unknown);
  });

  test("Node errno codes (strings) do not pass as gRPC codes", () => {
    const enoent = Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
    expect(RuntimeError.from(enoent).code).toBe(Code.Unknown);
  });
});

describe("codes", () => {
  test("numbers are the gRPC status codes", () => {
    expect(Code.Canceled).toBe(1);
    expect(Code.InvalidArgument).toBe(3);
    expect(Code.NotFound).toBe(5);
    expect(Code.AlreadyExists).toBe(6);
    expect(Code.Aborted).toBe(10);
    expect(Code.Unavailable).toBe(14);
    expect(Code.Unauthenticated).toBe(16);
  });

  test("every code has a name, an HTTP status and parses back", () => {
    for (let n = 1; n <= 16; n++) {
      const code = codeFromNumber(n);
      expect(code).toBe(n);
      expect(codeToString(code)).toMatch(/^[a-z_]+$/);
      expect(codeToHttpStatus(code)).toBeGreaterThanOrEqual(400);
    }
    expect(codeFromNumber(0)).toBe(Code.Unknown);
    expect(codeFromNumber(99)).toBe(Code.Unknown);
  });

  test("HTTP mapping of the common codes", () => {
    expect(codeToHttpStatus(Code.InvalidArgument)).toBe(400);
    expect(codeToHttpStatus(Code.Unauthenticated)).toBe(401);
    expect(codeToHttpStatus(Code.PermissionDenied)).toBe(403);
    expect(codeToHttpStatus(Code.NotFound)).toBe(404);
    expect(codeToHttpStatus(Code.AlreadyExists)).toBe(409);
    expect(codeToHttpStatus(Code.ResourceExhausted)).toBe(429);
    expect(codeToHttpStatus(Code.Unavailable)).toBe(503);
    expect(codeToHttpStatus(Code.DeadlineExceeded)).toBe(504);
  });

  test("only transient codes are retryable", () => {
    expect(isRetryableCode(Code.Unavailable)).toBe(true);
    expect(isRetryableCode(Code.DeadlineExceeded)).toBe(true);
    expect(isRetryableCode(Code.InvalidArgument)).toBe(false);
    expect(isRetryableCode(Code.NotFound)).toBe(false);
    expect(isRetryableCode(Code.DataLoss)).toBe(false);
  });
});
