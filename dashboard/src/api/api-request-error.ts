/**
 * A failed call to the coordinator's HTTP API. `status` is the HTTP status (0 when the coordinator
 * could not be reached); `code` the API's error code (`invalid_argument`, `not_found`,
 * `unauthenticated`, ..., or `unreachable`); `field` the offending request field of a validation
 * error, so forms can point at it.
 */
export class ApiRequestError extends Error {
  override readonly name = "ApiRequestError";
  readonly status: number;
  readonly code: string;
  readonly field: string | null;

  constructor(message: string, options: { status: number; code: string; field?: string | null }) {
    super(message);
    this.status = options.status;
    this.code = options.code;
    this.field = options.field ?? null;
  }

  /** True when the coordinator wants the token (sign in on the settings page). */
  get unauthenticated(): boolean {
    return this.status === 401;
  }
}

/** Whether `error` is an {@link ApiRequestError} that says the caller must sign in. */
export function isUnauthenticated(error: unknown): boolean {
  return error instanceof ApiRequestError && error.unauthenticated;
}
