/** The one rule both buses apply to a request's timeout. */
import { InvalidInputError } from "../errors";
import type { RequestOptions } from "./bus";

/** How long a request waits for its answer when the caller does not say. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

/** The request's timeout in ms: the default, or the caller's if it is > 0 and finite. */
export function requestTimeoutMs(options: RequestOptions): number {
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidInputError(`request timeout must be > 0 ms, got ${timeoutMs}`, "timeoutMs");
  }
  return timeoutMs;
}
