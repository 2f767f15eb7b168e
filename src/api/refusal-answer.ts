/**
 * The answers the app gives for a family before any of that family's routes runs,
 * in the shape of the family whose path it is: a body over the limit (413,
 * body-limit.ts) or cut off before its end, a client over its rate (429 with
 * `Retry-After`, rate-limit.ts), and a path under a family's prefix that none of its
 * routes matches (404). Each family's own translator says what the answer looks like;
 * this only picks the family, since no family's error handler runs for a request that
 * reached none of its routes.
 */
import { toXinaAnswer } from "./actions/errors";
import { BodyReadError } from "./body-text";
import { toNativeError } from "./errors";
import { RpcError, toRpcAnswer } from "./executor/errors";
import { encode } from "./executor/wire";
import { ApiFamily, familyOf } from "./families";
import { HostTaskError, HostTaskErrorCode, toHostTaskError } from "./hosttask/errors";
import { JobsError, jobsAnswer, shapeOf } from "./jobs/errors";
import { periodicError } from "./periodic/errors";
import { RateLimitedError } from "./rate-limit";

interface Answerable {
  status?: number | string;
  headers: Record<string, string | number>;
}

const isRefusal = (error: unknown): error is BodyReadError | RateLimitedError =>
  error instanceof RateLimitedError || error instanceof BodyReadError;

/** A path under a family's prefix that none of the family's routes matches. */
export class NoSuchRouteError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
  ) {
    super(`no such route: ${method} ${path}`);
    this.name = "NoSuchRouteError";
  }
}

/** The answers for NoSuchRouteError, as each family's own catch-all routes give them. */
function noSuchRoute(error: NoSuchRouteError, request: Request, set: Answerable): unknown {
  set.status = 404;
  switch (familyOf(request.url)) {
    case ApiFamily.Native:
      return { error: { code: "NOT_FOUND", message: "no such route" } };
    case ApiFamily.Xina:
      return {
        error: {
          code: "NOT_FOUND",
          message: "no such XINA route; actions go to POST /xina/action",
        },
      };
    case ApiFamily.Executor: {
      const { body, type } = encode(
        toRpcAnswer(new RpcError(404, "no such route: calls go to POST /rpc"))?.body,
        request.headers.get("accept"),
      );
      set.headers["content-type"] = type;
      return body;
    }
    case ApiFamily.HostTask:
      return new HostTaskError(404, HostTaskErrorCode.EntityNotFound, "Entity not found", [
        { property: "path", message: "no such route" },
      ]).body;
    case ApiFamily.Jobs:
      return jobsAnswer(new JobsError(404, error.message), shapeOf(request), () => {}).body;
    case ApiFamily.Periodic:
      return { error: "no such route" };
  }
}

/**
 * Sets the status (and headers) for `error` and returns the body, in the family's
 * shape; undefined when `error` is not one of these refusals.
 */
export function refusalAnswer(error: unknown, request: Request, set: Answerable): unknown {
  if (error instanceof NoSuchRouteError) return noSuchRoute(error, request, set);
  if (!isRefusal(error)) return undefined;
  if (error instanceof RateLimitedError) {
    set.headers["retry-after"] = String(error.retryAfterSeconds);
  }
  const unexpected = () => {};
  switch (familyOf(request.url)) {
    case ApiFamily.Native: {
      const answer = toNativeError(error);
      set.status = answer?.status ?? 500;
      return answer?.body;
    }
    case ApiFamily.Xina: {
      const answer = toXinaAnswer(error);
      set.status = answer?.status ?? 500;
      return answer?.body;
    }
    case ApiFamily.Executor: {
      const answer = toRpcAnswer(error);
      set.status = answer?.status ?? 500;
      const { body, type } = encode(answer?.body, request.headers.get("accept"));
      set.headers["content-type"] = type;
      return body;
    }
    case ApiFamily.HostTask: {
      const answer = toHostTaskError(error, unexpected);
      set.status = answer.status;
      return answer.body;
    }
    case ApiFamily.Jobs: {
      const answer = jobsAnswer(error, shapeOf(request), unexpected);
      set.status = answer.status;
      return answer.body;
    }
    case ApiFamily.Periodic:
      return periodicError(error, set);
  }
}
