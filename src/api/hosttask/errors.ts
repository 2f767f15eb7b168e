/**
 * The host task family's errors and their one shape (spec 2.15):
 * `{ errorCode, errorMessage, errors: [{ property, message }] }`. Engine errors become
 * these answers here and nowhere else. The codes are this family's own integers;
 * 10001 "Entity not found" is the one the i3D docs show, the others are ours.
 */
import {
  ErrorCode as EngineCode,
  FleetworkError,
  IllegalTransitionError,
  InvalidInputError,
} from "../../errors";
import { BodyReadError } from "../body-text";
import { RateLimitedError } from "../rate-limit";

export const HostTaskErrorCode = {
  /** An unexpected failure; never for bad input. */
  Internal: 10000,
  EntityNotFound: 10001,
  /** No PRIVATE-TOKEN (or other API key), or one the engine does not know. */
  AccessDenied: 10002,
  /** The request is malformed or asks for something that cannot be (422). */
  InvalidInput: 10003,
  /** The task's state does not allow the command (409). */
  Conflict: 10004,
  /** The engine cannot take work now (503). */
  Unavailable: 10005,
  /** The client sent more requests than its rate allows (429, with Retry-After). */
  RateLimited: 10006,
} as const;
export type HostTaskErrorCode = (typeof HostTaskErrorCode)[keyof typeof HostTaskErrorCode];

export interface FieldError {
  readonly property: string;
  readonly message: string;
}

export interface ErrorBody {
  readonly errorCode: HostTaskErrorCode;
  readonly errorMessage: string;
  readonly errors: FieldError[];
}

/** An answer this family gives instead of a result; thrown inside its routes only. */
export class HostTaskError extends Error {
  readonly status: number;
  readonly code: HostTaskErrorCode;
  readonly errors: readonly FieldError[];

  constructor(
    status: number,
    errorCode: HostTaskErrorCode,
    message: string,
    errors: readonly FieldError[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "HostTaskError";
    this.status = status;
    this.code = errorCode;
    this.errors = errors;
  }

  get body(): ErrorBody {
    return { errorCode: this.code, errorMessage: this.message, errors: [...this.errors] };
  }
}

export const invalidInput = (errors: readonly FieldError[], message = "Invalid input") =>
  new HostTaskError(422, HostTaskErrorCode.InvalidInput, message, errors);

export const entityNotFound = (property: string, message: string) =>
  new HostTaskError(404, HostTaskErrorCode.EntityNotFound, "Entity not found", [
    { property, message },
  ]);

export const conflict = (message: string) =>
  new HostTaskError(409, HostTaskErrorCode.Conflict, message);

/** Any throw as this family's answer; `internal` is told what was unexpected. */
export function toHostTaskError(error: unknown, internal: (error: unknown) => void): HostTaskError {
  if (error instanceof HostTaskError) return error;
  if (error instanceof BodyReadError) {
    return error.failure === "tooLarge"
      ? new HostTaskError(413, HostTaskErrorCode.InvalidInput, "Request body too large", [
          { property: "body", message: error.message },
        ])
      : invalidInput([{ property: "body", message: error.message }]);
  }
  if (error instanceof RateLimitedError) {
    return new HostTaskError(429, HostTaskErrorCode.RateLimited, "Too many requests", [
      { property: "Retry-After", message: error.message },
    ]);
  }
  if (error instanceof FleetworkError) {
    switch (error.code) {
      case EngineCode.NotFound:
        return entityNotFound("id", error.message);
      case EngineCode.Unauthorized:
        return new HostTaskError(403, HostTaskErrorCode.AccessDenied, "Access denied", [
          { property: "PRIVATE-TOKEN", message: error.message },
        ]);
      case EngineCode.InvalidInput:
        return invalidInput([
          {
            property: error instanceof InvalidInputError ? (error.field ?? "body") : "body",
            message: error.message,
          },
        ]);
      case EngineCode.IllegalTransition:
        return conflict(
          error instanceof IllegalTransitionError
            ? `Task ${error.id} cannot do that while ${error.state}`
            : error.message,
        );
      case EngineCode.Unavailable:
        return new HostTaskError(503, HostTaskErrorCode.Unavailable, error.message);
    }
  }
  internal(error);
  return new HostTaskError(500, HostTaskErrorCode.Internal, "Internal error", [], {
    cause: error,
  });
}
