/**
 * The executor RPC family (Aidbox AWF, seed-spec section 1): `POST /rpc` with
 * `{method, params}` — or an array of them, a batch — as JSON or YAML.
 *
 * Like the other families it parses nothing through Elysia (`parse: "none"`) and
 * answers every error itself in its own shape, `{error: {message}}`. A batch is
 * checked whole before any call runs: one bad call refuses the batch, and nothing
 * changes; calls that pass then run as if in order (batch.ts), each answered
 * `{result}` or `{error}`.
 */
import { Type as T, type TSchema } from "@sinclair/typebox";
import { type DocumentDecoration, Elysia } from "elysia";
import type { Logger } from "../../log";
import type { ExecutorApi } from "../../runtime/commands";
import type { ApiKeys } from "../auth";
import { DEFAULT_MAX_BODY_BYTES } from "../body-limit";
import { readBodyText } from "../body-text";
import { runBatch } from "./batch";
import { type Call, Methods, parseCall } from "./calls";
import { RpcError, toRpcAnswer } from "./errors";
import { perform } from "./perform";
import { decode, encode } from "./wire";

const MAX_BATCH = 100;
const INTERNAL = { error: { message: "internal error" } };

type OpenApiBody = Extract<NonNullable<DocumentDecoration["requestBody"]>, { content: unknown }>;
type OpenApiSchema = NonNullable<NonNullable<OpenApiBody["content"][string]>["schema"]>;
// A TypeBox schema is JSON Schema, which OpenAPI 3.1 takes as it is.
const asOpenApi = (schema: TSchema) => schema as unknown as OpenApiSchema;

const CallDoc = T.Union(
  Object.entries(Methods).map(([method, params]) =>
    T.Object({ method: T.Literal(method), params }, { title: method }),
  ),
);
const BodyDoc = T.Union([CallDoc, T.Array(CallDoc, { maxItems: MAX_BATCH })]);
const ErrorDoc = T.Object({ error: T.Object({ message: T.String() }) });
const ResultDoc = T.Union([
  T.Object({ result: T.Unknown() }),
  T.Array(T.Union([T.Object({ result: T.Unknown() }), ErrorDoc])),
]);
const json = (schema: TSchema) => ({
  "application/json": { schema: asOpenApi(schema) },
  "text/yaml": { schema: asOpenApi(schema) },
});

function parseBody(value: unknown): Call | Call[] {
  if (!Array.isArray(value)) return parseCall(value);
  if (value.length === 0) throw new RpcError(422, "a batch must hold at least one call");
  if (value.length > MAX_BATCH) {
    throw new RpcError(422, `a batch may hold at most ${MAX_BATCH} calls`);
  }
  return value.map((raw, i) => parseCall(raw, `[${i}]`));
}

/** @param maxBodyBytes larger bodies are refused with 413 */
export function executorRpc(
  executor: ExecutorApi,
  keys: ApiKeys,
  log?: Logger,
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
) {
  const reply = (
    request: Request,
    set: { headers: Record<string, string | number> },
    value: unknown,
  ) => {
    const { body, type } = encode(value, request.headers.get("accept"));
    set.headers["content-type"] = type;
    return body;
  };
  return new Elysia({ name: "executor-rpc" })
    .onError(({ error, set, request }) => {
      const answer = toRpcAnswer(error);
      if (answer === undefined) log?.error({ err: error }, "unhandled error in an RPC call");
      set.status = answer?.status ?? 500;
      return reply(request, set, answer?.body ?? INTERNAL);
    })
    .post(
      "/rpc",
      async ({ request, set }) => {
        const tenant = keys.require(request.headers);
        const text = await readBodyText(request, maxBodyBytes);
        const calls = parseBody(decode(text, request.headers.get("content-type")));
        if (!Array.isArray(calls)) {
          const result = await perform(executor, tenant, calls, request.signal);
          return reply(request, set, { result });
        }
        const answers = await runBatch(calls, (call) =>
          perform(executor, tenant, call, request.signal),
        );
        return reply(request, set, answers);
      },
      {
        parse: "none",
        detail: {
          summary: "Call an executor or user method (awf.task/*); an array is a batch",
          description:
            "JSON or YAML (content-type: text/yaml); `accept: text/yaml` answers in YAML. " +
            "awf.task/define and awf.task/definitions are extensions of this engine.",
          tags: ["executor (AWF)"],
          requestBody: { required: true, content: json(BodyDoc) },
          responses: {
            200: {
              description: "{result}, or an array of {result} | {error} for a batch",
              content: json(ResultDoc),
            },
            401: { description: "no valid API key", content: json(ErrorDoc) },
            404: { description: "no such task", content: json(ErrorDoc) },
            413: {
              description: "the body is over the limit (FW_MAX_BODY_BYTES)",
              content: json(ErrorDoc),
            },
            429: { description: "over the client's rate (Retry-After)", content: json(ErrorDoc) },
            422: { description: "a bad call; nothing changed", content: json(ErrorDoc) },
          },
        },
      },
    )
    .all(
      "/rpc/*",
      ({ request }) => {
        keys.require(request.headers);
        throw new RpcError(404, "no such route: calls go to POST /rpc");
      },
      { parse: "none", detail: { hide: true } },
    );
}
