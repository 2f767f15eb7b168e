/**
 * TypeBox schemas of the periodic-command family (seed-spec §5). Each refusal's
 * message names its field; objects refuse unknown properties.
 */
import { t } from "elysia";

/**
 * seed-spec 5.1, in full: the count starts 1-9 (no zero, no leading zero) and units
 * are plural. Kept in step with machines/schedule.ts, which src/api may not import.
 */
export const FREQUENCY_PATTERN = "^every ([1-9]\\d*) (seconds|minutes|hours)$";
export const MAX_COMMAND_LENGTH = 10_000;
/** Thirty days, in seconds: the longest execution limit the engine accepts. */
export const MAX_TIMEOUT_SECONDS = 2_592_000;
export const MAX_HISTORY = 1_000;

const Token = t.String({ pattern: "^[A-Za-z0-9_-]{1,128}$" });

export const CreateBody = t.Object(
  {
    command: t.String({
      minLength: 1,
      maxLength: MAX_COMMAND_LENGTH,
      description: "run with sh -c on every selected agent",
      error: `command must be a non-empty string of at most ${MAX_COMMAND_LENGTH} characters`,
    }),
    frequency: t.Optional(
      t.String({
        pattern: FREQUENCY_PATTERN,
        maxLength: 64,
        description: 'e.g. "every 30 seconds"; required unless cron is given',
        error: 'frequency must be "every <n> seconds|minutes|hours" with n ≥ 1',
      }),
    ),
    cron: t.Optional(
      t.String({
        minLength: 1,
        maxLength: 200,
        description: "instead of frequency: a cron expression (5 or 6 fields, UTC)",
        error: "cron must be a cron expression of 5 or 6 fields",
      }),
    ),
    agents: t.Optional(
      t.Object(
        {
          ids: t.Optional(t.Array(Token, { minItems: 1, maxItems: 10_000 })),
          labels: t.Optional(t.Record(t.String({ maxLength: 128 }), t.String({ maxLength: 256 }))),
        },
        { additionalProperties: false, description: "which agents run it; absent: all" },
      ),
    ),
    timeout: t.Optional(
      t.Integer({
        minimum: 1,
        maximum: MAX_TIMEOUT_SECONDS,
        description: "seconds a run may take before it is stopped",
        error: `timeout must be a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}`,
      }),
    ),
  },
  { additionalProperties: false },
);

export const CompleteBody = t.Object(
  {
    server_id: t.String({
      minLength: 1,
      maxLength: 256,
      error: "server_id must be a non-empty string of at most 256 characters",
    }),
    stdout: t.Optional(t.String({ maxLength: 1024 * 1024 })),
    stderr: t.Optional(t.String({ maxLength: 1024 * 1024 })),
  },
  { additionalProperties: false },
);

/** Any id is accepted here: one that names no task of the caller's is a 404. */
export const IdParams = t.Object({ id: t.String({ minLength: 1, maxLength: 128 }) });

export const HistoryQuery = t.Object(
  {
    limit: t.Optional(
      t.Integer({
        minimum: 1,
        maximum: MAX_HISTORY,
        default: 50,
        error: `limit must be a whole number from 1 to ${MAX_HISTORY}`,
      }),
    ),
  },
  { additionalProperties: false },
);

export const ErrorBody = t.Object({ error: t.String() });

export const CreatedBody = t.Object({ command_id: t.String({ format: "uuid" }) });

export const OkBody = t.Object({ ok: t.Literal(true) });

const Output = t.Object({
  agent_id: t.String(),
  stdout: t.Optional(t.String()),
  stderr: t.Optional(t.String()),
});

export const LatestOutputBody = t.Object({
  completion_time: t.Optional(t.String({ format: "date-time" })),
  outputs: t.Array(Output),
});

export const RunBody = t.Object({
  agent_id: t.String(),
  task_id: t.Union([t.Integer(), t.Null()]),
  started_at: t.String({ format: "date-time" }),
  completion_time: t.String({ format: "date-time" }),
  stdout: t.Optional(t.String()),
  stderr: t.Optional(t.String()),
  exit_code: t.Union([t.Integer(), t.Null()]),
  ok: t.Boolean(),
});

export const HistoryBody = t.Object({ outputs: t.Array(RunBody) });

export const ScheduleBody = t.Object({
  command_id: t.String(),
  command: t.String(),
  frequency: t.Optional(t.String()),
  cron: t.Optional(t.String()),
  agents: t.Optional(
    t.Object({
      ids: t.Optional(t.Array(t.String())),
      labels: t.Optional(t.Record(t.String(), t.String())),
    }),
  ),
  timeout: t.Optional(t.Integer()),
  state: t.String(),
  next_run_time: t.Optional(t.String({ format: "date-time" })),
  last_run_time: t.Optional(t.String({ format: "date-time" })),
  running: t.Array(t.String()),
  created_at: t.String({ format: "date-time" }),
});

export const ListBody = t.Object({ tasks: t.Array(ScheduleBody) });
