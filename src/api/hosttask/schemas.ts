/**
 * TypeBox schemas of the host task API (spec 2.2, 2.6, 2.7, 2.14, 2.15). The routes
 * check requests with these themselves (see routes.ts for why), and the OpenAPI page
 * shows them.
 */
import { type Static, Type as T, type TSchema } from "@sinclair/typebox";
import { TypeCompiler, type ValueError } from "@sinclair/typebox/compiler";
import { fieldName } from "../errors";
import type { FieldError } from "./errors";

/** Larger numbers lose digits in JSON; such instance ids must be sent as strings. */
const SafeInteger = (options: { minimum: number; description?: string }) =>
  T.Integer({ ...options, maximum: Number.MAX_SAFE_INTEGER });

export const LabelSelector = T.Object(
  {
    key: T.String({ pattern: "^[a-z][a-z0-9_-]*$", maxLength: 150 }),
    value: T.String({ maxLength: 150 }),
  },
  { additionalProperties: false },
);

export const TaskActionParam = T.Object(
  {
    paramName: T.String({ minLength: 1, maxLength: 64 }),
    paramValue: T.Union([T.String({ maxLength: 8192 }), T.Number()], {
      description: "a string in the i3D API; a number is accepted too",
    }),
  },
  { additionalProperties: false },
);

export const CreateTaskBody = T.Object(
  {
    taskTemplateId: T.String({
      pattern: "^[1-9][0-9]{0,9}$",
      description: "a template id from GET /v3/applicationInstance/task/template, as a string",
    }),
    applicationInstanceIds: T.Optional(
      T.Array(
        T.Union([T.String({ minLength: 1, maxLength: 128 }), SafeInteger({ minimum: 0 })], {
          description: 'an instance id; compared as text, so 42 and "42" are the same',
        }),
        { maxItems: 10_000 },
      ),
    ),
    fleetId: T.Optional(SafeInteger({ minimum: 0, description: "> 0: every instance of it" })),
    regionId: T.Optional(SafeInteger({ minimum: 0, description: "> 0: every instance of it" })),
    labels: T.Optional(T.Array(LabelSelector, { maxItems: 100 })),
    executeAt: T.Optional(
      T.Integer({
        minimum: 0,
        maximum: 253_402_300_799,
        description: "unix seconds; 0 or absent: as soon as possible",
      }),
    ),
    taskActionParam: T.Optional(T.Array(TaskActionParam, { maxItems: 100 })),
  },
  { additionalProperties: false },
);
export type CreateTaskBody = Static<typeof CreateTaskBody>;

const ResultCodeSchema = T.Union(
  [0, 1, 2, 124, 125, 126, 127].map((code) => T.Literal(code)),
  {
    description:
      "0 pending, 1 in progress, 2 paused, 124 cancelled, 125 timed out, 126 failed, 127 done",
  },
);

export const TaskStatusSchema = T.Object({
  id: T.Integer(),
  name: T.String(),
  batchId: T.Integer(),
  categoryId: T.Integer(),
  entityId: T.Union([T.Integer(), T.String()], { description: "the application instance" }),
  currentActionIdx: T.Integer({ description: "-1 until the task starts" }),
  executeAt: T.Integer(),
  lastActivityAt: T.Integer(),
  finishedAt: T.Integer({ description: "0 until finished" }),
  resultCode: ResultCodeSchema,
  resultText: T.String(),
});

export const TaskBatchStatusSchema = T.Object({
  id: T.Integer(),
  createdAt: T.Integer(),
  executeAt: T.Integer(),
  finishedAt: T.Integer({ description: "when the last task finished; 0 until then" }),
  numTasks: T.Integer(),
  numTasksOk: T.Integer(),
  numTasksFailed: T.Integer(),
  numTasksCancelled: T.Integer(),
  taskIds: T.Record(T.String(), ResultCodeSchema, { description: "task id → result code" }),
});

export const TaskTemplateViewSchema = T.Object({
  id: T.Integer(),
  name: T.String(),
  description: T.String(),
  actions: T.Array(
    T.Object({ idx: T.Integer(), actionType: T.String(), requiredParams: T.Array(T.String()) }),
  ),
});

export const ErrorBodySchema = T.Object({
  errorCode: T.Integer(),
  errorMessage: T.String(),
  errors: T.Array(T.Object({ property: T.String(), message: T.String() })),
});

/** TypeBox's message, but a union names what it would have taken. */
function describe(error: ValueError): string {
  const members = (error.schema as { anyOf?: readonly TSchema[] }).anyOf;
  if (members === undefined) return error.message;
  const kinds = members.map((member) =>
    member.const !== undefined ? JSON.stringify(member.const) : String(member.type),
  );
  return `Expected one of: ${[...new Set(kinds)].join(", ")}`;
}

export interface Checker<S extends TSchema> {
  /** The value, or every reason it does not match (one per property). */
  check(value: unknown): { value: Static<S> } | { errors: FieldError[] };
}

export function compile<S extends TSchema>(schema: S): Checker<S> {
  const compiled = TypeCompiler.Compile(schema);
  return {
    check(value) {
      if (compiled.Check(value)) return { value };
      const errors: FieldError[] = [];
      const seen = new Set<string>();
      for (const error of compiled.Errors(value)) {
        const property = error.path === "" ? "body" : fieldName(error.path);
        // A union reports once per member; the first says enough.
        if (seen.has(property)) continue;
        seen.add(property);
        errors.push({ property, message: describe(error) });
        if (errors.length >= 20) break;
      }
      return { errors };
    },
  };
}

/** A path id: a positive integer JSON can carry exactly. */
export function parseId(text: string): number | null {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return null;
  const id = Number(text);
  return Number.isSafeInteger(id) ? id : null;
}

export const AGENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
