/**
 * The native task API: create, read, list, and the commands a task accepts.
 * One Elysia instance for this controller; it knows the engine only through its
 * command/query interface.
 */
import { Elysia, t } from "elysia";
import type { EngineApi, TaskView } from "../../runtime/commands";
import type { ApiKeys } from "../auth";
import {
  ConcludeBody,
  ErrorResponse,
  ListTasksQuery,
  PauseBody,
  SubmitTaskBody,
  TaskAnswers,
  TaskIdParams,
  TaskResponse,
} from "./task-schemas";

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

const COMMAND_NAMES: Record<string, string> = {
  PAUSE: "pause",
  RESUME: "resume",
  CANCEL: "cancel",
  CONCLUDE: "conclude",
};

export function presentTask(view: TaskView) {
  return {
    id: view.id,
    name: view.name,
    state: view.state,
    status: view.status,
    outcome: view.outcome,
    agent: view.agentId,
    lane: view.lane,
    actions: [...view.actions],
    currentActionIdx: view.currentActionIdx,
    priority: view.priority,
    attempt: view.attempt,
    execId: view.execId,
    progress: view.progress,
    results: [...view.results],
    error: view.error,
    timeoutReason: view.timeoutReason,
    open: view.open,
    archive: view.archive,
    refId: view.refId,
    executeAt: iso(view.executeAt),
    createdAt: iso(view.createdAt),
    startedAt: isoOrNull(view.startedAt),
    lastActivityAt: iso(view.lastActivityAt),
    finishedAt: isoOrNull(view.finishedAt),
    accepts: view.accepts.map((event) => COMMAND_NAMES[event] ?? event.toLowerCase()),
  };
}

export function nativeTasks(engine: EngineApi, keys: ApiKeys) {
  return (
    new Elysia({ name: "native-tasks" })
      // The client the key names is the tenant: another client's tasks do not exist.
      .derive(({ request }) => ({ tenant: keys.require(request.headers) }))
      .post(
        "/tasks",
        async ({ body, set, tenant }) => {
          const executeAt =
            body.executeAt === undefined
              ? undefined
              : typeof body.executeAt === "number"
                ? body.executeAt
                : Date.parse(body.executeAt);
          const view = await engine.submit({ ...body, agentId: body.agent, tenant, executeAt });
          set.status = 201;
          return presentTask(view);
        },
        {
          body: SubmitTaskBody,
          response: {
            201: TaskResponse,
            400: ErrorResponse,
            401: ErrorResponse,
            503: ErrorResponse,
          },
          detail: { summary: "Create a task", tags: ["tasks"] },
        },
      )
      .get(
        "/tasks",
        async ({ query, tenant }) => {
          const views = await engine.list(tenant, {
            status: query.status?.split(",").map((s) => s.trim()),
            lane: query.lane,
            beforeId: query.before,
            limit: query.limit,
          });
          return views.map(presentTask);
        },
        {
          query: ListTasksQuery,
          response: { 200: t.Array(TaskResponse), 400: ErrorResponse, 401: ErrorResponse },
          detail: { summary: "List tasks, newest first", tags: ["tasks"] },
        },
      )
      .get(
        "/tasks/:id",
        async ({ params, tenant }) => presentTask(await engine.get(tenant, params.id)),
        {
          params: TaskIdParams,
          response: TaskAnswers,
          detail: { summary: "Get a task", tags: ["tasks"] },
        },
      )
      .post(
        "/tasks/:id/cancel",
        async ({ params, tenant }) => presentTask(await engine.cancel(tenant, params.id)),
        { params: TaskIdParams, response: TaskAnswers, detail: { tags: ["tasks"] } },
      )
      .post(
        "/tasks/:id/pause",
        async ({ params, body, tenant }) =>
          presentTask(await engine.pause(tenant, params.id, body?.mode)),
        {
          params: TaskIdParams,
          body: PauseBody,
          response: TaskAnswers,
          detail: { tags: ["tasks"] },
        },
      )
      .post(
        "/tasks/:id/resume",
        async ({ params, tenant }) => presentTask(await engine.resume(tenant, params.id)),
        { params: TaskIdParams, response: TaskAnswers, detail: { tags: ["tasks"] } },
      )
      .post(
        "/tasks/:id/conclude",
        async ({ params, body, tenant }) =>
          presentTask(await engine.conclude(tenant, params.id, body.delayMs ?? 0)),
        {
          params: TaskIdParams,
          body: ConcludeBody,
          response: TaskAnswers,
          detail: { tags: ["tasks"] },
        },
      )
  );
}
