/**
 * TypeBox schemas of `POST /xina/action` (seed-spec §3). The body is checked in
 * stages (envelope, then the named action, then each entry of `tasks`) so that every
 * refusal names the exact field; see parse.ts.
 */
import { type Static, Type as T } from "@sinclair/typebox";

/** Entries of `tasks` or `threads` one action may list. */
export const MAX_ENTRIES = 1_000;
/** XINA `int`: Java's 32-bit range. */
const INT = { minimum: -2_147_483_648, maximum: 2_147_483_647 } as const;

export const TaskId = T.Integer({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description: "a task id",
});

/** XINA `long`, kept to the integers JSON numbers carry exactly. */
export const RefId = T.Integer({
  minimum: Number.MIN_SAFE_INTEGER,
  maximum: Number.MAX_SAFE_INTEGER,
  description: "an arbitrary value for task referencing; need not be unique",
});

/** `{"type":"ref","ref":[ref_id, ...]}`: every task with one of these ref ids. */
export const TaskRef = T.Object(
  {
    type: T.Literal("ref"),
    ref: T.Array(RefId, { minItems: 1, maxItems: MAX_ENTRIES }),
  },
  { additionalProperties: false },
);
export type TaskRef = Static<typeof TaskRef>;

/** A thread name; its characters are checked separately to name the bad value. */
export const ThreadName = T.String({ description: "thread name: 1-128 of A-Z a-z 0-9 _ -" });

/** A task definition (seed 'Task Definition'). */
export const TaskDef = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 200 }),
    conf: T.Record(T.String(), T.Unknown(), { description: "what the task runs; see conf.ts" }),
    parent: T.Optional(TaskId),
    thread: T.Optional(ThreadName),
    auto: T.Optional(T.Boolean({ description: "informational: started automatically" })),
    archive: T.Optional(T.Boolean({ description: "keep the task's workspace files" })),
    open: T.Optional(T.Boolean({ description: "concluded only by CONCLUDE" })),
    desc: T.Optional(T.String({ maxLength: 10_000 })),
    priority: T.Optional(T.Integer({ ...INT, description: "not implemented by XINA: ignored" })),
    timeout: T.Optional(
      T.Integer({ minimum: 0, maximum: INT.maximum, description: "ms; not implemented: ignored" }),
    ),
    ref_id: T.Optional(RefId),
  },
  { additionalProperties: false },
);
export type TaskDef = Static<typeof TaskDef>;

/** Only `action` is read first; the named action's own schema checks the rest. */
export const Envelope = T.Object({ action: T.String({ minLength: 1, maxLength: 64 }) });

/** Entries are checked one by one, each as a definition, an id or a ref. */
const Entries = T.Array(T.Unknown(), { minItems: 1, maxItems: MAX_ENTRIES });
const Threads = T.Array(ThreadName, { minItems: 1, maxItems: MAX_ENTRIES });
const Action = T.String();

export const RunBody = T.Object(
  { action: Action, tasks: Entries },
  { additionalProperties: false },
);

export const ConcludeBody = T.Object(
  {
    action: Action,
    task: TaskId,
    delay: T.Optional(T.Integer({ minimum: 0, maximum: 5_000, description: "ms" })),
  },
  { additionalProperties: false },
);

export const CancelOrCleanBody = T.Object(
  { action: Action, tasks: Entries, ignore: T.Optional(T.Boolean()) },
  { additionalProperties: false },
);

export const DestroyBody = T.Object(
  { action: Action, tasks: Entries },
  { additionalProperties: false },
);

export const PauseBody = T.Object(
  { action: Action, threads: Threads },
  { additionalProperties: false },
);

export const ResumeBody = T.Object(
  { action: Action, threads: Threads, continue: T.Optional(T.Boolean()) },
  { additionalProperties: false },
);
