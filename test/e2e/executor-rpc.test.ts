/**
 * The executor RPC family (`POST /rpc`, seed-spec section 1) over app.handle against
 * a real engine: bad calls and what they leave unchanged, JSON and YAML, batches,
 * tenancy, and a task's life through both halves of the API.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ApiKeys, createApp } from "../../src/api";
import { silentLogger } from "../../src/log";
import { startTestEngine, TENANT, type TestEngine } from "../helpers/engine";

const OTHER = "other";
const apiKeys = new ApiKeys([
  { client: TENANT, key: "key-of-a" },
  { client: OTHER, key: "key-of-b" },
]);
const AS_A = { authorization: "Bearer key-of-a" };
const AS_B = { authorization: "Bearer key-of-b" };

let t: TestEngine;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  t = await startTestEngine({
    engine: {
      taskDefinitions: [
        {
          name: "import",
          params: {
            type: "object",
            required: ["file"],
            properties: { file: { type: "string" } },
            additionalProperties: false,
          },
          result: { type: "object", required: ["rows"] },
        },
        { name: "plain" },
      ],
    },
  });
  app = createApp(t.engine, { log: silentLogger, apiKeys, executor: t.engine.executor });
});
afterAll(() => t.stop());

interface Answer {
  status: number;
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field.
  json: any;
  text: string;
}

async function rpc(
  body: unknown,
  headers: Record<string, string> = AS_A,
  contentType = "application/json",
): Promise<Answer> {
  const response = await app.handle(
    new Request("http://localhost/rpc", {
      method: "POST",
      headers: { "content-type": contentType, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
  const text = await response.text();
  const type = response.headers.get("content-type") ?? "";
  let json: unknown;
  try {
    json = type.includes("yaml") ? parseYaml(text) : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, type, json, text };
}

async function call(method: string, params: unknown, headers: Record<string, string> = AS_A) {
  return rpc({ method, params }, headers);
}

async function ok(method: string, params: unknown, headers: Record<string, string> = AS_A) {
  const answer = await call(method, params, headers);
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json.result;
}

/** Everything a call could have changed: the tenant's tasks and their states. */
async function world() {
  const result = await ok("awf.task/list", { limit: 1000 });
  return result.resources.map((r: { id: string; status: string; meta: unknown }) => [
    r.id,
    r.status,
    r.meta,
  ]);
}

