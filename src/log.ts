/**
 * The one pino root logger. Modules take a child logger with their scope, so every
 * line says where it came from. JSON by default, pretty on a TTY.
 */
import pino, { type Logger } from "pino";

export type { Logger };

export interface LogOptions {
  readonly level: string;
  /** Pretty-print for humans; decided once from the config (a TTY on stdout). */
  readonly pretty: boolean;
}

export function createRootLogger(options: LogOptions): Logger {
  if (options.pretty) {
    return pino({
      level: options.level,
      transport: {
        target: "pino-pretty",
        options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" },
      },
    });
  }
  return pino({ level: options.level, base: { pid: process.pid } });
}

/** A logger that drops everything: for tests and library use without output. */
export const silentLogger: Logger = pino({ level: "silent" });
