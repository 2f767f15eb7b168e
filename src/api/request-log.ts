/**
 * One id per HTTP request, one log line per answer. The id is the caller's
 * `x-request-id` when it is a sane token, else a new UUID; it is sent back as
 * `x-request-id` and, through `enterContext`, bound to every line logged while the
 * request runs (the engine's too). Each answer is logged with method, route template,
 * status and duration, and reported to the HTTP metrics.
 */
import { Elysia, StatusMap } from "elysia";
import type { Logger } from "../log";
import type { HttpObserver } from "./metrics";

export interface RequestLogOptions {
  readonly log: Logger;
  /**
   * Binds `{ reqId }` to the current execution, so that every line logged while the
   * request runs carries it (the composition root passes `enterLogContext` of
   * src/log). @default none: only the request's own line carries it
   */
  readonly enterContext?: (bindings: { readonly reqId: string }) => void;
  readonly metrics?: HttpObserver;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Liveness checks and scrapes come every few seconds: logged at debug, not info. */
const QUIET_ROUTES = new Set(["/", "/metrics"]);

function statusOf(status: unknown, response: unknown): number {
  if (response instanceof Response) return response.status;
  if (typeof status === "number") return status;
  if (typeof status === "string" && status in StatusMap) {
    return StatusMap[status as keyof typeof StatusMap];
  }
  return 200;
}

export function requestLog(options: RequestLogOptions) {
  const { log, metrics } = options;
  const requests = new WeakMap<Request, { readonly id: string; readonly started: number }>();
  return new Elysia({ name: "request-log" })
    .onRequest(({ request, set }) => {
      const given = request.headers.get("x-request-id");
      const id = given !== null && REQUEST_ID.test(given) ? given : crypto.randomUUID();
      requests.set(request, { id, started: performance.now() });
      set.headers["x-request-id"] = id;
      options.enterContext?.({ reqId: id });
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set, responseValue }) => {
      const seen = requests.get(request);
      const seconds = seen === undefined ? 0 : (performance.now() - seen.started) / 1000;
      const template = route || "unmatched";
      const status = statusOf(set.status, responseValue);
      metrics?.observeRequest(request.method, template, status, seconds);
      const level = QUIET_ROUTES.has(template) && status < 400 ? "debug" : "info";
      if (!log.isLevelEnabled(level)) return;
      const line: Record<string, unknown> = {
        reqId: seen?.id,
        method: request.method,
        route: template,
        path: new URL(request.url).pathname,
        status,
        ms: Math.round(seconds * 100_000) / 100,
      };
      // Headers only when debugging; the logger redacts the credentials among them.
      if (log.isLevelEnabled("debug")) line.headers = Object.fromEntries(request.headers);
      log[level](line, "request");
    });
}