describe("bad calls change nothing (1.2)", () => {
  const big = "x".repeat(1024 * 1024 + 10);
  const cases: [string, unknown, number, RegExp, string?][] = [
    ["malformed JSON", '{"method": "awf.task/poll", ', 422, /not valid JSON/],
    [
      "YAML that does not parse",
      "method: [awf.task/poll\nparams: {",
      422,
      /not valid YAML/,
      "text/yaml",
    ],
    ["an empty body", "", 422, /empty/],
    ["a body that is not a call", "42", 422, /\{method, params\}/],
    ["a call without a method", { params: {} }, 422, /method is required/],
    [
      "an unknown method",
      { method: "awf.task/teleport", params: {} },
      422,
      /unknown method awf\.task\/teleport/,
    ],
    [
      "an unknown top-level property",
      { method: "awf.task/poll", params: {}, id: 1 },
      422,
      /id: unknown property/,
    ],
    [
      "poll naming no definitions",
      { method: "awf.task/poll", params: {} },
      422,
      /taskDefinitions or workflowDefinitions/,
    ],
    [
      "poll with a mistyped maxBatchSize",
      { method: "awf.task/poll", params: { taskDefinitions: ["plain"], maxBatchSize: "3" } },
      422,
      /params\.maxBatchSize/,
    ],
    [
      "poll with maxBatchSize 0",
      { method: "awf.task/poll", params: { taskDefinitions: ["plain"], maxBatchSize: 0 } },
      422,
      /params\.maxBatchSize/,
    ],
    [
      "poll with an unknown param",
      { method: "awf.task/poll", params: { taskDefinitions: ["plain"], max: 3 } },
      422,
      /params\.max/,
    ],
    [
      "poll of an unknown definition",
      { method: "awf.task/poll", params: { taskDefinitions: ["nope"] } },
      422,
      /no task definition named nope/,
    ],
    [
      "long-poll with a negative timeout",
      { method: "awf.task/long-poll", params: { taskDefinitions: ["plain"], timeout: -1 } },
      422,
      /params\.timeout/,
    ],
    [
      "start without execId",
      { method: "awf.task/start", params: { id: "t-1" } },
      422,
      /params\.execId/,
    ],
    [
      "start of an unknown task",
      { method: "awf.task/start", params: { id: "no-such-task", execId: "e" } },
      404,
      /no-such-task not found/,
    ],
    [
      "notify with an unknown notification",
      { method: "awf.task/notify", params: { id: "t-1", execId: "e", notification: "sneeze" } },
      422,
      /params\.notification/,
    ],
    [
      "progress without progress-current",
      { method: "awf.task/notify", params: { id: "t-1", execId: "e", notification: "progress" } },
      422,
      /progress-current/,
    ],
    [
      "create of an unknown definition",
      { method: "awf.task/create-and-execute", params: { definition: "nope", params: {} } },
      422,
      /no task definition named nope/,
    ],
    [
      "create without params",
      { method: "awf.task/create-and-execute", params: { definition: "plain" } },
      422,
      /params\.params/,
    ],
    [
      "create with params off the schema",
      {
        method: "awf.task/create-and-execute",
        params: { definition: "import", params: { file: 7 } },
      },
      422,
      /params\.file does not match the import definition's schema/,
    ],
    [
      "create with a bad id",
      {
        method: "awf.task/create-and-execute",
        params: { definition: "plain", params: {}, id: "has spaces" },
      },
      422,
      /id must be/,
    ],
    [
      "create with a bad executeAt",
      {
        method: "awf.task/create-and-execute",
        params: { definition: "plain", params: {}, executeAt: "someday" },
      },
      422,
      /executeAt/,
    ],
    [
      "list sorted two ways",
      { method: "awf.task/list", params: { sort: { createdAt: "asc", lastUpdated: "desc" } } },
      422,
      /not both/,
    ],
    [
      "list with an unknown status",
      { method: "awf.task/list", params: { filter: { status: ["lost"] } } },
      422,
      /params\.filter\.status/,
    ],
    [
      "define with a zero concurrencyLimit",
      { method: "awf.task/define", params: { name: "d", concurrencyLimit: 0 } },
      422,
      /params\.concurrencyLimit/,
    ],
    [
      "define with a schema that is not one",
      { method: "awf.task/define", params: { name: "d", params: { type: "potato" } } },
      422,
      /not a valid JSON Schema/,
    ],
    [
      "define over a configured definition",
      { method: "awf.task/define", params: { name: "plain" } },
      422,
      /configuration/,
    ],
    [
      "a batch with one bad call",
      [
        {
          method: "awf.task/create-and-execute",
          params: { definition: "plain", params: {}, id: "batch-good" },
        },
        { method: "awf.task/start", params: {} },
      ],
      422,
      /\[1\]\.params\.id/,
    ],
    ["an empty batch", [], 422, /at least one call/],
    [
      "a batch of 101 calls",
      Array.from({ length: 101 }, () => ({ method: "awf.task/definitions" })),
      422,
      /at most 100/,
    ],
    ["a body over 1 MiB", big, 413, /larger than/],
  ];

  it.each(cases)("%s", async (_name, body, status, message, type) => {
    // A task in flight, to see that nothing about it changes either.
    const before = await world();
    const answer = await rpc(body, AS_A, type ?? "application/json");
    expect(answer.status).toBe(status);
    expect(answer.json).toEqual({ error: { message: expect.stringMatching(message) } });
    expect(await world()).toEqual(before);
  });

  it("refuses a call without a key, or with another's, in the same shape", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }] as Record<string, string>[]) {
      const answer = await call("awf.task/definitions", {}, headers);
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual({ error: { message: expect.any(String) } });
    }
  });

  it("refuses a second task with the same id", async () => {
    await ok("awf.task/create-and-execute", { definition: "plain", params: {}, id: "twice" });
    const again = await call("awf.task/create-and-execute", {
      definition: "plain",
      params: { other: true },
      id: "twice",
    });
    expect(again.status).toBe(422);
    expect(again.json.error.message).toMatch(/already exists/);
    expect((await ok("awf.task/status", { id: "twice" })).resource.params).toEqual({});
  });

  it("refuses a result off the definition's schema, and the task stays in progress", async () => {
    await ok("awf.task/create-and-execute", {
      definition: "import",
      params: { file: "a.csv" },
      id: "res",
    });
    const [task] = (await ok("awf.task/poll", { taskDefinitions: ["import"] })).resources;
    await ok("awf.task/start", { id: task.id, execId: task.execId });
    const bad = await call("awf.task/success", { id: task.id, execId: task.execId, result: {} });
    expect(bad.status).toBe(422);
    expect(bad.json.error.message).toMatch(/result does not match/);
    expect((await ok("awf.task/status", { id: task.id })).resource.status).toBe("in-progress");
    const done = await ok("awf.task/success", {
      id: task.id,
      execId: task.execId,
      result: { rows: 3 },
    });
    expect(done.resource).toMatchObject({
      status: "done",
      outcome: "succeeded",
      result: { rows: 3 },
    });
  });
});

