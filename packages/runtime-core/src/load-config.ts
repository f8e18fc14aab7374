import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { Code } from "./code.js";
import { RuntimeError } from "./runtime-error.js";

/** Where a configuration value came from, lowest precedence first. */
export type ConfigSourceName = "default" | "file" | "env" | "flag";

/** Options for {@link loadConfig}. */
export interface LoadConfigOptions<S extends z.ZodObject> {
  /**
   * The schema: one flat object whose keys are camelCase names (`heartbeatTimeoutMs`) and whose
   * `.default()`s are the defaults. Only string, number, boolean and enum values are supported,
   * because every value must be expressible in an environment variable.
   */
  schema: S;
  /** Prefix for environment variables. Default `STRATA_`, so `grpcAddr` is `STRATA_GRPC_ADDR`. */
  envPrefix?: string;
  /** The environment to read. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** A JSON or YAML file (by extension: `.json`, `.yaml`, `.yml`) with some of the keys. */
  file?: string;
  /** Values from command-line flags, already parsed; `undefined` means not given. */
  flags?: Readonly<Record<string, unknown>>;
  /**
   * Keys whose values are secrets (tokens, passwords): an error about one never shows its value,
   * only its length.
   */
  secrets?: readonly string[];
}

/** A loaded configuration plus where each key came from, for start-up logs. */
export interface LoadedConfig<T> {
  config: Readonly<T>;
  sources: Readonly<Record<keyof T & string, ConfigSourceName>>;
}

/** `heartbeatTimeoutMs` → `STRATA_HEARTBEAT_TIMEOUT_MS`. */
export function configKeyToEnvName(key: string, prefix = "STRATA_"): string {
  return prefix + key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** `heartbeatTimeoutMs` → `--heartbeat-timeout-ms`. */
export function configKeyToFlag(key: string): string {
  return `--${key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()}`;
}

type ScalarKind = "string" | "number" | "boolean" | "enum";

function scalarKind(schema: z.ZodType): ScalarKind {
  let inner: z.ZodType = schema;
  // Unwrap .default(), .optional(), .nullable() and refinements to find the value type.
  for (let i = 0; i < 10; i++) {
    const def = inner.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    if (def.innerType) inner = def.innerType;
    else if (def.type === "pipe" && def.in) inner = def.in;
    else break;
  }
  const type = (inner.def as { type: string }).type;
  if (type === "number" || type === "int") return "number";
  if (type === "boolean") return "boolean";
  if (type === "enum" || type === "literal") return "enum";
  return "string";
}

function coerceEnv(kind: ScalarKind, raw: string): unknown {
  const value = raw.trim();
  if (kind === "number") return value === "" ? Number.NaN : Number(value);
  if (kind === "boolean") {
    if (/^(true|1|yes|on)$/i.test(value)) return true;
    if (/^(false|0|no|off)$/i.test(value)) return false;
    return raw;
  }
  return raw;
}

/**
 * Loads a configuration from, in rising precedence: the schema's defaults, a config file,
 * `STRATA_*` environment variables, and command-line flags. Returns a frozen, typed object.
 *
 * Every problem is collected and reported together in one `InvalidArgument` error that names
 * each key and where its bad value came from, so an operator fixes all of them in one go.
 * Unknown keys in the file and unset-but-required keys are errors too. Empty environment
 * variables count as unset.
 */
export function loadConfig<S extends z.ZodObject>(
  options: LoadConfigOptions<S>,
): LoadedConfig<z.infer<S>> {
  const prefix = options.envPrefix ?? "STRATA_";
  const env = options.env ?? process.env;
  const shape = options.schema.shape as Record<string, z.ZodType>;
  const keys = Object.keys(shape);
  const merged: Record<string, unknown> = {};
  /** What the user actually wrote, for error messages (coercion can turn "abc" into NaN). */
  const given: Record<string, unknown> = {};
  const sources: Record<string, ConfigSourceName> = {};
  const secrets = new Set(options.secrets ?? []);
  const problems: string[] = [];

  if (options.file !== undefined) {
    let parsed: unknown;
    try {
      const text = readFileSync(options.file, "utf8");
      parsed = extname(options.file) === ".json" ? JSON.parse(text) : parseYaml(text);
    } catch (error) {
      throw new RuntimeError(
        `cannot read config file ${options.file}: ${(error as Error).message}`,
        {
          code: Code.InvalidArgument,
          cause: error,
          details: { file: options.file },
        },
      );
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== "object" || Array.isArray(parsed)) {
        problems.push(
          `config file ${options.file}: expected an object of keys, got ${Array.isArray(parsed) ? "an array" : typeof parsed}`,
        );
      } else {
        for (const [key, value] of Object.entries(parsed)) {
          if (!(key in shape)) {
            problems.push(
              `config file ${options.file}: unknown key "${key}" (known keys: ${keys.join(", ")})`,
            );
            continue;
          }
          merged[key] = value;
          given[key] = value;
          sources[key] = "file";
        }
      }
    }
  }

  for (const key of keys) {
    const name = configKeyToEnvName(key, prefix);
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") continue;
    merged[key] = coerceEnv(scalarKind(shape[key] as z.ZodType), raw);
    given[key] = raw;
    sources[key] = "env";
  }

  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    if (!(key in shape)) {
      problems.push(`flag ${configKeyToFlag(key)}: unknown key "${key}"`);
      continue;
    }
    merged[key] =
      typeof value === "string" ? coerceEnv(scalarKind(shape[key] as z.ZodType), value) : value;
    given[key] = value;
    sources[key] = "flag";
  }

  const result = options.schema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? "");
      const source = sources[key] ?? "default";
      const where =
        source === "env"
          ? `environment ${configKeyToEnvName(key, prefix)}`
          : source === "flag"
            ? `flag ${configKeyToFlag(key)}`
            : source === "file"
              ? `config file ${options.file}`
              : "default";
      const got = !(key in given)
        ? ""
        : secrets.has(key)
          ? ` (got a value of ${String(given[key]).length} characters, not shown)`
          : ` (got ${JSON.stringify(given[key])})`;
      problems.push(`config key "${key}" from ${where}: ${issue.message}${got}`);
    }
  }
  if (problems.length > 0) {
    throw new RuntimeError(`invalid configuration:\n  - ${problems.join("\n  - ")}`, {
      code: Code.InvalidArgument,
      details: { problems },
    });
  }
  for (const key of keys) sources[key] ??= "default";
  return {
    config: Object.freeze(result.data as z.infer<S>),
    sources: sources as Record<keyof z.infer<S> & string, ConfigSourceName>,
  };
}
