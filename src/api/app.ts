/**
 * The HTTP application: one Elysia instance per API family, mounted together, with
 * one error translator. `createApp` takes the engine's interface and nothing else.
 */
import { openapi } from "@elysiajs/openapi";
import { Elysia, NotFoundError as ElysiaNotFound, t } from "elysia";
import type { Logger } from "../log";
import type { EngineApi, ExecutorApi, JobsApi } from "../runtime/commands";
import { xinaActions } from "./actions";
import type { ApiKeys } from "./auth";
import { bodyLimit, DEFAULT_MAX_BODY_BYTES } from "./body-limit";
import { type DebugSource, debugRoutes } from "./debug";
import { toNativeError, validationError } from "./errors";
import { executorRpc } from "./executor";
import { ApiFamily, familyOf } from "./families";
import { BUILT_IN_TEMPLATES, hostTaskApi, type TaskTemplate } from "./hosttask";
import { jobsRoutes } from "./jobs";
import { jsonDepthLimit } from "./json-depth";
import { type HttpObserver, type MetricsExport, metricsRoute } from "./metrics";
import { nativeAgents } from "./native/agents";
import { nativeEvents } from "./native/events";
import { nativeTasks } from "./native/tasks";
import { type PeriodicApi, periodicRoutes } from "./periodic";
import { type RateLimit, rateLimit } from "./rate-limit";
import { NoSuchRouteError, refusalAnswer } from "./refusal-answer";
import { requestLog } from "./request-log";

export interface AppOptions {
  readonly log: Logger;
  /** Who may call; every route but `GET /` needs one of these keys. */
  readonly apiKeys: ApiKeys;
  /** Larger bodies are refused with 413, in each family's shape. @default 1 MiB */
  readonly maxBodyBytes?: number;
  /** Requests per client (API key, or address without one); over it 429. @default no limit */
  readonly rateLimit?: RateLimit | null;
  /**
   * Seconds a connection may stay silent in a request before Bun closes it (SSE
   * streams lift it for themselves). @default 10
   */
  readonly idleTimeoutSeconds?: number;
  /**
   * The browsable API page's script and style, served from here so the page works
   * with no internet (read from the swagger-ui-dist package by the composition root).
   */
  readonly openApiAssets?: { readonly script: string; readonly style: string };
  /** The periodic commands (`/api/v1/tasks/...`); absent: that family is not served. */
  readonly periodic?: PeriodicApi;
  /** The executor tasks (`POST /rpc`); absent: that family is not served. */
  readonly executor?: ExecutorApi;
  /**
   * The job engine (`/job`, `/jobs`, `/logs`, `/health`, `/dashboard`, `/schedules`,
   * `/scheduler`, `/settings`, `/workflows`); absent: that family is not served.
   */
  readonly jobs?: JobsApi;
  /** The statechart visualizer's data (`/debug`); absent: not served. */
  readonly debug?: DebugSource;
  /** Host task templates. @default the built-in ones */
  readonly templates?: readonly TaskTemplate[];
  /** What `GET /metrics` serves and where requests are counted; absent: not served. */
  readonly metrics?: MetricsExport & HttpObserver;
  /** Serve `/metrics` without an API key (FW_METRICS_OPEN=1). @default false */
  readonly metricsOpen?: boolean;
  /** Binds a request's id to every line logged while it runs (src/log's enterLogContext). */
  readonly enterLogContext?: (bindings: { readonly reqId: string }) => void;
}

/** The engine's version, in the OpenAPI document and the job family's answers. */
const VERSION = "0.1.0";

/**
 * The other API families answer their own errors in their own shapes (their routes'
 * local handlers); everything else, unknown routes included, is the native API's.
 */
function isNativePath(url: string): boolean {
  return familyOf(url) === ApiFamily.Native;
}

/**
 * Bun's own body limit, far above ours: over it Bun answers a bare 413 before any of
 * our code runs, and body-limit.ts answers every body over ours in the family's shape
 * without reading it, so Bun's never needs to.
 */
const SERVER_MAX_BODY_BYTES = Number.MAX_SAFE_INTEGER;

