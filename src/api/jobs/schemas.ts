/**
 * TypeBox schemas of the job family, for the OpenAPI document only: the family reads
 * and checks its input itself (parse.ts), so every refusal is in its own shape.
 */
import { Type as T, type TSchema } from "@sinclair/typebox";
import type { DocumentDecoration } from "elysia";
import { DEFAULT_LIMIT, MAX_LIMIT, MAX_PRIORITY, ORDER_BY } from "./parse";

const Time = T.String({ format: "date-time", examples: ["2030-09-09T14:30:00.000Z"] });
const UtcInput = T.String({
  pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z?$",
  description: "UTC, yyyy-MM-ddTHH:mm:ss.fff",
  examples: ["2030-09-09T14:30:00.000"],
});
const Priority = T.Union(
  [T.Integer({ minimum: -MAX_PRIORITY, maximum: MAX_PRIORITY }), T.String()],
  {
    description: "lower is more urgent; a job is a priority job below priority_threshold",
  },
);
const QueueStateName = T.Union(
  ["queued", "started", "completed", "pending", "broken", "scheduled", "paused"].map((s) =>
    T.Literal(s),
  ),
);

export const ErrorBody = T.Object({ error: T.String() });
export const IdErrorBody = T.Object({ id: T.Union([T.Integer(), T.Null()]), error: T.String() });

export const CreateBody = T.Object(
  {
    client: T.Optional(T.String({ description: "the authenticated client, if given" })),
    job: T.Object(
      {
        workflow: T.String({ examples: ["vodstream"] }),
        priority: T.Optional(Priority),
        run_at: T.Optional(UtcInput),
        semaphore_url: T.Optional(
          T.String({ description: "asked (GET, 2xx) before a due job is queued" }),
        ),
      },
      { additionalProperties: false },
    ),
    parameters: T.Object(
      {
        content_id: T.String({ minLength: 1, maxLength: 256 }),
        rest_endpoints: T.Optional(
          T.Array(T.String({ description: "http(s) callback URL" }), { maxItems: 20 }),
        ),
      },
      { additionalProperties: true, description: "the workflow's parameters" },
    ),
  },
  { additionalProperties: false },
);

export const AcceptedBody = T.Object({ id: T.Integer(), result: T.Literal("accepted") });

export const JobBody = T.Object({
  id: T.Integer(),
  client: T.String(),
  workflow: T.String(),
  priority: T.Integer(),
  position: T.Integer(),
  top_of_queue: T.Boolean(),
  parameters: T.Record(T.String(), T.Unknown()),
  created_at: Time,
  updated_at: Time,
  queue_state: QueueStateName,
  failed: T.Boolean({ description: "set only on completed jobs" }),
  run_at: Time,
});

const SummaryBody = T.Omit(JobBody, ["parameters", "top_of_queue"]);

export const UpdateBody = T.Object(
  {
    client: T.Optional(T.String()),
    queue_state: T.Optional(
      T.Union([T.Literal("paused"), T.Literal("broken"), T.Literal("queued")]),
    ),
    run_at: T.Optional(UtcInput),
    priority: T.Optional(Priority),
    semaphore_url: T.Optional(T.Union([T.String(), T.Null()])),
    sempahore_url: T.Optional(
      T.Union([T.String(), T.Null()], { description: "the seed's spelling of semaphore_url" }),
    ),
  },
  { additionalProperties: false },
);

export const UpdatedBody = T.Object({
  id: T.Integer(),
  result: T.String({ examples: ["Performed updates: queue_state to paused"] }),
});

export const LogEntryBody = T.Object({
  id: T.Integer(),
  job_id: T.Integer(),
  severity: T.Integer({ minimum: 0, maximum: 5 }),
  severity_description: T.String({ examples: ["INFO"] }),
  progname: T.Union(["api", "worker", "controller", "callback"].map((p) => T.Literal(p))),
  message: T.String(),
  created_at: Time,
  updated_at: Time,
  task_id: T.Integer({ description: "0 for a job-level line" }),
  visible: T.Boolean(),
});

const Queue = T.Object({ workers: T.Integer(), working: T.Integer(), pending: T.Integer() });

export const HealthBody = T.Object({
  version: T.String(),
  databases: T.Record(T.String(), T.String(), { description: '"OK" or what is wrong' }),
  queues: T.Record(T.String(), Queue),
  tasks: T.Object({ failed: T.Integer(), pending: T.Integer(), processed: T.Integer() }),
  jobs: T.Record(T.String(), T.Integer(), {
    description: "jobs per state, failed, max_jobs and priority_slots",
  }),
});

export const DashboardBody = T.Object({
  max_jobs: T.Integer(),
  priority_slots: T.Integer(),
  started: T.Array(SummaryBody),
  queued: T.Array(SummaryBody),
  scheduled: T.Array(SummaryBody),
  version: T.String(),
});

export const SchedulesBody = T.Object({
  result: T.Literal("ok"),
  schedules: T.Record(
    T.String(),
    T.Object({
      class: T.String(),
      every: T.Tuple([T.Integer(), T.Object({ first_in: T.Integer() })]),
      queue: T.String(),
      description: T.String(),
    }),
  ),
});

