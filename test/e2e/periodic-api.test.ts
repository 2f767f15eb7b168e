/**
 * The periodic-command family over HTTP (seed-spec §5), through `app.handle`: a real
 * schedule host on a simulated clock, its runs finished by hand.
 */
import { Elysia } from "elysia";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiKeys } from "../../src/api/auth";
import { periodicRoutes } from "../../src/api/periodic";
import type { PeriodicApi } from "../../src/api/periodic/periodic-api";
import { type ScheduleHarness, startScheduleHarness } from "../helpers/schedules";

const keys = new ApiKeys([
  { client: "acme", key: "key-of-acme" },
  { client: "globex", key: "key-of-globex" },
]);
const AS_ACME = { authorization: "Bearer key-of-acme" };
const AS_GLOBEX = { authorization: "Bearer key-of-globex" };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let h: ScheduleHarness;
let app: { handle(request: Request): Promise<Response> };

beforeEach(async () => {
  h = await startScheduleHarness();
  h.agents = [{ id: "a1", labels: {} }];
  // The runtime's host is what the routes are given: it must fit their interface.
  const api: PeriodicApi = h.schedules;
  app = new Elysia({ normalize: false }).use(periodicRoutes(api, keys));
});
afterEach(() => h.stop());

async function call(
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; headers?: Record<string, string> } = {},
) {
  const hasBody = options.body !== undefined || options.raw !== undefined;
  const response = await app.handle(
    new Request(`http://localhost/api/v1/tasks${path}`, {
      method,
      headers: {
        ...(hasBody ? { "content-type": "application/json" } : {}),
        ...(options.headers ?? AS_ACME),
      },
      body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    }),
  );
  const text = await response.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, json: json as Record<string, unknown> };
}

/** The message names a field (a plain string) or matches a pattern. */
function expectNaming(message: unknown, names: string | RegExp) {
  expect(typeof message).toBe("string");
  if (typeof names === "string") expect(message).toContain(names);
  else expect(message).toMatch(names);
}

async function create(body: Record<string, unknown> = {}) {
  const answer = await call("POST", "/create", {
    body: { command: "echo hello", frequency: "every 30 seconds", ...body },
  });
  expect(answer.status).toBe(200);
  return String(answer.json.command_id);
}

