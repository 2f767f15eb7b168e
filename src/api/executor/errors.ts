/**
 * The executor RPC family's one error shape, `{error: {message}}` (seed-spec 1.2): 422
 * for a bad call (unknown method, missing or mistyped params, a task in the wrong
 * state or with another execId), 404 for an unknown task, 401 without a valid key.
 */
import {
  ErrorCode,
  FleetworkError,
  IllegalTransitionError,
  InvalidInputError,
  NotFoundError,
} from "../../errors";
import { BodyReadError } from "../body-text";
import { RateLimitedError } from "../rate-limit";

/** A refused call; nothing changed when one of these is thrown. */
export class RpcError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

export interface RpcErrorAnswer {
  readonly status: number;
  readonly body: { error: { message: string } };
}

const answer = (status: number, message: string): RpcErrorAnswer => ({
  status,
  body: { error: { message } },
});

/** The answer for a known error; undefined for anything else (a 500). */
export function toRpcAnswer(error: unknown): RpcErrorAnswer | undefined {
  if (error instanceof RpcError) return answer(error.status, error.message);
  if (error instanceof BodyReadError) {
    return answer(error.failure === "tooLarge" ? 413 : 422, error.message);
  }
  if (error instanceof RateLimitedError) return answer(429, error.message);
  if (error instanceof NotFoundError) return answer(404, error.message);
  if (error instanceof IllegalTransitionError) {
    return answer(422, `cannot ${error.command} task ${error.id}: it is ${error.state}`);
  }
  if (error instanceof InvalidInputError) return answer(422, error.message);
  if (error instanceof FleetworkError) {
    if (error.code === ErrorCode.Unauthorized) return answer(401, error.message);
    if (error.code === ErrorCode.Unavailable) return answer(503, error.message);
  }
  return undefined;
}
