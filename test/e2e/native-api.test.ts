import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeys, createApp } from "../../src/api";
import type { PeriodicApi } from "../../src/api/periodic";
import { silentLogger } from "../../src/log";
import { startTestEngine, TENANT, type TestEngine } from "../helpers/engine";

let t: TestEngine;
let app: ReturnType<typeof createApp>;
// Client "test" is the helper's tenant; "other" is a second client.
const apiKeys = new ApiKeys([
  { client: TENANT, key: "key-of-test" },
  { client: "other", key: "key-of-other" },
]);
const AS_TEST = { authorization: "Bearer key-of-test" };

beforeAll(async () => {
  t = await startTestEngine();
  app = createApp(t.engine, { log: silentLogger, apiKeys });
});
afterAll(() => t.stop());

async function call(
  method: string,
  path: string,
  body?: unknown,
  raw?: string,
  auth: Record<string, string> = AS_TEST,
) {
  const response = await app.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers:
        body !== undefined || raw !== undefined
          ? { ...auth, "content-type": "application/json" }
          : auth,
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    }),
  );
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function taskCount() {
  return (await t.engine.list(TENANT, { limit: 1000 })).length;
}

describe("native task API", () => {
  it("answers GET / with alive", async () => {
    expect(await call("GET", "/")).toEqual({ status: 200, json: { result: "alive" } });
  });

  it("creates a task (201) and reads it back until done", async () => {
    const created = await call("POST", "/tasks", {
      name: "hello",
      actions: [{ type: "exec", params: { command: "echo hello" } }],
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: "hello", agent: "local", currentActionIdx: -1 });
    await t.waitFor(created.json.id, ["done"]);
    const read = await call("GET", `/tasks/${created.json.id}`);
    expect(read.json).toMatchObject({
      state: "done",
      outcome: "succeeded",
      results: [{ ok: true, exitCode: 0, stdout: "hello\n" }],
      accepts: [],
    });
    expect(Date.parse(read.json.finishedAt)).toBeGreaterThan(0);
    const listed = await call("GET", "/tasks?status=done&limit=5");
    expect(listed.json.map((task: { id: number }) => task.id)).toContain(created.json.id);
  });

  const badBodies: [string, unknown, string | undefined][] = [
    ["no actions", {}, "actions"],
    ["empty actions", { actions: [] }, "actions"],
    ["an action type that is not a string", { actions: [{ type: 1 }] }, "actions[0].type"],
    ["an unknown property", { actions: [{ type: "noop" }], bogus: true }, "bogus"],
    ["a fractional priority", { actions: [{ type: "noop" }], priority: 1.5 }, "priority"],
    [
      "a date that is not a date",
      { actions: [{ type: "noop" }], executeAt: "yesterday" },
      "executeAt",
    ],
    [
      "a negative timeout",
      { actions: [{ type: "noop" }], timeouts: { deliveryMs: -5 } },
      "timeouts.deliveryMs",
    ],
    [
      "an absurd timeout",
      { actions: [{ type: "noop" }], timeouts: { executionMs: 1e15 } },
      "timeouts.executionMs",
    ],
    ["a lane with spaces", { actions: [{ type: "noop" }], lane: "a b" }, "lane"],
    ["an agent id with a dot", { actions: [{ type: "noop" }], agent: "a.b" }, "agent"],
    ["actions that are not a list", { actions: "noop" }, "actions"],
  ];
  it.each(badBodies)(
    "refuses %s with 400 naming the field, creating nothing",
    async (_, body, field) => {
      const before = await taskCount();
      const answer = await call("POST", "/tasks", body);
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe("INVALID_INPUT");
      if (field) expect(answer.json.error.message).toContain(field);
      expect(await taskCount()).toBe(before);
    },
  );

  it("refuses malformed JSON with 400", async () => {
    const answer = await call("POST", "/tasks", undefined, "{not json");
    expect(answer.status).toBe(400);
    expect(answer.json.error.message).toMatch(/not valid JSON/);
  });

  it("refuses a body over the size limit", async () => {
    const small = createApp(t.engine, { log: silentLogger, apiKeys, maxBodyBytes: 1024 });
    const server = small.listen({ port: 0, hostname: "127.0.0.1" });
    try {
      const response = await fetch(`http://127.0.0.1:${server.server?.port}/tasks`, {
        method: "POST",
        headers: { ...AS_TEST, "content-type": "application/json" },
        body: JSON.stringify({ actions: [{ type: "noop", params: { pad: "x".repeat(4096) } }] }),
      });
      expect(response.status).toBe(413);
    } finally {
      await small.stop();
    }
  });

  it("answers 400 for a bad id and 404 for an unknown one", async () => {
    const bad = await call("GET", "/tasks/abc");
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain("id");
    const unknown = await call("GET", "/tasks/987654");
    expect(unknown).toEqual({
      status: 404,
      json: { error: { code: "NOT_FOUND", message: "task 987654 not found" } },
    });
    expect((await call("GET", "/nowhere")).status).toBe(404);
  });

  it("pauses, resumes and cancels over HTTP; 409 lists what a task accepts", async () => {
    const created = await call("POST", "/tasks", {
      actions: [{ type: "exec", params: { command: "sleep 30" } }],
    });
    await t.waitFor(created.json.id, ["running"]);
    const id = created.json.id;
    const illegal = await call("POST", `/tasks/${id}/resume`);
    expect(illegal.status).toBe(409);
    expect(illegal.json.error.accepts).toEqual(["pause", "cancel"]);
    expect((await call("POST", `/tasks/${id}/pause`)).json.state).toBe("paused.suspended");
    expect((await call("POST", `/tasks/${id}/resume`)).json.state).toBe("running.executing");
    expect((await call("POST", `/tasks/${id}/cancel`)).json.state).toBe("cancelled");
    const again = await call("POST", `/tasks/${id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.json.error.accepts).toEqual([]);
  });

  it("concludes an open task", async () => {
    const created = await call("POST", "/tasks", { actions: [{ type: "noop" }], open: true });
    await t.waitFor(created.json.id, ["running"]);
    const concluded = await call("POST", `/tasks/${created.json.id}/conclude`, { delayMs: 0 });
    expect(concluded.status).toBe(200);
    await t.waitFor(created.json.id, ["done"]);
    const late = await call("POST", `/tasks/${created.json.id}/conclude`, { delayMs: 99999999 });
    expect(late.status).toBe(400);
  });
});

describe("API keys and tenants", () => {
  it("leaves only GET / open", async () => {
    expect((await call("GET", "/", undefined, undefined, {})).status).toBe(200);
    const missing = await call("GET", "/tasks", undefined, undefined, {});
    expect(missing.status).toBe(401);
    expect(missing.json.error.code).toBe("UNAUTHORIZED");
    expect((await call("GET", "/agents", undefined, undefined, {})).status).toBe(401);
    const wrong = await call("GET", "/tasks", undefined, undefined, {
      authorization: "Bearer nope",
    });
    expect(wrong.status).toBe(401);
  });

  it("accepts the key in each of the three header forms", async () => {
    const forms: Record<string, string>[] = [
      { authorization: "Bearer key-of-test" },
      { "private-token": "key-of-test" },
      { client: TENANT, "api-key": "key-of-test" },
    ];
    for (const headers of forms) {
      expect((await call("GET", "/tasks", undefined, undefined, headers)).status).toBe(200);
    }
    // A key presented under another client's name is refused.
    const mismatch = await call("GET", "/tasks", undefined, undefined, {
      client: "other",
      "api-key": "key-of-test",
    });
    expect(mismatch.status).toBe(401);
  });

  it("hides one client's tasks from another: 404, never data", async () => {
    const created = await call("POST", "/tasks", {
      actions: [{ type: "exec", params: { command: "sleep 30" } }],
    });
    const id = created.json.id;
    await t.waitFor(id, ["running"]);
    const other = { authorization: "Bearer key-of-other" };
    for (const [method, path] of [
      ["GET", `/tasks/${id}`],
      ["POST", `/tasks/${id}/cancel`],
      ["POST", `/tasks/${id}/pause`],
    ] as const) {
      const answer = await call(method, path, undefined, undefined, other);
      expect(answer.status).toBe(404);
      expect(JSON.stringify(answer.json)).not.toContain("sleep");
    }
    const listed = await call("GET", "/tasks", undefined, undefined, other);
    expect(listed.json).toEqual([]);
    expect((await call("POST", `/tasks/${id}/cancel`)).json.state).toBe("cancelled");
  });
});

describe("OpenAPI", () => {
  it("serves the spec and a page that needs no internet", async () => {
    const assets = { script: "/* bundle */", style: "/* style */" };
    // Only the spec is read, so the periodic family needs no schedules behind it.
    const periodic = {} as PeriodicApi;
    const documented = createApp(t.engine, {
      log: silentLogger,
      apiKeys,
      openApiAssets: assets,
      periodic,
      executor: t.engine.executor,
      jobs: t.engine.jobs,
    });
    const get = (path: string) => documented.handle(new Request(`http://localhost${path}`));
    const spec = (await (await get("/openapi/json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(["/tasks", "/tasks/{id}"]));
    expect(spec.paths["/tasks"]).toHaveProperty("post");
    // Every family is in the spec, and the routes that take a body describe it.
    for (const path of [
      "/xina/action",
      "/v3/applicationInstance/task",
      "/api/v1/tasks/create",
      "/rpc",
      "/job",
      "/settings",
    ]) {
      expect(spec.paths[path]?.post, path).toHaveProperty("requestBody");
    }
    // Every route documents its success answer's schema, its path parameters, and
    // (but `GET /`) its errors.
    interface Operation {
      parameters?: { in: string; name: string; schema?: unknown }[];
      responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
    }
    const operations = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method, op: op as Operation })),
    );
    expect(operations.length).toBeGreaterThan(25);
    for (const { path, method, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      const codes = Object.keys(op.responses ?? {});
      const success = codes.find((code) => code.startsWith("2"));
      expect(success, where).toBeDefined();
      // JSON, or a stream of Server-Sent Events (GET /events, GET /tasks/{id}/output).
      const content = op.responses?.[success as string]?.content;
      expect(
        (content?.["application/json"] ?? content?.["text/event-stream"])?.schema,
        where,
      ).toBeDefined();
      if (path !== "/")
        expect(
          codes.some((code) => code.startsWith("4")),
          where,
        ).toBe(true);
      for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
        const param = op.parameters?.find((p) => p.in === "path" && p.name === name);
        expect(param?.schema, `${where} path ${name}`).toBeDefined();
      }
    }
    const page = await (await get("/openapi")).text();
    expect(page).toContain("/openapi/assets/swagger-ui-bundle.js");
    expect(page).not.toMatch(/https?:\/\/(unpkg|cdn)/);
    expect(await (await get("/openapi/assets/swagger-ui-bundle.js")).text()).toBe(assets.script);
  });
});
