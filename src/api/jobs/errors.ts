/**
 * The job family's error shapes (seed-spec 4.1, 4.5, 4.7, 4.8): every refusal is
 * `{"error": "<message>"}`, but `POST /job` answers 400 as `{"id": null, "error"}` and
 * `PUT /jobs/<id>` as `{"id": <id>, "error"}` (the seed's shapes for those two). The
 * seed speaks only 400 for bad input, so an unknown or another client's job and a job
 * in a state that refuses the change are both 400 with a message that says which; 401
 * for a missing or wrong key, 503 when the engine takes no work, 404 for a route the
 * family does not have, and, like every family's, 413 for a body over the limit and
 * 429 (with Retry-After) for a client over its rate. An unexpected failure of
 * `POST /job` is the seed's bare string "Unable to create job request" (500, not
 * JSON); any other is 500 `{"error": "internal error"}`.
 */
import {
  IllegalTransitionError,
  InvalidInputError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from "../../errors";
import { BodyReadError } from "../body-text";
import { RateLimitedError } from "../rate-limit";

/** A refusal of this family's own: status and message; nothing changed. */
export class JobsError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "JobsError";
  }
}

/** `(field, message)` → a 400 whose message starts with the field it names. */
export const badInput = (field: string, message: string) =>
  new JobsError(400, message.startsWith(field) ? message : `${field}: ${message}`);

/** What the seed says when a job cannot be created for a reason that is not the client's. */
export const CREATE_FAILED = "Unable to create job request";

export type ErrorShape =
  /** `POST /job`: `{id: null, error}` */
  | { readonly kind: "create" }
  /** `PUT /jobs/<id>`: `{id, error}` */
  | { readonly kind: "update"; readonly id: number | null }
  | { readonly kind: "plain" };

export interface JobsAnswer {
  readonly status: number;
  /** A JSON body, or (the 500 of POST /job only) plain text. */
  readonly body: unknown;
  readonly text: boolean;
}

function known(error: unknown): [number, string] | undefined {
  if (error instanceof JobsError) return [error.status, error.message];
  if (error instanceof BodyReadError)
    return [error.failure === "tooLarge" ? 413 : 400, error.message];
  if (error instanceof RateLimitedError) return [429, error.message];
  if (error instanceof UnauthorizedError) return [401, error.message];
  if (error instanceof NotFoundError) return [400, `${error.entity} ${error.id} not found`];
  if (error instanceof InvalidInputError) {
    const { field, message } = error;
    // Name the field when the engine's message does not already.
    return [400, field && !message.includes(field) ? `${field}: ${message}` : message];
  }
  if (error instanceof IllegalTransitionError) return [400, error.message];
  if (error instanceof UnavailableError) return [503, error.message];
  return undefined;
}

/** The error shape of a request, by its route (seed-spec 4.5, 4.8). */
export function shapeOf(request: Request): ErrorShape {
  const path = new URL(request.url).pathname;
  if (request.method === "POST" && path === "/job") return { kind: "create" };
  const update = request.method === "PUT" ? /^\/jobs\/([^/]+)$/.exec(path) : null;
  if (update) {
    const raw = update[1] as string;
    return { kind: "update", id: /^[1-9]\d{0,14}$/.test(raw) ? Number(raw) : null };
  }
  return { kind: "plain" };
}

/**
 * The answer for `error` in `shape`; `unexpected` is told about anything that is not
 * a refusal (those are 500s that leak nothing).
 */
export function jobsAnswer(
  error: unknown,
  shape: ErrorShape,
  unexpected: (error: unknown) => void,
): JobsAnswer {
  const found = known(error);
  if (!found) {
    unexpected(error);
    if (shape.kind === "create") return { status: 500, body: CREATE_FAILED, text: true };
    // Other engine errors (bus, store) carry no message meant for a client.
    return { status: 500, body: { error: "internal error" }, text: false };
  }
  const [status, message] = found;
  // Authentication comes before the route's own shape (seed-spec 4.1).
  if (status === 401 || status === 404) return { status, body: { error: message }, text: false };
  if (shape.kind === "create") return { status, body: { id: null, error: message }, text: false };
  if (shape.kind === "update") {
    return { status, body: { id: shape.id, error: message }, text: false };
  }
  return { status, body: { error: message }, text: false };
}