export function createApp(engine: EngineApi, options: AppOptions) {
  const log = options.log;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return new Elysia({
    // Unknown properties are refused by the schemas, not silently dropped.
    normalize: false,
    serve: { maxRequestBodySize: SERVER_MAX_BODY_BYTES, idleTimeout: options.idleTimeoutSeconds },
  })
    .use(requestLog({ log, metrics: options.metrics, enterContext: options.enterLogContext }))
    .use(rateLimit(options.rateLimit, options.apiKeys))
    .use(bodyLimit(maxBodyBytes))
    .use(jsonDepthLimit())
    .onError(({ code, error, set, request }) => {
      // Refused before routing (rate, body size), or no route of its family matched:
      // answered in the family's shape (refusal-answer.ts).
      const refusal = refusalAnswer(error, request, set);
      if (refusal !== undefined) return refusal;
      // Each other family shapes its own errors (its routes' scoped handlers).
      if (!isNativePath(request.url)) {
        // Elysia's own "no route" only: an engine NotFoundError has that code too.
        if (!(error instanceof ElysiaNotFound)) return;
        const path = new URL(request.url).pathname;
        return refusalAnswer(new NoSuchRouteError(request.method, path), request, set);
      }
      // Engine errors first: their `code` (NOT_FOUND, ...) would otherwise be read
      // as Elysia's own codes.
      const mapped = toNativeError(error);
      if (mapped) {
        set.status = mapped.status;
        return mapped.body;
      }
      if (code === "VALIDATION") {
        const e = error as { type?: string; valueError?: { path?: string; message?: string } };
        const where = e.type === "params" ? "path" : (e.type ?? "request");
        const answer = validationError(where, e.valueError);
        set.status = answer.status;
        return answer.body;
      }
      if (code === "PARSE") {
        set.status = 400;
        return { error: { code: "INVALID_INPUT", message: "the request body is not valid JSON" } };
      }
      if (code === "NOT_FOUND") {
        set.status = 404;
        return { error: { code: "NOT_FOUND", message: "no such route" } };
      }
      log.error({ err: error }, "unhandled error in a request");
      set.status = 500;
      return { error: { code: "INTERNAL", message: "internal error" } };
    })
    .use(
      openapi({
        path: "/openapi",
        provider: "swagger-ui",
        documentation: {
          info: {
            title: "Fleetwork",
            version: VERSION,
            description: "A task engine for remote command execution on fleets of hosts.",
          },
        },
        swagger: options.openApiAssets
          ? { cdn: "/openapi/assets/swagger-ui-bundle.js", theme: "/openapi/assets/swagger-ui.css" }
          : {},
      }),
    )
    .get(
      "/openapi/assets/swagger-ui-bundle.js",
      ({ set }) => {
        set.headers["content-type"] = "text/javascript; charset=utf-8";
        return options.openApiAssets?.script ?? "";
      },
      { detail: { hide: true } },
    )
    .get(
      "/openapi/assets/swagger-ui.css",
      ({ set }) => {
        set.headers["content-type"] = "text/css; charset=utf-8";
        return options.openApiAssets?.style ?? "";
      },
      { detail: { hide: true } },
    )
    .get("/", () => ({ result: "alive" as const }), {
      response: t.Object({ result: t.Literal("alive") }),
      detail: { summary: "Liveness (the one route that needs no key)" },
    })
    .use(
      options.metrics
        ? metricsRoute({
            source: options.metrics,
            apiKeys: options.apiKeys,
            open: options.metricsOpen ?? false,
          })
        : new Elysia({ name: "metrics" }),
    )
    .use(nativeTasks(engine, options.apiKeys))
    .use(nativeAgents(engine, options.apiKeys))
    .use(nativeEvents(engine, options.apiKeys, log))
    .use(
      options.periodic
        ? periodicRoutes(options.periodic, options.apiKeys, log)
        : new Elysia({ name: "periodic" }),
    )
    .use(
      options.executor
        ? executorRpc(options.executor, options.apiKeys, log, maxBodyBytes)
        : new Elysia({ name: "executor-rpc" }),
    )
    .use(
      options.jobs
        ? jobsRoutes(options.jobs, options.apiKeys, { version: VERSION, log, maxBodyBytes })
        : new Elysia({ name: "jobs" }),
    )
    .use(
      options.debug ? debugRoutes(options.debug, options.apiKeys) : new Elysia({ name: "debug" }),
    )
    .use(xinaActions(engine, options.apiKeys, log, maxBodyBytes))
    .use(
      hostTaskApi(
        engine,
        options.apiKeys,
        options.templates ?? BUILT_IN_TEMPLATES,
        log,
        maxBodyBytes,
      ),
    );
}

export type App = ReturnType<typeof createApp>;
