/**
 * The XINA task and thread actions family: `POST /xina/action`, one JSON action per
 * request (seed-spec §3). 200 `{ok: true, tasks: [...]}`; a refusal is 400
 * `{error: {code, message}}` and changes nothing; 401 without a valid key.
 *
 * The route parses nothing itself (`parse: "none"`): the body is read and checked in
 * the handler, so every refusal names its field in this family's shape. The app's
 * handler leaves `/xina/` errors to this family, and this instance's own (local)
 * `onError` answers them: those of the handler, and those raised before it (the
 * native family's scoped key check runs on these routes too). Being local, it never
 * sees another family's routes.
 */
import { Type as T, type TSchema } from "@sinclair/typebox";
import { Elysia } from "elysia";
import type { Logger } from "../../log";
import type { EngineApi } from "../../runtime/commands";
import type { ApiKeys } from "../auth";
import { DEFAULT_MAX_BODY_BYTES } from "../body-limit";
import { readJsonBody } from "./body";
import { toXinaAnswer } from "./errors";
import { parseAction, type XinaAction } from "./parse";
import type { XinaTask } from "./present";
import { run } from "./run";
import { TaskDef, TaskId, TaskRef } from "./schemas";
import { cancel, clean, conclude, destroy } from "./task-actions";
import { pauseThreads, resumeThreads } from "./threads";

export interface XinaReply {
  readonly ok: true;
  readonly tasks: XinaTask[];
  /** The threads a PAUSE or RESUME named. */
  readonly threads?: readonly string[];
}

async function perform(engine: EngineApi, tenant: string, action: XinaAction): Promise<XinaReply> {
  switch (action.action) {
    case "run":
      return { ok: true, tasks: await run(engine, tenant, action.entries) };
    case "conclude":
      return { ok: true, tasks: await conclude(engine, tenant, action.task, action.delayMs) };
    case "cancel":
      return { ok: true, tasks: await cancel(engine, tenant, action.targets, action.ignore) };
    case "clean":
      return { ok: true, tasks: await clean(engine, tenant, action.targets, action.ignore) };
    case "destroy":
      return { ok: true, tasks: await destroy(engine, tenant, action.targets) };
    case "pause":
      await pauseThreads(engine, tenant, action.threads);
      return { ok: true, tasks: [], threads: action.threads };
    case "resume":
      await resumeThreads(engine, tenant, action.threads, action.continue);
      return { ok: true, tasks: [], threads: action.threads };
  }
}

const INTERNAL = { error: { code: "INTERNAL", message: "internal error" } } as const;

/** @param log where unexpected errors go before they are answered with 500 */
/** The action bodies as the spec shows them: entries are definitions, ids or refs. */
const Entry = T.Union([TaskDef, TaskId, TaskRef]);
const ActionBodyDoc = T.Union([
  T.Object({ action: T.Literal("run"), tasks: T.Array(Entry) }),
  T.Object({ action: T.Literal("conclude"), task: TaskId, delay: T.Optional(T.Integer()) }),
  T.Object({
    action: T.Union([T.Literal("cancel"), T.Literal("clean")]),
    tasks: T.Array(T.Union([TaskId, TaskRef])),
    ignore: T.Optional(T.Boolean()),
  }),
  T.Object({ action: T.Literal("destroy"), tasks: T.Array(T.Union([TaskId, TaskRef])) }),
  T.Object({ action: T.Literal("pause"), threads: T.Array(T.String()) }),
  T.Object({
    action: T.Literal("resume"),
    threads: T.Array(T.String()),
    continue: T.Optional(T.Boolean()),
  }),
]);
const OkDoc = T.Object({ ok: T.Literal(true), tasks: T.Array(T.Record(T.String(), T.Unknown())) });
const ErrorDoc = T.Object({ error: T.Object({ code: T.String(), message: T.String() }) });

/** TypeBox schemas are JSON Schema; the OpenAPI types just do not know TypeBox's. */
const asOpenApi = (schema: TSchema) => schema as unknown as Record<string, never>;

/** @param maxBodyBytes larger bodies are refused with 413 (BODY_TOO_LARGE) */
export function xinaActions(
  engine: EngineApi,
  keys: ApiKeys,
  log?: Pick<Logger, "error">,
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
) {
  return (
    new Elysia({ name: "xina-actions" })
      .onError(({ error, set }) => {
        const answer = toXinaAnswer(error);
        if (answer !== undefined) {
          set.status = answer.status;
          return answer.body;
        }
        log?.error({ err: error }, "unhandled error in a XINA action");
        set.status = 500;
        return INTERNAL;
      })
      .post(
        "/xina/action",
        async ({ request }) => {
          // The client the key names is the tenant: another client's tasks and threads
          // do not exist for it.
          const tenant = keys.require(request.headers);
          const action = parseAction(await readJsonBody(request, maxBodyBytes));
          return perform(engine, tenant, action);
        },
        {
          parse: "none",
          detail: {
            summary:
              "Run a XINA task or thread action (run, conclude, cancel, clean, destroy, pause, resume)",
            tags: ["xina"],
            // The body is read and checked by hand (one action's schema after another),
            // so the spec is given here for the documentation.
            requestBody: {
              required: true,
              content: { "application/json": { schema: asOpenApi(ActionBodyDoc) } },
            },
            responses: {
              200: {
                description: "done; tasks lists the tasks the action created or touched",
                content: { "application/json": { schema: asOpenApi(OkDoc) } },
              },
              400: {
                description: "refused; nothing changed",
                content: { "application/json": { schema: asOpenApi(ErrorDoc) } },
              },
              401: {
                description: "no valid API key",
                content: { "application/json": { schema: asOpenApi(ErrorDoc) } },
              },
            },
          },
        },
      )
      // The rest of /xina/ is this family's too: answer it in this family's shape.
      .all(
        "/xina/*",
        ({ request, set }) => {
          keys.require(request.headers);
          set.status = 404;
          return {
            error: {
              code: "NOT_FOUND",
              message: "no such XINA route; actions go to POST /xina/action",
            },
          };
        },
        { parse: "none", detail: { hide: true } },
      )
  );
}
