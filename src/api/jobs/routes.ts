/**
 * The job family (Vualto Task Engine, seed-spec section 4): jobs that run a named
 * workflow, their logs, the engine's health and queue, its schedules and settings,
 * and (an extension) the workflows themselves.
 *
 * Authentication is `client` + `api-key` (the other key headers work too); every
 * route needs it but `GET /` (the app's) and `GET /jobs`, which the seed leaves open:
 * it lists every client's jobs unless `client=` narrows it, with or without a key.
 * The other job routes see only the caller's own jobs; another client's job is
 * answered as not found.
 *
 * Like the other families it lets Elysia parse nothing (`parse: "none"`): it reads
 * and checks its own bodies and query (parse.ts) and answers every error itself, in
 * its own shapes (errors.ts), with an `onError` local to this instance. (A scoped one
 * would be lifted into the app and answer other families' routes too.)
 */
import { Type as T } from "@sinclair/typebox";
import { Elysia } from "elysia";
import type { Logger } from "../../log";
import type { JobsApi } from "../../runtime/commands";
import type { ApiKeys } from "../auth";
import { JobsError, jobsAnswer, shapeOf } from "./errors";
import {
  jobId,
  parseChanges,
  parseCreate,
  parseListQuery,
  parseScheduler,
  parseSetting,
  parseWorkflow,
  readObject,
  requestLog,
} from "./parse";
import {
  presentDashboard,
  presentHealth,
  presentJob,
  presentLog,
  presentSchedules,
  presentWorkflow,
} from "./present";
import {
  AcceptedBody,
  CreateBody,
  DashboardBody,
  doc,
  ErrorBody,
  HealthBody,
  IdErrorBody,
  JobBody,
  json,
  LIST_PARAMETERS,
  LogEntryBody,
  SchedulerBody,
  SchedulerResult,
  SchedulesBody,
  SettingBody,
  SettingResult,
  SettingsBody,
  UpdateBody,
  UpdatedBody,
  WorkflowBody,
  WorkflowInputBody,
} from "./schemas";

export interface JobsRoutesOptions {
  /** The engine's version, as `/health` and `/dashboard` report it. */
  readonly version: string;
  /** Where unexpected errors go before they are answered with 500. */
  readonly log?: Pick<Logger, "error">;
  /** Larger bodies are refused with 413. @default 1 MiB */
  readonly maxBodyBytes?: number;
}

const ID_PARAMS = T.Object({ id: T.String({ description: "a job id", examples: ["12"] }) });
const JOB_ID_PARAMS = T.Object({
  job_id: T.String({ description: "a job id", examples: ["12"] }),
});
const NAME_PARAMS = T.Object({
  name: T.String({ description: "a workflow name", examples: ["vodstream"] }),
});
const BAD = { 400: { description: "bad input, or no such job of yours", ...json(ErrorBody) } };
// Elysia reads no body and checks no parameter: this family does both itself.
const raw = { parse: "none" } as const;

