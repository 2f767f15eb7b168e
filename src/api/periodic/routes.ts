/**
 * The periodic-command family, `/api/v1/tasks/...` (seed-spec §5): a "task" here is
 * a command run every interval on every selected agent. Errors are
 * `{ "error": "<message>" }` with 400, 401, 404, 409 or 503.
 *
 * The app's own error handler leaves `/api/v1/` to this family, and this instance's
 * local `onError` answers for its routes: engine errors from the handlers, Elysia's
 * validation and parse errors, and the key check. It is local on purpose: a scoped
 * one would be lifted into the app and answer every route mounted after it, other
 * families and unknown routes included.
 */
import { Elysia } from "elysia";
import { InvalidInputError } from "../../errors";
import type { Logger } from "../../log";
import type { ApiKeys } from "../auth";
import { periodicError } from "./errors";
import type { PeriodicApi, PeriodicCreate } from "./periodic-api";
import { frequencyMs, presentLatest, presentRun, presentSchedule } from "./present";
import {
  CompleteBody,
  CreateBody,
  CreatedBody,
  ErrorBody,
  HistoryBody,
  HistoryQuery,
  IdParams,
  LatestOutputBody,
  ListBody,
  OkBody,
  ScheduleBody,
} from "./schemas";

const TAGS = ["periodic"];
const ERRORS = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody };

/** @param log where unexpected errors go before they are answered with 500 */
export function periodicRoutes(schedules: PeriodicApi, keys: ApiKeys, log?: Pick<Logger, "error">) {
  return (
    new Elysia({ name: "periodic", prefix: "/api/v1/tasks", normalize: false })
      .onError(({ code, error, set }) => {
        const body = periodicError(error, set, code);
        if (set.status === 500) log?.error({ err: error }, "unhandled error in a periodic route");
        return body;
      })
      // The rest of /api/v1/tasks is this family's too: answer it in this family's shape.
      // Registered before the parse hook below, which would make `parse: "none"` fail.
      .all(
        "/*",
        ({ request, set }) => {
          keys.require(request.headers);
          set.status = 404;
          return { error: "no such route" };
        },
        { parse: "none", detail: { hide: true } },
      )
      // The key is checked before the body is read: without one, nothing is parsed.
      .onParse(({ request }) => {
        keys.require(request.headers);
      })
      // The client the key names is the tenant: another client's tasks do not exist.
      .derive(({ request }) => ({ tenant: keys.require(request.headers) }))
      .post(
        "/create",
        async ({ body, tenant }) => {
          if ((body.frequency === undefined) === (body.cron === undefined)) {
            throw new InvalidInputError(
              body.cron === undefined
                ? "frequency is required (or cron instead)"
                : "give frequency or cron, not both",
              "frequency",
            );
          }
          const spec: PeriodicCreate = {
            command: body.command,
            ...(body.frequency === undefined ? {} : { everyMs: frequencyMs(body.frequency) }),
            ...(body.cron === undefined ? {} : { cron: body.cron }),
            ...(body.agents === undefined ? {} : { agents: body.agents }),
            ...(body.timeout === undefined ? {} : { timeoutMs: body.timeout * 1_000 }),
          };
          return { command_id: await schedules.create(tenant, spec) };
        },
        {
          // Read as JSON whatever the content type says: `curl --data` sends
          // form-urlencoded unless told otherwise.
          parse: "json",
          body: CreateBody,
          response: { 200: CreatedBody, ...ERRORS },
          detail: {
            summary: "Create a periodic command (every N seconds|minutes|hours, or cron)",
            tags: TAGS,
          },
        },
      )
      .get(
        "",
        async ({ tenant }) => ({ tasks: (await schedules.list(tenant)).map(presentSchedule) }),
        {
          response: { 200: ListBody, ...ERRORS },
          detail: { summary: "List the periodic commands", tags: TAGS },
        },
      )
      .get(
        "/:id",
        async ({ params, tenant }) => presentSchedule(await schedules.get(tenant, params.id)),
        {
          params: IdParams,
          response: { 200: ScheduleBody, ...ERRORS },
          detail: { summary: "Read a periodic command", tags: TAGS },
        },
      )
      .get(
        "/:id/latest_output",
        async ({ params, tenant }) =>
          presentLatest(await schedules.latestOutput(tenant, params.id)),
        {
          params: IdParams,
          response: { 200: LatestOutputBody, ...ERRORS },
          detail: { summary: "The latest run's output on each agent", tags: TAGS },
        },
      )
      .get(
        "/:id/outputs",
        async ({ params, query, tenant }) => {
          const runs = await schedules.history(tenant, params.id, query.limit ?? 50);
          return { outputs: runs.map(presentRun) };
        },
        {
          params: IdParams,
          query: HistoryQuery,
          response: { 200: HistoryBody, ...ERRORS },
          detail: { summary: "Past runs, newest first", tags: TAGS },
        },
      )
      .post(
        "/:id/complete",
        async ({ params, body, tenant }) => {
          await schedules.complete(tenant, params.id, {
            serverId: body.server_id,
            stdout: body.stdout,
            stderr: body.stderr,
          });
          return { ok: true as const };
        },
        {
          parse: "json",
          params: IdParams,
          body: CompleteBody,
          response: { 200: OkBody, ...ERRORS },
          detail: { summary: "Report a run's output from a server", tags: TAGS },
        },
      )
      .post(
        "/:id/pause",
        async ({ params, tenant }) => presentSchedule(await schedules.pause(tenant, params.id)),
        {
          params: IdParams,
          response: { 200: ScheduleBody, 409: ErrorBody, ...ERRORS },
          detail: { summary: "Stop the ticks; runs going finish", tags: TAGS },
        },
      )
      .post(
        "/:id/resume",
        async ({ params, tenant }) => presentSchedule(await schedules.resume(tenant, params.id)),
        {
          params: IdParams,
          response: { 200: ScheduleBody, 409: ErrorBody, ...ERRORS },
          detail: { summary: "Tick again, from the next interval in phase", tags: TAGS },
        },
      )
      .delete(
        "/:id",
        async ({ params, tenant }) => {
          await schedules.delete(tenant, params.id);
          return { ok: true as const };
        },
        {
          params: IdParams,
          response: { 200: OkBody, ...ERRORS },
          detail: { summary: "Delete a periodic command for good", tags: TAGS },
        },
      )
  );
}
