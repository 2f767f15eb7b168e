/**
 * The one pino root logger. Modules take a child logger with their scope, so every
 * line says where it came from. JSON by default, pretty on a TTY.
 *
 * Two things hold for every line of every logger made here:
 * - secrets never reach the output: API keys, tokens, passwords and the headers that
 *   carry them are replaced by `[Redacted]` (see REDACTED_PATHS);
 * - the ids of the context the line was written in (an HTTP request's `reqId`, set by
 *   `enterLogContext`) are added to it, so a request's lines can be found together,
 *   the engine's included.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

export interface LogOptions {
  readonly level: string;
  /** Pretty-print for humans; decided once from the config (a TTY on stdout). */
  readonly pretty: boolean;
  /** Where JSON lines go (tests). @default stdout */
  readonly destination?: DestinationStream;
}

/** Headers that carry credentials, as the five task APIs and browsers send them. */
const SECRET_HEADERS = [
  "authorization",
  "private-token",
  "api-key",
  "x-api-key",
  "cookie",
  "set-cookie",
  "proxy-authorization",
];

/** Fields that hold a credential wherever they appear (top level or one level down). */
const SECRET_FIELDS = [
  "key",
  "apiKey",
  "apiKeys",
  "token",
  "accessToken",
  "password",
  "pass",
  "secret",
];

/**
 * pino `redact` paths (fast-redact syntax: `*` is one level). Headers are caught as
 * `headers.x`, `<any>.headers.x` (e.g. `req.headers`) and `<any>.<any>.headers.x`.
 */
export const REDACTED_PATHS: readonly string[] = [
  ...SECRET_HEADERS.flatMap((header) => [
    `headers["${header}"]`,
    `*.headers["${header}"]`,
    `*.*.headers["${header}"]`,
  ]),
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]),
];

/** The ids bound to what runs now (an HTTP request and everything it calls). */
const context = new AsyncLocalStorage<Readonly<Record<string, string>>>();

/**
 * Binds ids to the current execution and to everything it awaits or schedules: every
 * line logged from there on carries them. Call it at the start of a unit of work (an
 * HTTP request's first hook).
 */
export function enterLogContext(bindings: Readonly<Record<string, string>>): void {
  context.enterWith(bindings);
}

/** Runs `fn` with `bindings` on every line it logs (and what it awaits). */
export function withLogContext<T>(bindings: Readonly<Record<string, string>>, fn: () => T): T {
  return context.run(bindings, fn);
}

/**
 * Runs `fn` with no bound ids. For work that serves many callers at once (the timer
 * heap, the group commit, the embedded bus's delivery loop): scheduled from inside a
 * request, it would otherwise carry that one request's id on every line.
 */
export function outsideLogContext<T>(fn: () => T): T {
  return context.exit(fn);
}

function mixin(): Record<string, string> {
  return context.getStore() ?? {};
}

export function createRootLogger(options: LogOptions): Logger {
  const common = {
    level: options.level,
    redact: { paths: [...REDACTED_PATHS], censor: "[Redacted]" },
    mixin,
  };
  if (options.pretty && options.destination === undefined) {
    return pino({
      ...common,
      transport: {
        target: "pino-pretty",
        options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" },
      },
    });
  }
  const logger = { ...common, base: { pid: process.pid } };
  return options.destination === undefined ? pino(logger) : pino(logger, options.destination);
}

/** A logger that drops everything: for tests and library use without output. */
export const silentLogger: Logger = pino({ level: "silent" });
