/**
 * Turns engine errors and Elysia's own (validation, parse, unknown route) into the
 * native API's error shape: `{ error: { code, message, field?, accepts? } }`.
 * Each API family has its own translator; this is the native one.
 */
import { ErrorCode, FleetworkError, IllegalTransitionError, InvalidInputError } from "../errors";
import { BodyReadError } from "./body-text";
import { RateLimitedError } from "./rate-limit";

export interface NativeError {
  readonly status: number;
  readonly body: {
    error: { code: string; message: string; field?: string; accepts?: readonly string[] };
  };
}

const STATUS: Record<string, number> = {
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.IllegalTransition]: 409,
  [ErrorCode.InvalidInput]: 400,
  [ErrorCode.Unavailable]: 503,
};

interface ValueErrorLike {
  readonly path?: string;
  readonly message?: string;
  readonly summary?: string;
}

/** `/actions/0/type` → `actions[0].type` */
export function fieldName(path: string): string {
  return path
    .replace(/^\//, "")
    .split("/")
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join("");
}

export function validationError(where: string, error: ValueErrorLike | undefined): NativeError {
  const field = error?.path ? fieldName(error.path) : undefined;
  const what = error?.message ?? "is invalid";
  const message = field ? `${where} ${field}: ${what}` : `${where}: ${what}`;
  return { status: 400, body: { error: { code: ErrorCode.InvalidInput, message, field } } };
}

export function toNativeError(error: unknown): NativeError | undefined {
  if (error instanceof BodyReadError) {
    return error.failure === "tooLarge"
      ? { status: 413, body: { error: { code: "PAYLOAD_TOO_LARGE", message: error.message } } }
      : { status: 400, body: { error: { code: ErrorCode.InvalidInput, message: error.message } } };
  }
  if (error instanceof RateLimitedError) {
    return { status: 429, body: { error: { code: "RATE_LIMITED", message: error.message } } };
  }
  if (error instanceof IllegalTransitionError) {
    return {
      status: 409,
      body: {
        error: {
          code: error.code,
          message: error.message,
          accepts: error.accepted.map((event) => event.toLowerCase()),
        },
      },
    };
  }
  if (error instanceof InvalidInputError) {
    return {
      status: 400,
      body: { error: { code: error.code, message: error.message, field: error.field } },
    };
  }
  if (error instanceof FleetworkError && STATUS[error.code] !== undefined) {
    return {
      status: STATUS[error.code] as number,
      body: { error: { code: error.code, message: error.message } },
    };
  }
  return undefined;
}