describe("POST /api/v1/tasks/create", () => {
  it("answers 200 {command_id} and the first run comes one interval later", async () => {
    const answer = await call("POST", "/create", {
      body: { command: "echo hello world", frequency: "every 30 seconds" },
    });
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.json)).toEqual(["command_id"]);
    expect(String(answer.json.command_id)).toMatch(UUID);
    await h.advance(29_999);
    expect(h.started).toEqual([]);
    await h.advance(1);
    expect(h.started.map((r) => [r.agentId, r.schedule.command])).toEqual([
      ["a1", "echo hello world"],
    ]);
  });

  it("takes cron, an agent selector and a timeout in seconds, and reads them back", async () => {
    const id = await create({
      frequency: undefined,
      cron: "*/10 * * * * *",
      agents: { ids: ["a1"], labels: { role: "web" } },
      timeout: 5,
    });
    const read = await call("GET", `/${id}`);
    expect(read.json).toMatchObject({
      command_id: id,
      cron: "*/10 * * * * *",
      agents: { ids: ["a1"], labels: { role: "web" } },
      timeout: 5,
      state: "active",
      next_run_time: "2026-01-01T00:00:10.000Z",
      running: [],
    });
    expect(read.json.frequency).toBeUndefined();
  });

  it("reads JSON whatever the content type says", async () => {
    const response = await app.handle(
      new Request("http://localhost/api/v1/tasks/create", {
        method: "POST",
        headers: { ...AS_ACME, "content-type": "application/x-www-form-urlencoded" },
        body: JSON.stringify({ command: "uptime", frequency: "every 1 minutes" }),
      }),
    );
    expect(response.status).toBe(200);
  });

  const deep = `{"command":${"[".repeat(100_000)}${"]".repeat(100_000)},"frequency":"every 1 seconds"}`;
  const bad: [string, string, string | RegExp][] = [
    ["malformed JSON", "{not json", /not valid JSON/],
    ["an empty body", "", /body/],
    ["a list", "[]", /body|command|frequency/],
    ["null", "null", /body|command|frequency/],
    ["a bare string", '"every 1 seconds"', /body|command|frequency/],
    ["a deeply nested value", deep, /command|JSON/],
    ["no command", '{"frequency":"every 1 seconds"}', "command"],
    ["an empty command", '{"command":"","frequency":"every 1 seconds"}', "command"],
    ["a blank command", '{"command":"   ","frequency":"every 1 seconds"}', "command"],
    ["a command that is a number", '{"command":5,"frequency":"every 1 seconds"}', "command"],
    [
      "a command over 10,000 characters",
      JSON.stringify({ command: "x".repeat(10_001), frequency: "every 1 seconds" }),
      "command",
    ],
    [
      "a 2 MB body",
      JSON.stringify({ command: "x".repeat(2 * 1024 * 1024), frequency: "every 1 seconds" }),
      "command",
    ],
    ["no frequency", '{"command":"x"}', "frequency"],
    ["every 0 seconds", '{"command":"x","frequency":"every 0 seconds"}', "frequency"],
    ["every 5 fortnights", '{"command":"x","frequency":"every 5 fortnights"}', "frequency"],
    ["a singular unit", '{"command":"x","frequency":"every 1 second"}', "frequency"],
    ["a leading zero", '{"command":"x","frequency":"every 01 seconds"}', "frequency"],
    ["a trailing newline", '{"command":"x","frequency":"every 1 seconds\\n"}', "frequency"],
    ["a leading space", '{"command":"x","frequency":" every 1 seconds"}', "frequency"],
    ["a numeric frequency", '{"command":"x","frequency":30}', "frequency"],
    [
      "an overflowing count",
      '{"command":"x","frequency":"every 9007199254741 seconds"}',
      "frequency",
    ],
    [
      "a 400-digit count",
      JSON.stringify({ command: "x", frequency: `every ${"9".repeat(400)} minutes` }),
      "frequency",
    ],
    [
      "frequency and cron",
      '{"command":"x","frequency":"every 1 seconds","cron":"* * * * *"}',
      "frequency",
    ],
    ["a cron of four fields", '{"command":"x","cron":"* * * *"}', "cron"],
    ["a cron minute of 61", '{"command":"x","cron":"61 * * * *"}', "cron"],
    ["a cron that never fires", '{"command":"x","cron":"0 0 30 2 *"}', "cron"],
    ["an unknown property", '{"command":"x","frequency":"every 1 seconds","bogus":1}', "bogus"],
    [
      "an unknown selector property",
      '{"command":"x","frequency":"every 1 seconds","agents":{"names":["a"]}}',
      "agents.names",
    ],
    [
      "an empty id list",
      '{"command":"x","frequency":"every 1 seconds","agents":{"ids":[]}}',
      "agents.ids",
    ],
    [
      "an agent id with a space",
      '{"command":"x","frequency":"every 1 seconds","agents":{"ids":["a b"]}}',
      "agents.ids[0]",
    ],
    ["a zero timeout", '{"command":"x","frequency":"every 1 seconds","timeout":0}', "timeout"],
    [
      "a fractional timeout",
      '{"command":"x","frequency":"every 1 seconds","timeout":1.5}',
      "timeout",
    ],
  ];
  it.each(bad)("refuses %s with 400 {error} naming it, creating nothing", async (_, raw, names) => {
    const answer = await call("POST", "/create", { raw });
    expect(answer.status).toBe(400);
    expect(Object.keys(answer.json)).toEqual(["error"]);
    expectNaming(answer.json.error, names);
    expect(await h.schedules.list("acme")).toEqual([]);
  });
});

describe("GET /api/v1/tasks/{id}/latest_output", () => {
  it("has no completion_time and no outputs before the first run", async () => {
    const id = await create();
    expect(await call("GET", `/${id}/latest_output`)).toEqual({
      status: 200,
      json: { outputs: [] },
    });
  });

  it("has each agent's latest run, leaving empty streams out", async () => {
    h.agents = [
      { id: "a1", labels: {} },
      { id: "a2", labels: {} },
    ];
    const id = await create();
    await h.advance(30_000);
    const [a1, a2] = h.started;
    if (!a1 || !a2) throw new Error("expected two runs");
    h.finish(a1, { stdout: "hello\n" });
    await h.advance(1_500);
    h.finish(a2, { stdout: "", stderr: "" });
    expect(await call("GET", `/${id}/latest_output`)).toEqual({
      status: 200,
      json: {
        completion_time: "2026-01-01T00:00:31.500Z",
        outputs: [{ agent_id: "a1", stdout: "hello\n" }, { agent_id: "a2" }],
      },
    });
  });
});

describe("POST /api/v1/tasks/{id}/complete", () => {
  it("stores the server's output as its latest", async () => {
    const id = await create();
    const answer = await call("POST", `/${id}/complete`, {
      body: { server_id: "srv-1", stdout: "done\n", stderr: "" },
    });
    expect(answer).toEqual({ status: 200, json: { ok: true } });
    const latest = await call("GET", `/${id}/latest_output`);
    expect(latest.json.outputs).toEqual([{ agent_id: "srv-1", stdout: "done\n" }]);
    expect(latest.json.completion_time).toBe("2026-01-01T00:00:00.000Z");
  });

  it.each([
    ["no server_id", '{"stdout":"x"}', "server_id"],
    ["an empty server_id", '{"server_id":""}', "server_id"],
    ["stdout that is not text", '{"server_id":"s","stdout":1}', "stdout"],
    ["malformed JSON", '{"server_id":', /not valid JSON/],
  ])("refuses %s with 400 naming it", async (_, raw, names) => {
    const id = await create();
    const answer = await call("POST", `/${id}/complete`, { raw });
    expect(answer.status).toBe(400);
    expectNaming(answer.json.error, names);
    expect((await call("GET", `/${id}/latest_output`)).json).toEqual({ outputs: [] });
  });

  it("answers 404 for an unknown id", async () => {
    const answer = await call("POST", `/${crypto.randomUUID()}/complete`, {
      body: { server_id: "s" },
    });
    expect(answer.status).toBe(404);
    expect(answer.json.error).toMatch(/not found/);
  });
});

