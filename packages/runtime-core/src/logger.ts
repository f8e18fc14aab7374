import { type DestinationStream, type Logger as PinoLogger, pino } from "pino";
import { Code } from "./code.js";
import { RuntimeError } from "./runtime-error.js";

/** A structured logger (pino). Log objects first, message second: `log.info({ workerId }, "registered")`. */
export type Logger = PinoLogger;

/** Log levels, most verbose first. `silent` turns logging off. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Component name, written as `name` on every line. */
  name: string;
  /** Default `info`. */
  level?: LogLevel;
  /** Where lines go. Default: standard error, so standard output stays free for command output. */
  destination?: DestinationStream;
}

/** Creates a JSON-lines logger. Errors logged under `err` keep their code, cause and stack. */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? "info";
  if (!LOG_LEVELS.includes(level)) {
    throw new RuntimeError(
      `unknown log level "${String(level)}" (use one of ${LOG_LEVELS.join(", ")})`,
      {
        code: Code.InvalidArgument,
      },
    );
  }
  return pino(
    { name: options.name, level },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that drops everything, for tests and library defaults. */
export function createSilentLogger(): Logger {
  return pino({ level: "silent" });
}
