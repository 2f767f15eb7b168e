/**
 * The RPC methods and their params (seed-spec 1.7–1.17): one TypeBox schema per
 * method, checked before anything runs, so a refused call changes nothing. Unknown
 * params are refused (a misspelt `maxBatchSize` would otherwise silently mean 1).
 */
import { type Static, Type as T, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { fieldName } from "../errors";
import { RpcError } from "./errors";

const Strict = { additionalProperties: false } as const;
const Id = T.String({ minLength: 1, maxLength: 64, description: "the AidboxTask id" });
const ExecId = T.String({ minLength: 1, maxLength: 200 });
const Names = T.Array(T.String({ minLength: 1, maxLength: 200 }), { maxItems: 100 });
const Ms = (description: string) => T.Integer({ minimum: 0, maximum: 2_592_000_000, description });
const Schema = T.Record(T.String(), T.Unknown(), { description: "a JSON Schema" });

const Claim = {
  taskDefinitions: T.Optional(Names),
  workflowDefinitions: T.Optional(Names),
  maxBatchSize: T.Optional(T.Integer({ minimum: 1, maximum: 1000, default: 1 })),
};

export const Methods = {
  "awf.task/poll": T.Object(Claim, Strict),
  "awf.task/long-poll": T.Object(
    { ...Claim, timeout: T.Optional(Ms("how long to wait for a task, ms (default 60000)")) },
    Strict,
  ),
  "awf.task/start": T.Object({ id: Id, execId: ExecId }, Strict),
  "awf.task/notify": T.Object(
    {
      id: Id,
      execId: ExecId,
      notification: T.Union([
        T.Literal("heartbeat"),
        T.Literal("progress"),
        T.Literal("awf.task/heartbeat"),
        T.Literal("awf.task/progress"),
      ]),
      message: T.Optional(T.String({ maxLength: 10_000 })),
      "progress-current": T.Optional(T.Integer({ minimum: 0 })),
      "progress-total": T.Optional(T.Integer({ minimum: 0 })),
      "progress-unit": T.Optional(T.String({ maxLength: 100 })),
    },
    Strict,
  ),
  "awf.task/success": T.Object({ id: Id, execId: ExecId, result: T.Optional(T.Unknown()) }, Strict),
  "awf.task/fail": T.Object({ id: Id, execId: ExecId, error: T.Optional(T.Unknown()) }, Strict),
  "awf.task/create-and-execute": T.Object(
    {
      definition: T.String({ minLength: 1, maxLength: 200 }),
      params: T.Unknown(),
      id: T.Optional(Id),
      label: T.Optional(T.String({ maxLength: 1_000 })),
      executeAt: T.Optional(T.String({ minLength: 1, maxLength: 64, description: "ISO 8601" })),
    },
    Strict,
  ),
  "awf.task/status": T.Object(
    {
      id: Id,
      "include-settings": T.Optional(T.Boolean()),
      "include-log": T.Optional(T.Boolean()),
    },
    Strict,
  ),
  "awf.task/cancel": T.Object({ id: Id }, Strict),
  "awf.task/list": T.Object(
    {
      filter: T.Optional(
        T.Object(
          {
            includeDefinitions: T.Optional(Names),
            excludeDefinitions: T.Optional(Names),
            status: T.Optional(
              T.Array(
                T.Union(
                  ["created", "waiting", "ready", "requested", "in-progress", "done"].map((s) =>
                    T.Literal(s),
                  ),
                ),
              ),
            ),
            outcome: T.Optional(
              T.Array(T.Union(["succeeded", "failed", "canceled"].map((s) => T.Literal(s)))),
            ),
            ilike: T.Optional(T.String({ maxLength: 200 })),
          },
          Strict,
        ),
      ),
      sort: T.Optional(
        T.Object(
          {
            createdAt: T.Optional(T.Union([T.Literal("asc"), T.Literal("desc")])),
            lastUpdated: T.Optional(T.Union([T.Literal("asc"), T.Literal("desc")])),
          },
          Strict,
        ),
      ),
      limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000 })),
    },
    Strict,
  ),
  /** Extension: not in the AWF documents. Adds or replaces one of the client's definitions. */
  "awf.task/define": T.Object(
    {
      name: T.String({ minLength: 1, maxLength: 200 }),
      description: T.Optional(T.String()),
      params: T.Optional(Schema),
      result: T.Optional(Schema),
      error: T.Optional(Schema),
      requestedToStartTimeout: T.Optional(Ms("ms a claimed task may wait to start (10000)")),
      inProgressTimeout: T.Optional(Ms("ms between notifications before it fails (120000)")),
      allowedRetryCount: T.Optional(T.Integer({ minimum: 0, maximum: 100 })),
      retryDelay: T.Optional(Ms("ms before a timed-out task is ready again (10000)")),
      concurrencyLimit: T.Optional(T.Integer({ minimum: 1 })),
      concurrencyPath: T.Optional(
        T.Array(T.String({ minLength: 1 }), { minItems: 1, maxItems: 16 }),
      ),
    },
    Strict,
  ),
  /** Extension: the definitions the client can create tasks of. */
  "awf.task/definitions": T.Object({}, Strict),
} satisfies Record<string, TSchema>;

export type Method = keyof typeof Methods;
export type Call = { [M in Method]: { method: M; params: Static<(typeof Methods)[M]> } }[Method];

const checkers = new Map<string, ReturnType<typeof TypeCompiler.Compile<TSchema>>>(
  Object.entries(Methods).map(([name, schema]) => [name, TypeCompiler.Compile<TSchema>(schema)]),
);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Checks one `{method, params}`; `at` prefixes messages (a batch's `[2]`). */
export function parseCall(raw: unknown, at = ""): Call {
  const where = (field: string) => (at === "" ? field : `${at}.${field}`);
  if (!isObject(raw)) throw new RpcError(422, `${at || "the body"} must be {method, params}`);
  for (const key of Object.keys(raw)) {
    if (key !== "method" && key !== "params") {
      throw new RpcError(422, `${where(key)}: unknown property (a call has method and params)`);
    }
  }
  const { method } = raw;
  if (typeof method !== "string") throw new RpcError(422, `${where("method")} is required`);
  const params = raw.params ?? {};
  const checker = checkers.get(method);
  if (!checker) throw new RpcError(422, `${where("method")}: unknown method ${method}`);
  if (!checker.Check(params)) {
    const first = checker.Errors(params).First();
    const path = first?.path ? fieldName(first.path) : "";
    const field = path === "" ? "params" : `params.${path}`;
    throw new RpcError(422, `${where(field)}: ${first?.message ?? "is invalid"}`);
  }
  return { method, params } as Call;
}
