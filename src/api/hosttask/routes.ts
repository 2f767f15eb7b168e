/**
 * The host task API family (i3D ODP, spec section 2), one Elysia instance:
 * application instance tasks, their batches and templates under /v3.
 *
 * Every route answers its own errors, in this family's shape, and lets Elysia parse
 * and validate nothing: a scoped `onError` of a plugin is lifted to the app, where
 * it runs after the app's own handler and before those of plugins mounted later,
 * for their routes too. An error that left these routes would be answered by
 * whichever family's handler came first; one that never leaves them cannot be.
 */
import type { TSchema } from "@sinclair/typebox";
import { type DocumentDecoration, Elysia } from "elysia";
import type { Logger } from "../../log";
import type { EngineApi } from "../../runtime/commands";
import type { ApiKeys } from "../auth";
import { DEFAULT_MAX_BODY_BYTES } from "../body-limit";
import { HostTaskError, HostTaskErrorCode, toHostTaskError } from "./errors";
import { readJson } from "./request";
import {
  CreateTaskBody,
  ErrorBodySchema,
  TaskBatchStatusSchema,
  TaskStatusSchema,
  TaskTemplateViewSchema,
} from "./schemas";
import { HostTasks } from "./service";
import { BUILT_IN_TEMPLATES, checkTemplates, type TaskTemplate } from "./templates";

const TAG = "host tasks (i3D)";

interface RouteContext {
  readonly request: Request;
  readonly params: Record<string, string | undefined>;
  readonly set: { status?: number | string };
}

type OpenApiBody = Extract<NonNullable<DocumentDecoration["requestBody"]>, { content: unknown }>;
type OpenApiSchema = NonNullable<NonNullable<OpenApiBody["content"][string]>["schema"]>;

function json(schema: TSchema | { type: "array"; items: TSchema }) {
  // A TypeBox schema is JSON Schema, which OpenAPI 3.1 takes as it is; the types of
  // the two libraries do not know that of each other.
  return { content: { "application/json": { schema: schema as unknown as OpenApiSchema } } };
}

const ERRORS = {
  403: { description: "no or wrong PRIVATE-TOKEN", ...json(ErrorBodySchema) },
  422: { description: "bad input", ...json(ErrorBodySchema) },
};

function doc(
  summary: string,
  item: TSchema,
  extra: NonNullable<DocumentDecoration["responses"]> = {},
  body?: TSchema,
): { detail: DocumentDecoration } {
  return {
    detail: {
      summary,
      tags: [TAG],
      ...(body === undefined ? {} : { requestBody: { required: true, ...json(body) } }),
      responses: {
        200: { description: "always an array", ...json({ type: "array", items: item }) },
        ...ERRORS,
        ...extra,
      },
    },
  };
}

const NOT_FOUND = { 404: { description: "Entity not found", ...json(ErrorBodySchema) } };
const CONFLICT = { 409: { description: "the task has finished", ...json(ErrorBodySchema) } };

/**
 * @param templates what `taskTemplateId` may name; checked here, so a bad list fails
 *   at startup with a ConfigError. @default BUILT_IN_TEMPLATES
 */
export function hostTaskApi(
  engine: EngineApi,
  keys: ApiKeys,
  templates: readonly TaskTemplate[] = BUILT_IN_TEMPLATES,
  log?: Logger,
  /** Larger bodies are refused with 413. @default 1 MiB */
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
) {
  const tasks = new HostTasks(engine, checkTemplates(templates));
  const reportInternal = (error: unknown) =>
    log?.error({ err: error }, "unhandled error in a host task request");

  /** Authenticates, runs, and turns any throw into this family's answer. */
  const route =
    (run: (tenant: string, context: RouteContext) => unknown) =>
    async (context: RouteContext): Promise<unknown> => {
      try {
        const tenant = keys.require(context.request.headers);
        return await run(tenant, context);
      } catch (error) {
        const answer = toHostTaskError(error, reportInternal);
        context.set.status = answer.status;
        return answer.body;
      }
    };
  const param = (context: RouteContext, name: string) => context.params[name] ?? "";
  const noSuchRoute = ({ set }: RouteContext) => {
    const answer = new HostTaskError(404, HostTaskErrorCode.EntityNotFound, "Entity not found", [
      { property: "path", message: "no such route" },
    ]);
    set.status = answer.status;
    return answer.body;
  };
  // Elysia reads no body: routes that take one read it themselves.
  const raw = { parse: "none" } as const;

  return new Elysia({ name: "host-tasks" })
    .get(
      "/v3/applicationInstance/task/template",
      route(() => tasks.listTemplates()),
      doc("Task templates", TaskTemplateViewSchema),
    )
    .post(
      "/v3/applicationInstance/task",
      route(async (tenant, { request }) =>
        tasks.create(tenant, await readJson(request, maxBodyBytes)),
      ),
      {
        ...raw,
        ...doc(
          "Create one task per selected instance, in one batch",
          TaskBatchStatusSchema,
          {},
          CreateTaskBody,
        ),
      },
    )
    .get(
      "/v3/applicationInstance/task",
      route((tenant) => tasks.list(tenant)),
      doc("Your last 100 tasks, newest first", TaskStatusSchema),
    )
    .get(
      "/v3/applicationInstance/task/:taskId",
      route((tenant, context) => tasks.get(tenant, param(context, "taskId"))),
      doc("A task", TaskStatusSchema, NOT_FOUND),
    )
    .delete(
      "/v3/applicationInstance/task/:taskId",
      route((tenant, context) => tasks.cancel(tenant, param(context, "taskId"))),
      { ...raw, ...doc("Cancel a task (124)", TaskStatusSchema, { ...NOT_FOUND, ...CONFLICT }) },
    )
    .put(
      "/v3/applicationInstance/task/:taskId",
      route((tenant, context) => tasks.togglePause(tenant, param(context, "taskId"))),
      {
        ...raw,
        ...doc("Pause a task, or resume a paused one", TaskStatusSchema, {
          ...NOT_FOUND,
          ...CONFLICT,
        }),
      },
    )
    .get(
      "/v3/applicationInstance/taskBatch",
      route((tenant) => tasks.batches(tenant)),
      doc("Your last 100 task batches, newest first", TaskBatchStatusSchema),
    )
    .get(
      "/v3/applicationInstance/taskBatch/:taskBatchId",
      route((tenant, context) => tasks.batch(tenant, param(context, "taskBatchId"))),
      doc("A task batch", TaskBatchStatusSchema, NOT_FOUND),
    )
    .get(
      "/v3/applicationInstance/:applicationInstanceId/task",
      route((tenant, context) =>
        tasks.instanceTasks(tenant, param(context, "applicationInstanceId")),
      ),
      doc("The instance's last 50 tasks, newest first", TaskStatusSchema),
    )
    .get(
      "/v3/host/:hostId/task",
      route((tenant, context) => tasks.hostTasks(tenant, param(context, "hostId"))),
      doc("The host's (agent's) last 50 tasks, newest first", TaskStatusSchema),
    )
    .all("/v3/applicationInstance/*", noSuchRoute, { ...raw, detail: { hide: true } })
    .all("/v3/host/*", noSuchRoute, { ...raw, detail: { hide: true } });
}
