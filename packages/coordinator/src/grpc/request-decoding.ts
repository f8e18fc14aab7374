import type { ServiceDefinition } from "@grpc/grpc-js";
import { Code, RuntimeError } from "@strata/runtime-core";

const DECODE_FAILED = Symbol("decode-failed");

/** What a request decodes to when its bytes are not a valid message (see {@link decodeFailure}). */
interface DecodeFailure {
  readonly [DECODE_FAILED]: RuntimeError;
}

/**
 * Wraps every method's request deserializer so bytes that are not a valid protobuf message reach
 * the handler as a marker instead of making grpc-js answer INTERNAL ("Error deserializing
 * request"): a malformed request is the client's fault, so the handler answers INVALID_ARGUMENT
 * (see {@link decodeFailure}).
 */
export function withDecodeFailures<S extends ServiceDefinition>(definition: S): S {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (error) {
          const failure: DecodeFailure = {
            [DECODE_FAILED]: new RuntimeError(
              `the request is not a valid ${method.path.split("/")[1] ?? "coordinator"} message: ${(error as Error).message}`,
              { code: Code.InvalidArgument, details: { field: "request" }, cause: error },
            ),
          };
          return failure;
        }
      },
    };
  }
  return wrapped as S;
}

/** The INVALID_ARGUMENT error of a request that failed to decode, or undefined for a real message. */
export function decodeFailure(request: unknown): RuntimeError | undefined {
  if (typeof request === "object" && request !== null && DECODE_FAILED in request) {
    return (request as DecodeFailure)[DECODE_FAILED];
  }
  return undefined;
}
