/** TypeBox schemas of the native task API. */
import { t } from "elysia";

const Token = t.String({ pattern: "^[A-Za-z0-9_-]{1,128}$" });
const Duration = t.Integer({ minimum: 0, maximum: 2_592_000_000, description: "milliseconds" });

export const TaskActionBody = t.Object(
  {
    type: t.String({ minLength: 1, maxLength: 64, description: "action type, e.g. exec or noop" }),
    params: t.Optional(t.Record(t.String(), t.Unknown())),
  },
  { additionalProperties: false },
);

export const SubmitTaskBody = t.Object(
  {
    name: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
    actions: t.Array(TaskActionBody, { minItems: 1, maxItems: 100 }),
    agent: t.Optional(Token),
    lane: t.Optional(Token),
    priority: t.Optional(t.Integer({ minimum: -1_000_000, maximum: 1_000_000 })),
    executeAt: t.Optional(
      t.Union([t.String({ format: "date-time" }), t.Integer({ minimum: 0 })], {
        description: "ISO 8601 time or epoch milliseconds; absent or past = now",
      }),
    ),
    timeouts: t.Optional(
      t.Object(
        {
          deliveryMs: t.Optional(Duration),
          executionMs: t.Optional(Duration),
          heartbeatMs: t.Optional(Duration),
        },
        { additionalProperties: false },
      ),
    ),
    retry: t.Optional(
      t.Object(
        {
          limit: t.Optional(t.Integer({ minimum: 0, maximum: 100 })),
          backoffMs: t.Optional(Duration),
          factor: t.Optional(t.Number({ minimum: 1, maximum: 10 })),
          maxBackoffMs: t.Optional(Duration),
        },
        { additionalProperties: false },
      ),
    ),
    open: t.Optional(t.Boolean()),
    archive: t.Optional(t.Boolean()),
    refId: t.Optional(t.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const TaskIdParams = t.Object({
  id: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
});

export const PauseBody = t.Optional(
  t.Object(
    { mode: t.Optional(t.Union([t.Literal("suspend"), t.Literal("afterAction")])) },
    { additionalProperties: false },
  ),
);

export const ConcludeBody = t.Object(
  { delayMs: t.Optional(t.Integer({ minimum: 0, maximum: 3_600_000 })) },
  { additionalProperties: false },
);

export const ListTasksQuery = t.Object({
  status: t.Optional(t.String({ description: "comma-separated statuses" })),
  lane: t.Optional(Token),
  before: t.Optional(t.Integer({ minimum: 1 })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000 })),
});

const Iso = t.Union([t.String(), t.Null()]);

export const TaskResponse = t.Object({
  id: t.Integer(),
  name: t.String(),
  state: t.String({ description: "full state path, e.g. running.executing" }),
  status: t.String(),
  outcome: t.Union([t.String(), t.Null()]),
  agent: t.Union([t.String(), t.Null()]),
  lane: t.Union([t.String(), t.Null()]),
  actions: t.Array(TaskActionBody),
  currentActionIdx: t.Integer(),
  priority: t.Integer(),
  attempt: t.Integer(),
  execId: t.Union([t.String(), t.Null()]),
  progress: t.Union([t.Number(), t.Null()]),
  results: t.Array(t.Unknown()),
  error: t.Union([t.String(), t.Null()]),
  timeoutReason: t.Union([t.String(), t.Null()]),
  open: t.Boolean(),
  archive: t.Boolean(),
  refId: t.Union([t.String(), t.Null()]),
  executeAt: t.String(),
  createdAt: t.String(),
  startedAt: Iso,
  lastActivityAt: t.String(),
  finishedAt: Iso,
  accepts: t.Array(t.String()),
});

/** The native error shape (src/api/errors.ts), for the OpenAPI document. */
export const ErrorResponse = t.Object(
  {
    error: t.Object({
      code: t.String({ description: "INVALID_INPUT, UNAUTHORIZED, NOT_FOUND, ..." }),
      message: t.String(),
      field: t.Optional(t.String({ description: "the field at fault, e.g. actions[0].type" })),
      accepts: t.Optional(
        t.Array(t.String(), { description: "on 409: the commands the task accepts now" }),
      ),
    }),
  },
  { description: "what went wrong" },
);

/** A task route's answers: the task, or one of the errors it can give. */
export const TaskAnswers = {
  200: TaskResponse,
  400: ErrorResponse,
  401: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  503: ErrorResponse,
};
