/**
 * The periodic-command family's one error shape, `{ "error": "<message>" }`
 * (seed-spec Cross-cutting: taskscheduler 400 `{error}`), for engine errors and for
 * Elysia's own (validation, unparsable body). The family calls its schedules "tasks".
 */
import {
  FleetworkError,
  IllegalTransitionError,
  InvalidInputError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from "../../errors";
import { BodyReadError } from "../body-text";
import { fieldName } from "../errors";
import { RateLimitedError } from "../rate-limit";

export interface PeriodicErrorBody {
  error: string;
}

interface ElysiaValidation {
  readonly type?: string;
  readonly customError?: unknown;
  readonly valueError?: { readonly path?: string; readonly message?: string };
}

const WHERE: Record<string, string> = { body: "body", query: "query", params: "path" };

function validationMessage(error: ElysiaValidation): string {
  // A schema's own `error` text names its field already.
  if (typeof error.customError === "string") return error.customError;
  const where = WHERE[error.type ?? ""] ?? "request";
  const field = error.valueError?.path ? fieldName(error.valueError.path) : "";
  const what = error.valueError?.message ?? "is invalid";
  return field ? `${where} ${field}: ${what}` : `${where}: ${what}`;
}

function answer(error: unknown, code: unknown): [number, string] | undefined {
  if (error instanceof BodyReadError) {
    return [error.failure === "tooLarge" ? 413 : 400, error.message];
  }
  if (error instanceof RateLimitedError) return [429, error.message];
  if (error instanceof NotFoundError) return [404, `task ${error.id} not found`];
  if (error instanceof InvalidInputError) return [400, error.message];
  if (error instanceof UnauthorizedError) return [401, error.message];
  if (error instanceof UnavailableError) return [503, error.message];
  if (error instanceof IllegalTransitionError) {
    const accepts = error.accepted.map((event) => event.toLowerCase()).join(", ") || "nothing";
    return [
      409,
      `task ${error.id} cannot ${error.command} while ${error.state}; it accepts: ${accepts}`,
    ];
  }
  // Other engine errors carry codes that would read as Elysia's; they are 500s.
  if (error instanceof FleetworkError) return undefined;
  if (code === "VALIDATION") return [400, validationMessage(error as ElysiaValidation)];
  if (code === "PARSE") {
    // Elysia wraps what a parse hook throws (the key check) as a parse error.
    const cause = error instanceof Error ? error.cause : undefined;
    return cause instanceof FleetworkError
      ? answer(cause, undefined)
      : [400, "the request body is not valid JSON"];
  }
  return undefined;
}

/**
 * Sets the status for `error` and returns this family's body for it; anything it
 * does not know is a 500 with a message that leaks nothing. `code` is Elysia's error
 * code when the error comes from its lifecycle.
 */
export function periodicError(
  error: unknown,
  set: { status?: number | string },
  code?: unknown,
): PeriodicErrorBody {
  const known = answer(error, code);
  if (known) {
    set.status = known[0];
    return { error: known[1] };
  }
  set.status = 500;
  return { error: "internal error" };
}
