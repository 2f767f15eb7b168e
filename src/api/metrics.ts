/**
 * `GET /metrics`: the engine's metrics in the Prometheus text format. Like every
 * native route it needs an API key, unless the server was started with
 * FW_METRICS_OPEN=1 (a scraper on a trusted network without a key).
 */
import { Elysia, t } from "elysia";
import type { ApiKeys } from "./auth";
import { ErrorResponse } from "./native/task-schemas";

/** What serves the text (a prom-client registry, say); the composition root passes it. */
export interface MetricsExport {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** Where the HTTP layer reports each answered request (the same collector, usually). */
export interface HttpObserver {
  /** `route` is the route template (`/tasks/:id`), or `unmatched` for unknown paths. */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

export interface MetricsRouteOptions {
  readonly source: MetricsExport;
  readonly apiKeys: ApiKeys;
  /** Serve without a key. @default false */
  readonly open?: boolean;
}

export function metricsRoute(options: MetricsRouteOptions) {
  const { source, apiKeys } = options;
  return new Elysia({ name: "metrics" }).get(
    "/metrics",
    async ({ request, set }) => {
      if (!options.open) apiKeys.require(request.headers);
      const text = await source.metrics();
      set.headers["content-type"] = source.contentType;
      return text;
    },
    {
      response: {
        200: t.String({ description: "the Prometheus text exposition format (version 0.0.4)" }),
        401: ErrorResponse,
      },
      detail: {
        summary: "Metrics in the Prometheus text format (open with FW_METRICS_OPEN=1)",
        tags: ["metrics"],
      },
    },
  );
}
