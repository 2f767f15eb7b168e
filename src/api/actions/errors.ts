/**
 * The XINA action family's errors and their one shape: `{ error: { code, message } }`.
 * Codes are this family's own short strings; engine errors become XINA answers here
 * and nowhere else.
 */
import {
  ErrorCode as EngineCode,
  FleetworkError,
  IllegalTransitionError,
  InvalidInputError,
} from "../../errors";
import { BodyReadError } from "../body-text";
import { RateLimitedError } from "../rate-limit";

export const XinaErrorCode = {
  InvalidJson: "INVALID_JSON",
  BodyTooLarge: "BODY_TOO_LARGE",
  InvalidAction: "INVALID_ACTION",
  InvalidField: "INVALID_FIELD",
  InvalidConf: "INVALID_CONF",
  InvalidThread: "INVALID_THREAD",
  InvalidDelay: "INVALID_DELAY",
  TooManyTasks: "TOO_MANY_TASKS",
  UnknownTask: "UNKNOWN_TASK",
  TaskConcluded: "TASK_CONCLUDED",
  TaskNotConcluded: "TASK_NOT_CONCLUDED",
  CannotConclude: "CANNOT_CONCLUDE",
  InvalidState: "INVALID_STATE",
  Unauthorized: "UNAUTHORIZED",
  Unavailable: "UNAVAILABLE",
  RateLimited: "RATE_LIMITED",
} as const;
export type XinaErrorCode = (typeof XinaErrorCode)[keyof typeof XinaErrorCode];

/** A refused action. Nothing has changed when one of these is thrown. */
export class XinaError extends Error {
  readonly code: XinaErrorCode;
  readonly status: number;
  constructor(
    code: XinaErrorCode,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "XinaError";
    this.code = code;
    this.status = options.status ?? 400;
  }
}

export interface XinaErrorAnswer {
  readonly status: number;
  readonly body: { error: { code: string; message: string } };
}

const answer = (status: number, code: string, message: string): XinaErrorAnswer => ({
  status,
  body: { error: { code, message } },
});

/** The answer for a known error; undefined for anything else (a 500). */
export function toXinaAnswer(error: unknown): XinaErrorAnswer | undefined {
  if (error instanceof XinaError) return answer(error.status, error.code, error.message);
  if (error instanceof BodyReadError) {
    return error.failure === "tooLarge"
      ? answer(413, XinaErrorCode.BodyTooLarge, error.message)
      : answer(400, XinaErrorCode.InvalidJson, error.message);
  }
  if (error instanceof RateLimitedError) {
    return answer(429, XinaErrorCode.RateLimited, error.message);
  }
  if (error instanceof IllegalTransitionError) {
    const accepts = error.accepted.map((event) => event.toLowerCase()).join(", ") || "nothing";
    return answer(
      400,
      XinaErrorCode.InvalidState,
      `task ${error.id} cannot ${error.command} in state ${error.state}; it accepts: ${accepts}`,
    );
  }
  if (error instanceof InvalidInputError) {
    return answer(400, XinaErrorCode.InvalidField, error.message);
  }
  if (!(error instanceof FleetworkError)) return undefined;
  switch (error.code) {
    // Another tenant's task is reported exactly like a missing one: never data.
    case EngineCode.NotFound:
      return answer(400, XinaErrorCode.UnknownTask, error.message);
    case EngineCode.Unauthorized:
      return answer(401, XinaErrorCode.Unauthorized, error.message);
    case EngineCode.Unavailable:
      return answer(503, XinaErrorCode.Unavailable, error.message);
    default:
      return undefined;
  }
}
