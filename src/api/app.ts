/**
 * The HTTP application: one Elysia instance per API family, mounted together, with
 * one error translator. `createApp` takes the engine's interface and nothing else.
 */
import { Elysia } from "elysia";
import type { Logger } from "../log";
import type { EngineApi } from "../runtime/commands";
import type { ApiKeys } from "./auth";
import { toNativeError, validationError } from "./errors";
import { nativeAgents } from "./native/agents";
import { nativeTasks } from "./native/tasks";

export interface AppOptions {
  readonly log: Logger;
  /** Who may call; every route but `GET /` needs one of these keys. */
  readonly apiKeys: ApiKeys;
  /** Larger bodies are refused with 413. @default 1 MiB */
  readonly maxBodyBytes?: number;
}

export function createApp(engine: EngineApi, options: AppOptions) {
  const log = options.log;
  return new Elysia({
    // Unknown properties are refused by the schemas, not silently dropped.
    normalize: false,
    serve: { maxRequestBodySize: options.maxBodyBytes ?? 1024 * 1024 },
  })
    .onError(({ code, error, set }) => {
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
    .get("/", () => ({ result: "alive" }), { detail: { summary: "Liveness" } })
    .use(nativeTasks(engine, options.apiKeys))
    .use(nativeAgents(engine, options.apiKeys));
}

export type App = ReturnType<typeof createApp>;
