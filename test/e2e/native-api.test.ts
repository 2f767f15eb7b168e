import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/api";
import { DEFAULT_TENANT } from "../../src/api/native/tasks";
import { silentLogger } from "../../src/log";
import { startTestEngine, type TestEngine } from "../helpers/engine";

let t: TestEngine;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  t = await startTestEngine({ tenant: DEFAULT_TENANT });
  app = createApp(t.engine, { log: silentLogger });
});
afterAll(() => t.stop());

async function call(method: string, path: string, body?: unknown, raw?: string) {
  const response = await app.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers:
        body !== undefined || raw !== undefined ? { "content-type": "application/json" } : {},
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    }),
  );
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function taskCount() {
  return (await t.engine.list(DEFAULT_TENANT, { limit: 1000 })).length;
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
    const small = createApp(t.engine, { log: silentLogger, maxBodyBytes: 1024 });
    const server = small.listen({ port: 0, hostname: "127.0.0.1" });
    try {
      const response = await fetch(`http://127.0.0.1:${server.server?.port}/tasks`, {
        method: "POST",
        headers: { "content-type": "application/json" },
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