export const SchedulerBody = T.Object(
  { schedule: T.String({ examples: ["queue_scheduled_jobs"] }), active: T.Boolean() },
  { additionalProperties: false },
);
export const SchedulerResult = T.Object({
  result: T.Literal("ok"),
  schedules: T.Array(T.String(), { description: "the active schedules" }),
});

export const SettingBody = T.Object(
  { name: T.String({ examples: ["max_jobs"] }), setting: T.String({ examples: ["4"] }) },
  { additionalProperties: false },
);
export const SettingResult = T.Object({
  result: T.Literal("ok"),
  message: T.String({ examples: ["max_jobs setting updated"] }),
});
export const SettingsBody = T.Object({
  result: T.Literal("ok"),
  settings: T.Record(T.String(), T.Union([T.String(), T.Number()])),
});

const StepBody = T.Object({
  name: T.String(),
  action: T.Optional(T.Union([T.String(), T.Null()])),
  executor: T.Optional(T.Union([T.String(), T.Null()])),
  params: T.Optional(T.Unknown()),
  agent: T.Optional(T.Union([T.String(), T.Null()])),
  labels: T.Optional(T.Union([T.Record(T.String(), T.String()), T.Null()])),
  timeout: T.Optional(T.Union([T.Integer(), T.Null()])),
});
export const WorkflowInputBody = T.Object({
  name: T.Optional(T.String({ description: "the path's name when left out" })),
  description: T.Optional(T.String()),
  steps: T.Array(StepBody, { minItems: 1, maxItems: 50 }),
});
export const WorkflowBody = T.Object({
  name: T.String(),
  description: T.Union([T.String(), T.Null()]),
  source: T.Union([T.Literal("file"), T.Literal("api")]),
  steps: T.Array(StepBody),
});

// ---- OpenAPI helpers ------------------------------------------------------------

type Responses = NonNullable<DocumentDecoration["responses"]>;
type OpenApiBody = Extract<NonNullable<DocumentDecoration["requestBody"]>, { content: unknown }>;
type OpenApiSchema = NonNullable<NonNullable<OpenApiBody["content"][string]>["schema"]>;

/** A TypeBox schema is JSON Schema, which OpenAPI 3.1 takes as it is. */
export const json = (schema: TSchema) => ({
  content: { "application/json": { schema: schema as unknown as OpenApiSchema } },
});

export const TAGS = ["jobs (Vualto task engine)"];

export const UNAUTHORIZED: Responses = {
  401: { description: "no or wrong client + api-key", ...json(ErrorBody) },
};

export function doc(
  summary: string,
  ok: TSchema,
  options: {
    description?: string;
    body?: TSchema;
    errors?: Responses;
    parameters?: DocumentDecoration["parameters"];
    auth?: boolean;
  } = {},
): { detail: DocumentDecoration } {
  return {
    detail: {
      summary,
      tags: TAGS,
      ...(options.description === undefined ? {} : { description: options.description }),
      ...(options.parameters === undefined ? {} : { parameters: options.parameters }),
      ...(options.body === undefined
        ? {}
        : { requestBody: { required: true, ...json(options.body) } }),
      responses: {
        200: { description: "done", ...json(ok) },
        ...(options.auth === false ? {} : UNAUTHORIZED),
        ...(options.errors ?? { 400: { description: "bad input", ...json(ErrorBody) } }),
      },
    },
  };
}

const query = (name: string, description: string, schema: TSchema) => ({
  in: "query" as const,
  name,
  required: false,
  description,
  schema: schema as unknown as OpenApiSchema,
});

/** `GET /jobs` (4.6). */
export const LIST_PARAMETERS = [
  query(
    "limit",
    `at most this many jobs (default ${DEFAULT_LIMIT})`,
    T.Integer({ minimum: 1, maximum: MAX_LIMIT }),
  ),
  query("order_by", "default id (newest first)", T.Union(ORDER_BY.map((o) => T.Literal(o)))),
  query("asc", "1 ascending, 0 descending (default)", T.Union([T.Literal("1"), T.Literal("0")])),
  query(
    "state",
    "queue state id: 0 queued, 1 started, 2 completed, 3 pending, 4 broken, 5 scheduled, 6 paused (a comma list is taken too)",
    T.String({ examples: ["2"] }),
  ),
  query(
    "from",
    "created at or after: yyyy-MM-dd or yyyy-MM-ddTHH:mm:ss[.fff] (UTC)",
    T.String({ examples: ["2030-01-01"] }),
  ),
  query(
    "to",
    "created at or before: yyyy-MM-dd (the whole day) or yyyy-MM-ddTHH:mm:ss[.fff] (UTC)",
    T.String({ examples: ["2030-01-31"] }),
  ),
  query(
    "failed",
    "with state=2 only: 1 the failed completed jobs, 0 the others; ignored without state=2",
    T.Union([T.Literal("1"), T.Literal("0")]),
  ),
  query("search", "a substring of the job's parameters, e.g. a content id", T.String()),
  query("job_ids", "comma separated job ids", T.String({ examples: ["12,15"] })),
  query("client", "only this client's jobs (default: every client's)", T.String()),
  query(
    "persist",
    "accepted and ignored: this engine keeps every job",
    T.Union([T.Literal("1"), T.Literal("0")]),
  ),
];