describe("history, pause, resume, delete", () => {
  it("lists runs newest first with a bounded limit", async () => {
    const id = await create({ frequency: "every 1 seconds" });
    for (let i = 0; i < 3; i++) {
      await h.advance(1_000);
      const run = h.started[i];
      if (run) h.finish(run, { stdout: `run ${i}`, exitCode: 0 });
    }
    const answer = await call("GET", `/${id}/outputs?limit=2`);
    expect(answer.status).toBe(200);
    expect(answer.json.outputs).toEqual([
      expect.objectContaining({ agent_id: "a1", stdout: "run 2", exit_code: 0, ok: true }),
      expect.objectContaining({ stdout: "run 1", started_at: "2026-01-01T00:00:02.000Z" }),
    ]);
    expect(((await call("GET", `/${id}/outputs`)).json.outputs as unknown[]).length).toBe(3);
    for (const limit of ["0", "1001", "abc", "1.5"]) {
      const refused = await call("GET", `/${id}/outputs?limit=${limit}`);
      expect(refused.status, limit).toBe(400);
      expect(refused.json.error).toMatch(/limit/);
    }
  });

  it("pauses and resumes; a refused command is 409 listing what is accepted", async () => {
    const id = await create();
    const paused = await call("POST", `/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({ command_id: id, state: "paused" });
    expect(paused.json.next_run_time).toBeUndefined();
    const again = await call("POST", `/${id}/pause`);
    expect(again.status).toBe(409);
    expect(again.json.error).toMatch(/accepts: resume, delete/);
    const resumed = await call("POST", `/${id}/resume`);
    expect(resumed.json).toMatchObject({
      state: "active",
      next_run_time: "2026-01-01T00:00:30.000Z",
    });
  });

  it("deletes; the id is then unknown", async () => {
    const id = await create();
    expect(await call("DELETE", `/${id}`)).toEqual({ status: 200, json: { ok: true } });
    expect((await call("GET", `/${id}/latest_output`)).status).toBe(404);
    expect((await call("DELETE", `/${id}`)).status).toBe(404);
    expect((await call("GET", "")).json).toEqual({ tasks: [] });
  });
});

describe("keys and tenants", () => {
  const routes = (id: string): [string, string, unknown][] => [
    ["POST", "/create", { command: "x", frequency: "every 1 seconds" }],
    ["GET", "", undefined],
    ["GET", `/${id}`, undefined],
    ["GET", `/${id}/latest_output`, undefined],
    ["GET", `/${id}/outputs`, undefined],
    ["POST", `/${id}/complete`, { server_id: "s" }],
    ["POST", `/${id}/pause`, undefined],
    ["POST", `/${id}/resume`, undefined],
    ["DELETE", `/${id}`, undefined],
    ["GET", `/${id}/nowhere`, undefined],
  ];

  it("answers 401 {error} without a key or with a wrong one, before reading the body", async () => {
    const id = await create();
    const anonymous: Record<string, string> = {};
    for (const headers of [anonymous, { authorization: "Bearer nope" }]) {
      for (const [method, path, body] of routes(id)) {
        const answer = await call(method, path, { body, headers });
        expect(answer.status, `${method} ${path}`).toBe(401);
        expect(Object.keys(answer.json)).toEqual(["error"]);
      }
    }
    const unparsed = await call("POST", "/create", { raw: "{not json", headers: {} });
    expect(unparsed.status).toBe(401);
    expect((await h.schedules.list("acme")).length).toBe(1);
  });

  it("answers 404 for another tenant's id on every route, changing nothing", async () => {
    const id = await create();
    for (const [method, path, body] of routes(id).slice(2)) {
      const answer = await call(method, path, { body, headers: AS_GLOBEX });
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.json.error, `${method} ${path}`).toEqual(expect.any(String));
    }
    expect((await call("GET", "", { headers: AS_GLOBEX })).json).toEqual({ tasks: [] });
    expect((await call("GET", `/${id}`)).json).toMatchObject({ state: "active" });
    expect((await call("GET", `/${id}/latest_output`)).json).toEqual({ outputs: [] });
  });

  it("answers 404 for ids that are no task at all", async () => {
    for (const id of [crypto.randomUUID(), "not-a-uuid", "1"]) {
      expect((await call("GET", `/${id}/latest_output`)).status).toBe(404);
    }
  });
});