describe("formats and batches (1.1)", () => {
  it("takes YAML and answers in YAML when accept asks for it", async () => {
    const body = [
      "method: awf.task/create-and-execute",
      "params:",
      "  definition: import",
      "  id: from-yaml",
      "  label: nightly",
      "  params:",
      "    file: rows.csv",
    ].join("\n");
    const answer = await rpc(body, { ...AS_A, accept: "text/yaml" }, "text/yaml");
    expect(answer.status).toBe(200);
    expect(answer.type).toMatch(/yaml/);
    expect(answer.text).toMatch(/^result:\n {2}resource:\n/);
    expect(answer.json.result.resource).toMatchObject({
      resourceType: "AidboxTask",
      id: "from-yaml",
      label: "nightly",
      definition: "import",
      params: { file: "rows.csv" },
      status: "ready",
      requester: { id: TENANT },
    });
  });

  it("answers a batch with one answer per call, in order", async () => {
    const answer = await rpc([
      {
        method: "awf.task/create-and-execute",
        params: { definition: "plain", params: { n: 1 }, id: "b1" },
      },
      { method: "awf.task/status", params: { id: "b1" } },
      { method: "awf.task/status", params: { id: "not-there" } },
    ]);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual([
      { result: { resource: expect.objectContaining({ id: "b1", status: "ready" }) } },
      { result: { resource: expect.objectContaining({ id: "b1" }) } },
      { error: { message: expect.stringMatching(/not-there not found/) } },
    ]);
  });
});

