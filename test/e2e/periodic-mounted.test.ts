/**
 * The periodic family mounted on the real app next to the native API: each answers
 * its own errors in its own shape, whichever hook runs first.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiKeys, createApp } from "../../src/api";
import { periodicRoutes } from "../../src/api/periodic";
import { silentLogger } from "../../src/log";
import type { EngineApi } from "../../src/runtime/commands";
import { type ScheduleHarness, startScheduleHarness } from "../helpers/schedules";

const apiKeys = new ApiKeys([{ client: "acme", key: "key-of-acme" }]);
const AS_ACME = { authorization: "Bearer key-of-acme" };

/** No route used here reaches the engine; one that did would fail loudly. */
const engine = new Proxy({} as EngineApi, {
  get: (_, name) => () => {
    throw new Error(`the engine's ${String(name)} is not part of this test`);
  },
});

let h: ScheduleHarness;
let app: { handle(request: Request): Promise<Response> };
beforeEach(async () => {
  h = await startScheduleHarness();
  app = createApp(engine, { log: silentLogger, apiKeys }).use(periodicRoutes(h.schedules, apiKeys));
});
afterEach(() => h.stop());

async function call(method: string, path: string, raw?: string, headers = AS_ACME) {
  const response = await app.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers: raw === undefined ? headers : { ...headers, "content-type": "application/json" },
      body: raw,
    }),
  );
  return { status: response.status, json: (await response.json()) as unknown };
}

describe("periodic routes on the app", () => {
  it.each([
    ["a bad frequency", '{"command":"x","frequency":"every 0 seconds"}', 400],
    ["malformed JSON", "{not json", 400],
    ["an unknown property", '{"command":"x","frequency":"every 1 seconds","x":1}', 400],
  ])("answer %s with this family's {error}", async (_, raw, status) => {
    const answer = await call("POST", "/api/v1/tasks/create", raw);
    expect(answer.status).toBe(status);
    expect(answer.json).toEqual({ error: expect.any(String) });
  });

  it("answer a missing key, an unknown id and an unknown route with this family's {error}", async () => {
    const anonymous = await call(
      "GET",
      `/api/v1/tasks/${crypto.randomUUID()}/latest_output`,
      undefined,
      {
        authorization: "",
      },
    );
    expect(anonymous).toEqual({ status: 401, json: { error: expect.any(String) } });
    const unknown = await call("GET", `/api/v1/tasks/${crypto.randomUUID()}/latest_output`);
    expect(unknown).toEqual({ status: 404, json: { error: expect.stringMatching(/not found/) } });
    const nowhere = await call("GET", "/api/v1/tasks/a/b/c");
    expect(nowhere).toEqual({ status: 404, json: { error: "no such route" } });
  });

  it("create works through the app", async () => {
    const answer = await call(
      "POST",
      "/api/v1/tasks/create",
      '{"command":"echo hello world","frequency":"every 30 seconds"}',
    );
    expect(answer).toEqual({ status: 200, json: { command_id: expect.any(String) } });
  });

  it("leave the native API's errors in the native shape", async () => {
    const anonymous = await call("GET", "/tasks", undefined, { authorization: "" });
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    const badId = await call("GET", "/tasks/abc");
    expect(badId.status).toBe(400);
    expect(badId.json).toMatchObject({ error: { code: "INVALID_INPUT" } });
    const nowhere = await call("GET", "/nowhere");
    expect(nowhere.json).toMatchObject({ error: { code: "NOT_FOUND" } });
  });
});