export function jobsRoutes(jobs: JobsApi, keys: ApiKeys, options: JobsRoutesOptions) {
  const { version, log } = options;
  const readBody = (request: Request) => readObject(request, options.maxBodyBytes);
  const unexpected = (error: unknown) =>
    log?.error({ err: error }, "unhandled error in a job route");
  const client = (request: Request) => keys.require(request.headers);
  const noSuchRoute = ({ request }: { request: Request }) => {
    keys.require(request.headers);
    const path = new URL(request.url).pathname;
    throw new JobsError(404, `no such route: ${request.method} ${path}`);
  };
  const hidden = { ...raw, detail: { hide: true } };

  return (
    new Elysia({ name: "jobs", normalize: false })
      .onError(({ error, set, request }) => {
        const answer = jobsAnswer(error, shapeOf(request), unexpected);
        set.status = answer.status;
        if (answer.text) set.headers["content-type"] = "text/plain; charset=utf-8";
        return answer.body;
      })
      // ---- jobs ------------------------------------------------------------------
      .post(
        "/job",
        async ({ request }) => {
          const tenant = client(request);
          const input = parseCreate(await readBody(request), tenant);
          const job = await jobs.create(tenant, { ...input, requestLog: requestLog(request) });
          return { id: job.id, result: "accepted" as const };
        },
        {
          ...raw,
          ...doc("Submit a job: run a workflow with these parameters", AcceptedBody, {
            description:
              "Scheduled when job.run_at is in the future, else queued (seed-spec 4.5). " +
              'A failure that is not the request\'s is 500 with the bare text "Unable to create job request".',
            body: CreateBody,
            errors: {
              400: {
                description: "bad input; nothing was created",
                ...json(IdErrorBody),
              },
            },
          }),
        },
      )
      .get(
        "/jobs",
        async ({ request }) => {
          const query = parseListQuery(new URL(request.url).searchParams);
          return (await jobs.list(query)).map(presentJob);
        },
        {
          ...raw,
          ...doc(
            "List jobs (no key needed): the last 10, newest first, or filtered",
            T.Array(JobBody),
            {
              parameters: LIST_PARAMETERS,
              auth: false,
            },
          ),
        },
      )
      .get(
        "/jobs/:id",
        async ({ request, params }) => {
          const tenant = client(request);
          const id = jobId(params.id);
          const job = await jobs.find(tenant, id);
          if (!job) throw new JobsError(400, `job ${id} not found`);
          return presentJob(job);
        },
        { ...raw, params: ID_PARAMS, ...doc("A job of yours", JobBody, { errors: BAD }) },
      )
      .put(
        "/jobs/:id",
        async ({ request, params }) => {
          const tenant = client(request);
          const id = jobId(params.id);
          const changes = parseChanges(await readBody(request), tenant);
          const { performed } = await jobs.update(tenant, id, changes);
          return { id, result: `Performed updates: ${performed.join(", ")}` };
        },
        {
          ...raw,
          params: ID_PARAMS,
          ...doc("Change a job: queue_state, run_at, priority or semaphore_url", UpdatedBody, {
            description:
              "queue_state to paused, broken, or queued (to unpause); any other field is refused (seed-spec 4.8).",
            body: UpdateBody,
            errors: {
              400: {
                description: "bad input, no such job of yours, or a state that refuses it",
                ...json(IdErrorBody),
              },
            },
          }),
        },
      )
      .post(
        "/jobs/:id/rerun",
        async ({ request, params }) => {
          const tenant = client(request);
          const rerun = await jobs.rerun(tenant, jobId(params.id));
          return { id: rerun.id, result: "accepted" as const };
        },
        {
          ...raw,
          params: ID_PARAMS,
          ...doc(
            "Run a job again as a new job with the same parameters; the original becomes broken",
            AcceptedBody,
            { description: "The answer's id is the new job's (seed-spec 4.9).", errors: BAD },
          ),
        },
      )
      .get(
        "/logs/:job_id",
        async ({ request, params }) => {
          const tenant = client(request);
          const entries = await jobs.logs(tenant, jobId(params.job_id, "job_id"));
          return entries.map(presentLog);
        },
        {
          ...raw,
          params: JOB_ID_PARAMS,
          ...doc("A job's log, oldest first", T.Array(LogEntryBody), { errors: BAD }),
        },
      )
      // ---- status ------------------------------------------------------------------
      .get(
        "/health",
        async ({ request }) => {
          client(request);
          let health: Awaited<ReturnType<JobsApi["health"]>>;
          try {
            health = await jobs.health();
          } catch (error) {
            unexpected(error);
            throw new JobsError(500, `health check failed: ${(error as Error).message}`);
          }
          return presentHealth(health, version);
        },
        {
          ...raw,
          ...doc("The engine's components, queues, task and job counts", HealthBody, {
            errors: { 500: { description: "the check itself failed", ...json(ErrorBody) } },
          }),
        },
      )
      .get(
        "/dashboard",
        ({ request }) => {
          client(request);
          return presentDashboard(jobs.views(), jobs.settings(), version);
        },
        {
          ...raw,
          ...doc("The started, queued and scheduled jobs (every client's)", DashboardBody, {
            errors: {},
          }),
        },
      )
      // ---- scheduler and settings ------------------------------------------------
      .get(
        "/schedules",
        ({ request }) => {
          client(request);
          return presentSchedules(jobs.schedules());
        },
        { ...raw, ...doc("The active schedules", SchedulesBody, { errors: {} }) },
      )
      .put(
        "/scheduler",
        async ({ request }) => {
          client(request);
          const { schedule, active } = parseScheduler(await readBody(request));
          const schedules = await jobs.setScheduleActive(schedule, active);
          return {
            result: "ok" as const,
            schedules: schedules.filter((s) => s.active).map((s) => s.name),
          };
        },
        {
          ...raw,
          ...doc("Activate or deactivate a schedule", SchedulerResult, { body: SchedulerBody }),
        },
      )
      .get(
        "/settings",
        ({ request }) => {
          client(request);
          return { result: "ok" as const, settings: jobs.settings() };
        },
        {
          ...raw,
          ...doc("Every setting, defaults filled in (an extension)", SettingsBody, { errors: {} }),
        },
      )
      .post(
        "/settings",
        async ({ request }) => {
          client(request);
          const { name, setting } = parseSetting(await readBody(request));
          const { created } = await jobs.setSetting(name, setting);
          return {
            result: "ok" as const,
            message: `${name} setting ${created ? "created" : "updated"}`,
          };
        },
        {
          ...raw,
          ...doc("Create or update one setting", SettingResult, {
            description:
              "max_jobs, priority_slots, priority_threshold, schedule_interval, retry_delay and retry_limit are whole numbers; other names are kept as text.",
            body: SettingBody,
          }),
        },
      )
      // ---- workflows (an extension) -----------------------------------------------
      .get(
        "/workflows",
        ({ request }) => {
          client(request);
          return jobs.workflows().map(presentWorkflow);
        },
        {
          ...raw,
          ...doc("The workflows jobs can run (an extension)", T.Array(WorkflowBody), {
            errors: {},
          }),
        },
      )
      .put(
        "/workflows/:name",
        async ({ request, params }) => {
          client(request);
          const input = parseWorkflow(await readBody(request), params.name);
          return presentWorkflow(await jobs.putWorkflow(input));
        },
        {
          ...raw,
          params: NAME_PARAMS,
          ...doc("Add or replace a workflow (an extension)", WorkflowBody, {
            description:
              "Workflows are shared by every client. Those shipped as files cannot be replaced.",
            body: WorkflowInputBody,
          }),
        },
      )
      // The rest of these paths is this family's too: answered in its shape.
      .all("/job", noSuchRoute, hidden)
      .all("/job/*", noSuchRoute, hidden)
      .all("/jobs", noSuchRoute, hidden)
      .all("/jobs/*", noSuchRoute, hidden)
      .all("/logs/*", noSuchRoute, hidden)
      .all("/health", noSuchRoute, hidden)
      .all("/dashboard", noSuchRoute, hidden)
      .all("/schedules", noSuchRoute, hidden)
      .all("/scheduler", noSuchRoute, hidden)
      .all("/settings", noSuchRoute, hidden)
      .all("/workflows", noSuchRoute, hidden)
      .all("/workflows/*", noSuchRoute, hidden)
  );
}
