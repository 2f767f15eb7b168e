/**
 * Named errors. Each has a stable `code` that API layers map to their own error
 * shapes, and keeps the `cause` it wraps. Only `src/api` turns them into HTTP answers.
 */

export const ErrorCode = {
  NotFound: "NOT_FOUND",
  Unauthorized: "UNAUTHORIZED",
  IllegalTransition: "ILLEGAL_TRANSITION",
  InvalidInput: "INVALID_INPUT",
  Unavailable: "UNAVAILABLE",
  Config: "CONFIG",
  NoResponders: "NO_RESPONDERS",
  BusTimeout: "BUS_TIMEOUT",
  BusClosed: "BUS_CLOSED",
  Internal: "INTERNAL",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class FleetworkError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class NotFoundError extends FleetworkError {
  constructor(
    readonly entity: string,
    readonly id: string | number,
  ) {
    super(ErrorCode.NotFound, `${entity} ${id} not found`);
  }
}

/** A command the actor refuses in its current state; lists what it accepts instead. */
export class IllegalTransitionError extends FleetworkError {
  constructor(
    readonly entity: string,
    readonly id: string | number,
    readonly command: string,
    readonly state: string,
    readonly accepted: readonly string[],
  ) {
    super(
      ErrorCode.IllegalTransition,
      `cannot ${command} ${entity} ${id} in state ${state}; it accepts: ${accepted.join(", ") || "nothing"}`,
    );
  }
}

/** No API key, or one the engine does not know. */
export class UnauthorizedError extends FleetworkError {
  constructor(message: string) {
    super(ErrorCode.Unauthorized, message);
  }
}

export class InvalidInputError extends FleetworkError {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(ErrorCode.InvalidInput, message);
  }
}

/** The engine cannot take work it could not keep (store down, disk full, shutting down). */
export class UnavailableError extends FleetworkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Unavailable, message, options);
  }
}

/** Why the store refused a write: what an operator has to fix. */
export const StoreFailure = {
  /** The disk (or the database's quota) is full: SQLITE_FULL, ENOSPC, PostgreSQL 53100. */
  OutOfSpace: "outOfSpace",
  /** The disk or the file system failed: SQLITE_IOERR, EIO, a read-only file system. */
  Io: "io",
  /** Anything else: the database is down, refused the connection, ... */
  Other: "other",
} as const;
export type StoreFailure = (typeof StoreFailure)[keyof typeof StoreFailure];

/**
 * The store cannot write, so the engine takes no work it could not keep (503 in every
 * API family). Nothing the refused request asked for was acknowledged; the engine
 * takes work again, without a restart, as soon as a write succeeds.
 */
export class StoreUnavailableError extends UnavailableError {
  constructor(
    readonly failure: StoreFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class ConfigError extends FleetworkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Config, message, options);
  }
}

export class NoRespondersError extends FleetworkError {
  constructor(readonly subject: string) {
    super(ErrorCode.NoResponders, `no responders on ${subject}`);
  }
}

export class BusTimeoutError extends FleetworkError {
  constructor(
    readonly subject: string,
    readonly timeoutMs: number,
  ) {
    super(ErrorCode.BusTimeout, `no answer on ${subject} within ${timeoutMs} ms`);
  }
}

export class BusClosedError extends FleetworkError {
  constructor() {
    super(ErrorCode.BusClosed, "the bus is closed");
  }
}

/** Wraps anything thrown into a FleetworkError, keeping the original as `cause`. */
export function coerceError(error: unknown): FleetworkError {
  if (error instanceof FleetworkError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FleetworkError(ErrorCode.Internal, message, { cause: error });
}