describe("a task's life through both APIs", () => {
  it("create → poll → start → notify → success, with its log and settings", async () => {
    const created = await ok("awf.task/create-and-execute", {
      definition: "plain",
      params: { x: 1 },
      id: "life",
      label: "demo",
    });
    expect(created.resource).toMatchObject({ status: "ready", retryCount: 0 });
    expect(created.resource).not.toHaveProperty("execId");
    const polled = await ok("awf.task/poll", { taskDefinitions: ["plain"], maxBatchSize: 50 });
    const mine = polled.resources.find((r: { id: string }) => r.id === "life");
    expect(mine).toMatchObject({ status: "requested", execId: expect.any(String) });
    const started = await ok("awf.task/start", { id: "life", execId: mine.execId });
    expect(started.resource).toMatchObject({ status: "in-progress", retryCount: 1 });
    const notified = await ok("awf.task/notify", {
      id: "life",
      execId: mine.execId,
      notification: "awf.task/heartbeat",
      message: "alive",
    });
    expect(Date.parse(notified.inProgressTimeoutAt)).toBeGreaterThan(Date.now() + 100_000);
    await ok("awf.task/notify", {
      id: "life",
      execId: mine.execId,
      notification: "progress",
      "progress-current": 1,
      "progress-total": 2,
      "progress-unit": "rows",
    });
    await ok("awf.task/success", { id: "life", execId: mine.execId, result: { y: 2 } });
    const status = await ok("awf.task/status", {
      id: "life",
      "include-log": true,
      "include-settings": true,
    });
    expect(status.resource).toMatchObject({
      status: "done",
      outcome: "succeeded",
      result: { y: 2 },
    });
    expect(status.settings).toEqual({
      requestedToStartTimeout: 10_000,
      inProgressTimeout: 120_000,
      allowedRetryCount: 2,
      retryDelay: 10_000,
    });
    expect(
      status.log.map((e: Record<string, unknown>) => [
        e.action,
        e["status-before"],
        e["status-after"],
      ]),
    ).toEqual([
      ["awf.task/create-and-execute", null, "ready"],
      ["awf.task/poll", "ready", "requested"],
      ["awf.task/start", "requested", "in-progress"],
      ["awf.task/notify", "in-progress", "in-progress"],
      ["awf.task/notify", "in-progress", "in-progress"],
      ["awf.task/success", "in-progress", "done"],
    ]);
    expect(status.log[3]).toMatchObject({
      resourceType: "AidboxTaskLog",
      "action-params": { id: "life", notification: "heartbeat", message: "alive" },
    });
  });

  it("fail ends it done/failed with the executor's error and reason", async () => {
    await ok("awf.task/create-and-execute", { definition: "plain", params: {}, id: "doomed" });
    const polled = await ok("awf.task/poll", { taskDefinitions: ["plain"], maxBatchSize: 50 });
    const mine = polled.resources.find((r: { id: string }) => r.id === "doomed");
    await ok("awf.task/start", { id: "doomed", execId: mine.execId });
    const failed = await ok("awf.task/fail", {
      id: "doomed",
      execId: mine.execId,
      error: { code: "E42" },
    });
    expect(failed.resource).toMatchObject({
      status: "done",
      outcome: "failed",
      error: { code: "E42" },
      outcomeReason: { type: "awf.task/failed-by-executor", message: "Failed by executor" },
    });
    expect(failed.resource).not.toHaveProperty("result");
  });

  it("list filters by definition, status, outcome and text, and sorts", async () => {
    await ok("awf.task/create-and-execute", {
      definition: "plain",
      params: {},
      id: "findme-1",
      label: "Needle",
    });
    await ok("awf.task/create-and-execute", { definition: "plain", params: {}, id: "findme-2" });
    const found = await ok("awf.task/list", {
      filter: { includeDefinitions: ["plain"], status: ["ready"], ilike: "needle" },
    });
    expect(found.resources.map((r: { id: string }) => r.id)).toEqual(["findme-1"]);
    const ascending = await ok("awf.task/list", {
      filter: { ilike: "findme" },
      sort: { createdAt: "asc" },
    });
    expect(ascending.resources.map((r: { id: string }) => r.id)).toEqual(["findme-1", "findme-2"]);
    const excluded = await ok("awf.task/list", { filter: { excludeDefinitions: ["plain"] } });
    expect(excluded.resources.every((r: { definition: string }) => r.definition !== "plain")).toBe(
      true,
    );
    const succeeded = await ok("awf.task/list", { filter: { outcome: ["succeeded"] } });
    expect(succeeded.resources.every((r: { outcome: string }) => r.outcome === "succeeded")).toBe(
      true,
    );
  });

  it("define (an extension) adds a client's own definition, used at once", async () => {
    const defined = await ok("awf.task/define", {
      name: "mine",
      params: { type: "object", required: ["n"] },
      inProgressTimeout: 30_000,
    });
    expect(defined.definition).toMatchObject({
      name: "mine",
      inProgressTimeout: 30_000,
      source: "api",
    });
    const bad = await call("awf.task/create-and-execute", { definition: "mine", params: {} });
    expect(bad.status).toBe(422);
    const created = await ok("awf.task/create-and-execute", {
      definition: "mine",
      params: { n: 1 },
    });
    expect(created.resource).toMatchObject({ definition: "mine", inProgressTimeout: 30_000 });
    const names = (await ok("awf.task/definitions", {})).definitions.map(
      (d: { name: string }) => d.name,
    );
    expect(names).toEqual(expect.arrayContaining(["import", "plain", "mine"]));
  });
});

describe("tenancy", () => {
  it("another client cannot see, claim, start, cancel or list a client's tasks or definitions", async () => {
    await ok("awf.task/define", { name: "secret-def" });
    await ok("awf.task/create-and-execute", { definition: "plain", params: {}, id: "private" });
    for (const [method, params] of [
      ["awf.task/status", { id: "private" }],
      ["awf.task/cancel", { id: "private" }],
      ["awf.task/start", { id: "private", execId: "guess" }],
    ] as const) {
      const answer = await call(method, params, AS_B);
      expect(answer.status, method).toBe(404);
    }
    // B's poll of the shared definition claims none of A's tasks.
    expect(
      (await ok("awf.task/poll", { taskDefinitions: ["plain"], maxBatchSize: 100 }, AS_B))
        .resources,
    ).toEqual([]);
    expect((await ok("awf.task/list", {}, AS_B)).resources).toEqual([]);
    const names = (await ok("awf.task/definitions", {}, AS_B)).definitions.map(
      (d: { name: string }) => d.name,
    );
    expect(names).not.toContain("secret-def");
    const create = await call(
      "awf.task/create-and-execute",
      { definition: "secret-def", params: {} },
      AS_B,
    );
    expect(create.status).toBe(422);
    // The same id is free for B: ids are per client.
    await ok(
      "awf.task/create-and-execute",
      { definition: "plain", params: {}, id: "private" },
      AS_B,
    );
    expect((await ok("awf.task/status", { id: "private" })).resource.requester.id).toBe(TENANT);
    expect((await ok("awf.task/status", { id: "private" })).resource.status).toBe("ready");
  });
});
