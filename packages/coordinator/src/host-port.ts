import { Code, RuntimeError } from "@strata/runtime-core";

/** Splits `host:port` and checks the port. Throws `InvalidArgument` naming `field`. */
export function parseHostPort(address: string, field: string): { host: string; port: number } {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(address.trim());
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port > 65_535) {
    throw new RuntimeError(
      `${field}: expected host:port with a port from 0 to 65535, got "${address}"`,
      {
        code: Code.InvalidArgument,
        details: { field },
      },
    );
  }
  return { host: match[1] as string, port };
}
