import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { Code } from "./code.js";
import { configKeyToEnvName, configKeyToFlag, loadConfig } from "./load-config.js";
import { RuntimeError } from "./runtime-error.js";

const schema = z.object({
  grpcAddr: z.string().default("0.0.0.0:50051"),
  heartbeatTimeoutMs: z.number().int().positive().default(15_000),
  tlsEnabled: z.boolean().default(false),
  logLevel: z.enum(["debug", "info", "warn"]).default("info"),
  authToken: z.string().optional(),
});

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "strata-config-")), name);
  writeFileSync(path, text);
  return path;
}

function configError(fn: () => unknown): RuntimeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof RuntimeError) return error;
    throw error;
  }
  throw new Error("expected a RuntimeError");
}

describe("loadConfig", () => {
  test("defaults apply when nothing is given", () => {
    const { config, sources } = loadConfig({ schema, env: {} });
    expect(config).toEqual({
      grpcAddr: "0.0.0.0:50051",
      heartbeatTimeoutMs: 15_000,
      tlsEnabled: false,
      logLevel: "info",
    });
    expect(sources.grpcAddr).toBe("default");
    expect(Object.isFrozen(config)).toBe(true);
  });

  test("precedence: defaults < file < env < flags", () => {
    const file = tempFile(
      "c.json",
      JSON.stringify({ grpcAddr: "file:1", heartbeatTimeoutMs: 1000, logLevel: "warn" }),
    );
    const env = { STRATA_GRPC_ADDR: "env:2", STRATA_HEARTBEAT_TIMEOUT_MS: "2000" };
    const { config, sources } = loadConfig({
      schema,
      env,
      file,
      flags: { grpcAddr: "flag:3", tlsEnabled: undefined },
    });
    expect(config.grpcAddr).toBe("flag:3");
    expect(config.heartbeatTimeoutMs).toBe(2000);
    expect(config.logLevel).toBe("warn");
    expect(config.tlsEnabled).toBe(false);
    expect(sources).toMatchObject({
      grpcAddr: "flag",
      heartbeatTimeoutMs: "env",
      logLevel: "file",
      tlsEnabled: "default",
    });
  });

  test("YAML files work too", () => {
    const file = tempFile("c.yaml", "heartbeatTimeoutMs: 500\ntlsEnabled: true\n");
    const { config } = loadConfig({ schema, env: {}, file });
    expect(config.heartbeatTimeoutMs).toBe(500);
    expect(config.tlsEnabled).toBe(true);
  });

  test("env values are coerced by type; empty env counts as unset", () => {
    const { config } = loadConfig({
      schema,
      env: { STRATA_TLS_ENABLED: "yes", STRATA_GRPC_ADDR: "  ", STRATA_LOG_LEVEL: "debug" },
    });
    expect(config.tlsEnabled).toBe(true);
    expect(config.grpcAddr).toBe("0.0.0.0:50051");
    expect(config.logLevel).toBe("debug");
  });

  test("every bad key is reported at once, naming the key and its source", () => {
    const file = tempFile("c.json", JSON.stringify({ logLevel: "loud", bogus: 1 }));
    const error = configError(() =>
      loadConfig({
        schema,
        env: { STRATA_HEARTBEAT_TIMEOUT_MS: "soon" },
        file,
        flags: { tlsEnabled: "maybe" },
      }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    const problems = error.details.problems as string[];
    expect(problems.some((p) => p.includes('unknown key "bogus"'))).toBe(true);
    expect(
      problems.some(
        (p) => p.includes('"heartbeatTimeoutMs"') && p.includes("STRATA_HEARTBEAT_TIMEOUT_MS"),
      ),
    ).toBe(true);
    expect(problems.some((p) => p.includes('"logLevel"') && p.includes("config file"))).toBe(true);
    expect(problems.some((p) => p.includes('"tlsEnabled"') && p.includes("--tls-enabled"))).toBe(
      true,
    );
  });

  test("a value that is not a number is shown as given; a secret is never shown", () => {
    const error = configError(() =>
      loadConfig({
        schema: schema.extend({ authToken: z.string().min(16).optional() }),
        env: { STRATA_AUTH_TOKEN: "change-me" },
        flags: { heartbeatTimeoutMs: "abc" },
        secrets: ["authToken"],
      }),
    );
    expect(error.rawMessage).toContain(
      'config key "heartbeatTimeoutMs" from flag --heartbeat-timeout-ms',
    );
    expect(error.rawMessage).toContain('(got "abc")');
    expect(error.rawMessage).not.toContain("null");
    expect(error.rawMessage).toContain("environment STRATA_AUTH_TOKEN");
    expect(error.rawMessage).toContain("got a value of 9 characters, not shown");
    expect(error.rawMessage).not.toContain("change-me");
  });

  test("a negative number is rejected even though it parses", () => {
    const error = configError(() =>
      loadConfig({ schema, env: { STRATA_HEARTBEAT_TIMEOUT_MS: "-5" } }),
    );
    expect(error.message).toContain("heartbeatTimeoutMs");
  });

  test("an unreadable or malformed file is a clear error", () => {
    expect(
      configError(() => loadConfig({ schema, env: {}, file: "/nonexistent/strata.json" })).message,
    ).toContain("cannot read config file");
    const broken = tempFile("c.json", "{ not json");
    expect(configError(() => loadConfig({ schema, env: {}, file: broken })).code).toBe(
      Code.InvalidArgument,
    );
    const list = tempFile("c.yaml", "- a\n- b\n");
    expect(configError(() => loadConfig({ schema, env: {}, file: list })).message).toContain(
      "expected an object",
    );
  });

  test("unknown flags are rejected", () => {
    expect(
      configError(() => loadConfig({ schema, env: {}, flags: { nope: 1 } })).message,
    ).toContain("--nope");
  });

  test("key name conversions", () => {
    expect(configKeyToEnvName("heartbeatTimeoutMs")).toBe("STRATA_HEARTBEAT_TIMEOUT_MS");
    expect(configKeyToEnvName("grpcAddr", "X_")).toBe("X_GRPC_ADDR");
    expect(configKeyToFlag("tlsCert")).toBe("--tls-cert");
  });
});
