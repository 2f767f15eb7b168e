/**
 * The host task API (i3D, spec section 2) over a real engine: app.handle on the real
 * app, real SQLite, and in-process agents on the engine's bus that announce
 * application instances and run the real instance actions and exec.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Elysia } from "elysia";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execAction } from "../../agent/actions/exec";
import { instanceActions } from "../../agent/actions/instance-actions";
import { noopAction } from "../../agent/actions/noop";
import { Agent } from "../../agent/agent";
import { BuildCache } from "../../agent/build-cache";
import { type InstanceConfig, Instances } from "../../agent/instances";
import { ApiKeys, createApp } from "../../src/api";
import {
  BUILT_IN_TEMPLATES,
  checkTemplates,
  hostTaskApi,
  type TaskTemplate,
} from "../../src/api/hosttask";
import { ConfigError } from "../../src/errors";
import { silentLogger } from "../../src/log";
import { startTestEngine, TENANT, type TestEngine } from "../helpers/engine";

const apiKeys = new ApiKeys([
  { client: TENANT, key: "key-of-test" },
  { client: "other", key: "key-of-other" },
]);
const AS_TEST = { "PRIVATE-TOKEN": "key-of-test" };
const AS_OTHER = { "PRIVATE-TOKEN": "key-of-other" };

/** A test-only template: a first action that waits for a gate, then a second one. */
const GATED: TaskTemplate = {
  id: 90,
  name: "Gated",
  description: "waits for its gate, then finishes",
  actions: [
    { actionType: "Wait", type: "exec", params: [{ name: "command" }] },
    { actionType: "Finish", type: "exec", fixedParams: { command: "true" } },
  ],
};

type Handler = { handle(request: Request): Promise<Response> };

let t: TestEngine;
let app: Handler;
/** The same API with the GATED template too, for pause and lane scenarios. */
let gatedApp: Handler;
const agents: Agent[] = [];
let gateCount = 0;

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = AS_TEST,
  on: Handler = app,
): Promise<{ status: number; json: ReturnType<typeof JSON.parse> }> {
  const raw =
    typeof body === "string" ? body : body === undefined ? undefined : JSON.stringify(body);
  const response = await on.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers: raw === undefined ? headers : { ...headers, "content-type": "application/json" },
      body: raw,
    }),
  );
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

/** A shell command that waits for its gate file, and the function that opens it. */
function gate(): { command: string; open(): void } {
  const file = join(t.dir, `gate-${++gateCount}`);
  return {
    command: `until [ -e ${file} ]; do sleep 0.02; done`,
    open: () => writeFileSync(file, ""),
  };
}

async function create(body: Record<string, unknown>, on: Handler = app): Promise<number[]> {
  const reply = await call("POST", "/v3/applicationInstance/task", body, AS_TEST, on);
  expect(reply.status, JSON.stringify(reply.json)).toBe(200);
  expect(reply.json).toHaveLength(1);
  return Object.keys(reply.json[0].taskIds).map(Number);
}

const command = (instanceIds: (string | number)[], cmd: string, extra = {}) => ({
  taskTemplateId: "5",
  applicationInstanceIds: instanceIds,
  taskActionParam: [{ paramName: "command", paramValue: cmd }],
  ...extra,
});

async function status(id: number, on: Handler = app) {
  const reply = await call("GET", `/v3/applicationInstance/task/${id}`, undefined, AS_TEST, on);
  expect(reply.status).toBe(200);
  expect(reply.json).toHaveLength(1);
  return reply.json[0];
}

async function counts() {
  return {
    tasks: (await t.engine.list(TENANT, { limit: 100_000 })).length,
    batches: (await t.engine.listBatches(TENANT, { kind: "hostTask", limit: 100_000 })).length,
  };
}

function startAgent(id: string, instances: InstanceConfig[], withExec: boolean) {
  const actions = instanceActions({
    instances: new Instances(instances),
    builds: new BuildCache(join(t.dir, `${id}-state`)),
  });
  const agent = new Agent({
    id,
    bus: t.bus,
    log: silentLogger,
    actions: withExec ? [execAction, noopAction, ...actions] : [noopAction, ...actions],
    instances: instances.map((instance) => ({ ...instance })),
    heartbeatMs: 100,
  });
  agent.start();
  agents.push(agent);
}

function instance(id: string, extra: Partial<InstanceConfig> = {}): InstanceConfig {
  return {
    id,
    directory: join(t.dir, "instances", id),
    start: { command: "exec sleep 30" },
    ...extra,
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in time`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

beforeAll(async () => {
  t = await startTestEngine();
  app = createApp(t.engine, { log: silentLogger, apiKeys });
  gatedApp = new Elysia().use(hostTaskApi(t.engine, apiKeys, [...BUILT_IN_TEMPLATES, GATED]));
  startAgent(
    "host-a",
    [
      instance("game-1", { fleetId: 7, regionId: 1, labels: { game: "arena" } }),
      instance("game-2", { fleetId: 7, regionId: 2, labels: { game: "lobby" } }),
    ],
    true,
  );
  startAgent(
    "host-b",
    [
      instance("game-3", { fleetId: 8, regionId: 1, labels: { game: "arena", tier: "gold" } }),
      instance("42", { fleetId: 9 }),
    ],
    true,
  );
  startAgent("host-c", [instance("game-4", { fleetId: 10 })], false);
  await until(
    () => ["host-a", "host-b", "host-c"].every((id) => t.engine.agents().some((a) => a.id === id)),
    "agents announce their instances",
  );
});

afterAll(async () => {
  for (const agent of agents) await agent.stop();
  await t?.stop();
});

describe("authentication (2.5)", () => {
  it.each([
    ["no key", {}],
    ["a wrong PRIVATE-TOKEN", { "PRIVATE-TOKEN": "nope" }],
    ["a wrong bearer", { authorization: "Bearer nope" }],
  ])("answers 403 in the i3D error shape with %s, on every route", async (_, headers) => {
    for (const [method, path] of [
      ["GET", "/v3/applicationInstance/task/template"],
      ["POST", "/v3/applicationInstance/task"],
      ["GET", "/v3/applicationInstance/task"],
      ["GET", "/v3/applicationInstance/task/1"],
      ["DELETE", "/v3/applicationInstance/task/1"],
      ["PUT", "/v3/applicationInstance/task/1"],
      ["GET", "/v3/applicationInstance/taskBatch"],
      ["GET", "/v3/applicationInstance/taskBatch/1"],
      ["GET", "/v3/applicationInstance/game-1/task"],
      ["GET", "/v3/host/host-a/task"],
    ] as const) {
      const reply = await call(
        method,
        path,
        method === "POST" ? command(["game-1"], "true") : undefined,
        headers,
      );
      expect(reply.status, `${method} ${path}`).toBe(403);
      expect(reply.json).toEqual({
        errorCode: 10002,
        errorMessage: "Access denied",
        errors: [{ property: "PRIVATE-TOKEN", message: expect.any(String) }],
      });
    }
  });

  it("takes the key as PRIVATE-TOKEN or as the other headers the engine accepts", async () => {
    for (const headers of [AS_TEST, { authorization: "Bearer key-of-test" }]) {
      expect((await call("GET", "/v3/applicationInstance/task", undefined, headers)).status).toBe(
        200,
      );
    }
  });
});

describe("templates (2.6)", () => {
  it.each<[string, unknown, RegExp]>([
    ["a duplicate id", [GATED, GATED], /listed twice/],
    ["an unknown property", [{ ...GATED, colour: "red" }], /colour|Unexpected/],
    [
      "a parameter read two ways",
      [
        {
          ...GATED,
          actions: [
            { actionType: "A", type: "exec", params: [{ name: "command" }] },
            { actionType: "B", type: "exec", params: [{ name: "command", kind: "number" }] },
          ],
        },
      ],
      /two different ways/,
    ],
    [
      "a default of the wrong kind",
      [
        {
          ...GATED,
          actions: [
            {
              actionType: "A",
              type: "stop-instance",
              params: [{ name: "methodId", kind: "stopMethod", required: false, default: "soft" }],
            },
          ],
        },
      ],
      /wrong kind/,
    ],
  ])("refuses a templates list with %s at startup", (_, templates, message) => {
    expect(() => checkTemplates(templates)).toThrow(ConfigError);
    expect(() => checkTemplates(templates)).toThrow(message);
    expect(() => hostTaskApi(t.engine, apiKeys, templates as TaskTemplate[])).toThrow(ConfigError);
  });

  it("lists the built-in templates with their actions and parameters", async () => {
    const reply = await call("GET", "/v3/applicationInstance/task/template");
    expect(reply.status).toBe(200);
    expect(
      reply.json.map((template: { id: number; name: string }) => [template.id, template.name]),
    ).toEqual([
      [1, "Deploy"],
      [2, "Start"],
      [3, "Stop"],
      [4, "Restart"],
      [5, "Custom command"],
    ]);
    expect(reply.json[0].actions).toEqual([
      { idx: 0, actionType: "Download software build", requiredParams: ["buildId", "url"] },
      { idx: 1, actionType: "Extract software build", requiredParams: ["buildId"] },
      { idx: 2, actionType: "Stop instance", requiredParams: ["methodId", "timeout"] },
      { idx: 3, actionType: "Deploy software build to instance", requiredParams: ["buildId"] },
      { idx: 4, actionType: "Start instance", requiredParams: [] },
    ]);
    expect(reply.json[3].actions.map((a: { actionType: string }) => a.actionType)).toEqual([
      "Stop instance",
      "Start instance",
    ]);
    expect(reply.json[4].actions).toEqual([
      { idx: 0, actionType: "Custom command", requiredParams: ["command"] },
    ]);
    for (const template of reply.json) expect(template.description).not.toBe("");
  });
});

describe("bad input creates nothing (2.7, 2.9, 2.15)", () => {
  const deploy = (params: [string, string | number][], extra = {}) => ({
    taskTemplateId: "1",
    applicationInstanceIds: ["game-1"],
    taskActionParam: params.map(([paramName, paramValue]) => ({ paramName, paramValue })),
    ...extra,
  });
  const good: [string, string][] = [
    ["buildId", "v1"],
    ["url", "https://example.com/v1.tar.gz"],
  ];
  const table: [string, unknown, string][] = [
    ["malformed JSON", "{not json", "body"],
    ["an empty body", "", "body"],
    ["an array", "[]", "body"],
    ["an unknown property", { ...command(["game-1"], "true"), priority: 1 }, "priority"],
    ["no taskTemplateId", { applicationInstanceIds: ["game-1"] }, "taskTemplateId"],
    [
      "an integer taskTemplateId",
      { ...command(["game-1"], "true"), taskTemplateId: 5 },
      "taskTemplateId",
    ],
    [
      "an unknown template",
      { ...command(["game-1"], "true"), taskTemplateId: "99" },
      "taskTemplateId",
    ],
    ["a required param missing", deploy([["buildId", "v1"]]), "taskActionParam"],
    ["an unknown param", deploy([...good, ["colour", "red"]]), "taskActionParam[2].paramName"],
    ["a param twice", deploy([...good, ["buildId", "v2"]]), "taskActionParam[2].paramName"],
    ["a bad stop method", deploy([...good, ["methodId", "soft"]]), "taskActionParam[2].paramValue"],
    ["a bad timeout", deploy([...good, ["timeout", "soon"]]), "taskActionParam[2].paramValue"],
    [
      "a bad build id",
      deploy([["buildId", "../x"], good[1] as [string, string]]),
      "taskActionParam[0].paramValue",
    ],
    [
      "a url that is not one",
      deploy([good[0] as [string, string], ["url", "ftp://x"]]),
      "taskActionParam[1].paramValue",
    ],
    [
      "a paramValue of the wrong type",
      {
        ...command(["game-1"], "true"),
        taskActionParam: [{ paramName: "command", paramValue: true }],
      },
      "taskActionParam[0].paramValue",
    ],
    ["an unknown instance id", command(["game-1", "nope"], "true"), "applicationInstanceIds[1]"],
    [
      "an instance id of the wrong type",
      command([true as unknown as string], "true"),
      "applicationInstanceIds[0]",
    ],
    [
      "no selection",
      { taskTemplateId: "5", taskActionParam: [{ paramName: "command", paramValue: "true" }] },
      "applicationInstanceIds",
    ],
    [
      "a selection that matches nothing",
      { ...command([], "true"), fleetId: 999 },
      "applicationInstanceIds",
    ],
    ["a negative fleetId", { ...command(["game-1"], "true"), fleetId: -1 }, "fleetId"],
    ["a fractional regionId", { ...command(["game-1"], "true"), regionId: 1.5 }, "regionId"],
    [
      "a label key with capitals",
      { ...command([], "true"), labels: [{ key: "Game", value: "arena" }] },
      "labels[0].key",
    ],
    [
      "a label value over 150",
      { ...command([], "true"), labels: [{ key: "game", value: "x".repeat(151) }] },
      "labels[0].value",
    ],
    ["a negative executeAt", { ...command(["game-1"], "true"), executeAt: -5 }, "executeAt"],
    ["a text executeAt", { ...command(["game-1"], "true"), executeAt: "soon" }, "executeAt"],
    [
      "exec on an agent that does not allow it",
      command(["game-1", "game-4"], "true"),
      "taskTemplateId",
    ],
  ];
  it.each(table.map(([what, body, property]) => [what, property, body] as const))(
    "refuses %s with 422 naming %s",
    async (_, property, body) => {
      const before = await counts();
      const reply = await call("POST", "/v3/applicationInstance/task", body);
      expect(reply.status, JSON.stringify(reply.json)).toBe(422);
      expect(reply.json).toMatchObject({ errorCode: 10003, errorMessage: expect.any(String) });
      expect(reply.json.errors.map((e: { property: string }) => e.property)).toContain(property);
      for (const error of reply.json.errors) expect(error.message).toEqual(expect.any(String));
      expect(await counts()).toEqual(before);
    },
  );

  it("names the missing required parameter", async () => {
    const reply = await call("POST", "/v3/applicationInstance/task", deploy([["buildId", "v1"]]));
    expect(reply.json.errors).toEqual([
      { property: "taskActionParam", message: expect.stringMatching(/required parameter url/) },
    ]);
  });

  it.each<[string, string, number, number]>([
    ["GET", "/v3/applicationInstance/task/abc", 422, 10003],
    ["GET", "/v3/applicationInstance/task/0", 422, 10003],
    ["GET", "/v3/applicationInstance/task/99999999999999999999", 422, 10003],
    ["GET", "/v3/applicationInstance/task/987654", 404, 10001],
    ["DELETE", "/v3/applicationInstance/task/abc", 422, 10003],
    ["DELETE", "/v3/applicationInstance/task/987654", 404, 10001],
    ["PUT", "/v3/applicationInstance/task/-1", 422, 10003],
    ["PUT", "/v3/applicationInstance/task/987654", 404, 10001],
    ["GET", "/v3/applicationInstance/taskBatch/x", 422, 10003],
    ["GET", "/v3/applicationInstance/taskBatch/987654", 404, 10001],
    ["GET", "/v3/host/not%20an%20id/task", 422, 10003],
    ["GET", "/v3/applicationInstance/task/1/extra", 404, 10001],
    ["POST", "/v3/applicationInstance/task/1", 404, 10001],
    ["GET", "/v3/host/host-a", 404, 10001],
  ])("%s %s → %i in the i3D shape", async (method, path, code, errorCode) => {
    const before = await counts();
    const reply = await call(method, path);
    expect(reply.status).toBe(code);
    expect(reply.json).toEqual({
      errorCode,
      errorMessage: expect.any(String),
      errors: [{ property: expect.any(String), message: expect.any(String) }],
    });
    if (code === 404) expect(reply.json.errorMessage).toBe("Entity not found");
    expect(await counts()).toEqual(before);
  });
});

describe("selection (2.7, 2.8)", () => {
  async function selected(body: Record<string, unknown>): Promise<(string | number)[]> {
    const ids = await create({ ...command([], "true"), ...body });
    const entities = [];
    for (const id of ids) entities.push((await status(id)).entityId);
    for (const id of ids) await t.waitFor(id, ["done"]);
    return entities.sort((a, b) => String(a).localeCompare(String(b)));
  }

  it("selects by ids, as strings or integers", async () => {
    expect(await selected({ applicationInstanceIds: ["game-1", 42] })).toEqual([42, "game-1"]);
    expect(await selected({ applicationInstanceIds: ["42"] })).toEqual([42]);
  });

  it("selects every instance of a fleet, or of a region", async () => {
    expect(await selected({ fleetId: 7 })).toEqual(["game-1", "game-2"]);
    expect(await selected({ regionId: 1 })).toEqual(["game-1", "game-3"]);
  });

  it("selects by label, each label adding its matches", async () => {
    expect(await selected({ labels: [{ key: "game", value: "arena" }] })).toEqual([
      "game-1",
      "game-3",
    ]);
    expect(
      await selected({
        labels: [
          { key: "tier", value: "gold" },
          { key: "game", value: "lobby" },
        ],
      }),
    ).toEqual(["game-2", "game-3"]);
  });

  it("takes the de-duplicated union of every criterion", async () => {
    expect(
      await selected({
        applicationInstanceIds: ["game-1", "game-1", 42],
        fleetId: 7,
        regionId: 1,
        labels: [{ key: "game", value: "arena" }],
      }),
    ).toEqual([42, "game-1", "game-2", "game-3"]);
  });
});

describe("create (2.7, 2.14)", () => {
  it("creates one batch with one task per instance, each on its host's agent and lane", async () => {
    const executeAt = Math.floor(Date.now() / 1000) + 3600;
    const reply = await call("POST", "/v3/applicationInstance/task", {
      taskTemplateId: "1",
      applicationInstanceIds: ["game-1", 42],
      executeAt,
      taskActionParam: [
        { paramName: "buildId", paramValue: "v7" },
        { paramName: "url", paramValue: "https://builds.example/v7.tar.gz" },
        { paramName: "methodId", paramValue: 1 },
        { paramName: "timeout", paramValue: "10" },
      ],
    });
    expect(reply.status).toBe(200);
    const [batch] = reply.json;
    const ids = Object.keys(batch.taskIds).map(Number);
    expect(batch).toMatchObject({
      numTasks: 2,
      numTasksOk: 0,
      numTasksFailed: 0,
      numTasksCancelled: 0,
      executeAt,
      finishedAt: 0,
      taskIds: { [String(ids[0])]: 0, [String(ids[1])]: 0 },
    });
    const views = await Promise.all(ids.map((id) => t.engine.get(TENANT, id)));
    expect(views.map((v) => [v.agentId, v.lane, v.refId, v.batchId, v.name])).toEqual([
      ["host-a", "i-game-1", "game-1", batch.id, "Deploy"],
      ["host-b", "i-42", "42", batch.id, "Deploy"],
    ]);
    expect(views[0]?.actions).toEqual([
      {
        type: "download-build",
        params: { buildId: "v7", url: "https://builds.example/v7.tar.gz" },
      },
      { type: "extract-build", params: { buildId: "v7" } },
      {
        type: "stop-instance",
        params: { instanceId: "game-1", methodId: "graceful", timeout: 10 },
      },
      { type: "deploy-build", params: { instanceId: "game-1", buildId: "v7" } },
      { type: "start-instance", params: { instanceId: "game-1" } },
    ]);
    const first = await status(ids[0] as number);
    expect(first).toEqual({
      id: ids[0],
      name: "Deploy",
      batchId: batch.id,
      categoryId: 2,
      entityId: "game-1",
      currentActionIdx: -1,
      executeAt,
      lastActivityAt: expect.any(Number),
      finishedAt: 0,
      resultCode: 0,
      resultText: "Pending",
    });
    for (const id of ids)
      expect((await call("DELETE", `/v3/applicationInstance/task/${id}`)).status).toBe(200);
    const after = await call("GET", `/v3/applicationInstance/taskBatch/${batch.id}`);
    expect(after.json).toEqual([
      {
        ...batch,
        numTasksCancelled: 2,
        finishedAt: expect.any(Number),
        taskIds: { [String(ids[0])]: 124, [String(ids[1])]: 124 },
      },
    ]);
    expect(after.json[0].finishedAt).toBeGreaterThan(0);
  });

  it("stops with a hard kill and a 1800 s timeout unless told otherwise (2.17)", async () => {
    const [id] = await create({
      taskTemplateId: "3",
      applicationInstanceIds: ["game-3"],
      executeAt: Math.floor(Date.now() / 1000) + 3600,
    });
    const view = await t.engine.get(TENANT, id as number);
    expect(view.actions).toEqual([
      { type: "stop-instance", params: { instanceId: "game-3", methodId: "hard", timeout: 1800 } },
    ]);
    await call("DELETE", `/v3/applicationInstance/task/${id}`);
  });
});

describe("result codes through a task's life (2.3)", () => {
  it("pending (0) → in progress (1) → done (127)", async () => {
    const g = gate();
    const [id] = (await create(command(["game-1"], g.command))) as [number];
    await t.waitFor(id, ["running"]);
    expect(await status(id)).toMatchObject({
      resultCode: 1,
      resultText: "In progress",
      currentActionIdx: 0,
      finishedAt: 0,
    });
    g.open();
    await t.waitFor(id, ["done"]);
    const done = await status(id);
    expect(done).toMatchObject({ resultCode: 127, resultText: "Done", currentActionIdx: 0 });
    expect(done.finishedAt).toBeGreaterThanOrEqual(done.executeAt);
    expect(done.lastActivityAt).toBeGreaterThan(0);
  });

  it("a scheduled task is pending with currentActionIdx -1 and its executeAt", async () => {
    const executeAt = Math.floor(Date.now() / 1000) + 600;
    const [id] = (await create(command(["game-2"], "true", { executeAt }))) as [number];
    expect(await status(id)).toMatchObject({ resultCode: 0, currentActionIdx: -1, executeAt });
    const cancelled = await call("DELETE", `/v3/applicationInstance/task/${id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.json).toEqual([
      expect.objectContaining({ id, resultCode: 124, resultText: "Cancelled" }),
    ]);
    expect(cancelled.json[0].finishedAt).toBeGreaterThan(0);
  });

  it("failed: 126 with the error as resultText", async () => {
    // game-2 has no build deployed, so it cannot start.
    const [id] = (await create({ taskTemplateId: "2", applicationInstanceIds: ["game-2"] })) as [
      number,
    ];
    await t.waitFor(id, ["failed"]);
    expect(await status(id)).toMatchObject({
      resultCode: 126,
      resultText: expect.stringMatching(/^start-instance: .*no deployed build/),
      currentActionIdx: 0,
    });
  });

  it("cancel (2.11): a running task → 124 at once; its action finishes, no later one starts; then 409", async () => {
    const g = gate();
    const gated = {
      taskTemplateId: "90",
      applicationInstanceIds: ["game-1"],
      taskActionParam: [{ paramName: "command", paramValue: g.command }],
    };
    const [id] = (await create(gated, gatedApp)) as [number];
    await t.waitFor(id, ["running"]);
    const cancelled = await call(
      "DELETE",
      `/v3/applicationInstance/task/${id}`,
      undefined,
      AS_TEST,
      gatedApp,
    );
    expect(cancelled.json[0]).toMatchObject({ resultCode: 124, currentActionIdx: 0 });
    expect(cancelled.json[0].finishedAt).toBeGreaterThan(0);
    expect(await status(id)).toMatchObject({
      resultCode: 124,
      finishedAt: cancelled.json[0].finishedAt,
    });
    for (const method of ["DELETE", "PUT"]) {
      const again = await call(method, `/v3/applicationInstance/task/${id}`);
      expect(again.status).toBe(409);
      expect(again.json).toMatchObject({ errorCode: 10004, errors: [] });
    }
    expect((await call("DELETE", `/v3/applicationInstance/task/${id}`)).json.errorMessage).toBe(
      "Task cannot be cancelled",
    );
    // The gate command was not killed, and it still holds the instance.
    expect((await t.engine.get(TENANT, id)).status).toBe("cancelling");
    const [next] = (await create(command(["game-1"], "true"))) as [number];
    expect(await status(next)).toMatchObject({ resultCode: 0 });
    expect((await t.engine.get(TENANT, next)).status).toBe("ready");

    g.open();
    await t.waitFor(id, ["cancelled"]);
    await t.waitFor(next, ["done"]);
    const view = await t.engine.get(TENANT, id);
    // The running action finished on its own; the task's second action never started.
    expect(view.results).toEqual([expect.objectContaining({ ok: true, exitCode: 0 }), null]);
    expect(await status(id)).toMatchObject({ resultCode: 124, currentActionIdx: 0 });
  });

  it("timed out: 125 when the agent never takes the task", async () => {
    const quick = await startTestEngine({
      engine: { defaultTimeouts: { deliveryMs: 100, executionMs: 60_000, heartbeatMs: 0 } },
    });
    const quickApp = createApp(quick.engine, { log: silentLogger, apiKeys });
    const silent = new Agent({
      id: "host-z",
      bus: quick.bus,
      log: silentLogger,
      actions: [noopAction, execAction],
      instances: [{ id: "game-z" }],
      heartbeatMs: 100,
    });
    silent.start();
    try {
      await until(() => quick.engine.agents().some((a) => a.id === "host-z"), "host-z hello");
      // It stops listening; the engine still lists its instance and sends it the task.
      await silent.stop();
      const [id] = (await create(command(["game-z"], "true"), quickApp)) as [number];
      await quick.waitFor(id, ["timedOut"]);
      expect(await status(id, quickApp)).toMatchObject({
        resultCode: 125,
        resultText: expect.stringMatching(/^Timed out: .*delivery/),
      });
    } finally {
      await quick.stop();
    }
  });
});

describe("pause (2.12, 2.13)", () => {
  const gated = (instanceId: string, cmd: string, extra = {}) => ({
    taskTemplateId: "90",
    applicationInstanceIds: [instanceId],
    taskActionParam: [{ paramName: "command", paramValue: cmd }],
    ...extra,
  });
  const put = (id: number) =>
    call("PUT", `/v3/applicationInstance/task/${id}`, undefined, AS_TEST, gatedApp);
  const get = (id: number) => status(id, gatedApp);

  it("pauses a running task after its action, blocks its instance, and resumes", async () => {
    const g = gate();
    const [a] = (await create(gated("game-1", g.command), gatedApp)) as [number];
    await t.waitFor(a, ["running"]);
    const paused = await put(a);
    expect(paused.status).toBe(200);
    expect(paused.json).toEqual([expect.objectContaining({ resultCode: 2, currentActionIdx: 0 })]);
    expect(await get(a)).toMatchObject({ resultCode: 2, resultText: "Paused" });
    // The pause waits for the running action; it cannot be taken back meanwhile.
    const early = await put(a);
    expect(early.status).toBe(409);
    expect(early.json.errorMessage).toMatch(/pausing/);

    g.open();
    await t.waitFor(a, ["paused"]);
    expect(await get(a)).toMatchObject({ resultCode: 2, currentActionIdx: 1 });

    // Another task for the same instance waits while the paused one holds it...
    const [b] = (await create(command(["game-1"], "true"), gatedApp)) as [number];
    // ...while one for another instance runs to the end.
    const [c] = (await create(command(["game-2"], "true"), gatedApp)) as [number];
    await t.waitFor(c, ["done"]);
    expect(await get(b)).toMatchObject({ resultCode: 0, currentActionIdx: -1 });
    expect((await t.engine.get(TENANT, b)).status).toBe("ready");

    const resumed = await put(a);
    expect(resumed.json).toEqual([expect.objectContaining({ id: a, resultCode: 1 })]);
    await t.waitFor(a, ["done"]);
    await t.waitFor(b, ["done"]);
    expect(await get(a)).toMatchObject({ resultCode: 127, currentActionIdx: 1 });
  });

  it("a task paused before it started resumes to pending (0)", async () => {
    const executeAt = Math.floor(Date.now() / 1000) + 600;
    const [id] = (await create(gated("game-3", "true", { executeAt }), gatedApp)) as [number];
    expect((await put(id)).json[0]).toMatchObject({ resultCode: 2, currentActionIdx: -1 });
    expect((await put(id)).json[0]).toMatchObject({ resultCode: 0, currentActionIdx: -1 });
    expect((await call("DELETE", `/v3/applicationInstance/task/${id}`)).json[0].resultCode).toBe(
      124,
    );
  });

  it("runs one task at a time per instance", async () => {
    const g = gate();
    const [a] = (await create(command(["game-1"], g.command), gatedApp)) as [number];
    await t.waitFor(a, ["running"]);
    const [b] = (await create(command(["game-1"], "true"), gatedApp)) as [number];
    const [c] = (await create(command(["game-2"], "true"), gatedApp)) as [number];
    await t.waitFor(c, ["done"]);
    expect(await get(b)).toMatchObject({ resultCode: 0 });
    g.open();
    await t.waitFor(b, ["done"]);
    expect(await get(a)).toMatchObject({ resultCode: 127 });
  });
});

describe("batches and lists (2.10, 2.14)", () => {
  it("counts a batch's outcomes and maps each task to its code", async () => {
    const g = gate();
    const ids = await create(command(["game-1", "game-2"], g.command));
    const [a, b] = ids as [number, number];
    await t.waitFor(a, ["running"]);
    await call("DELETE", `/v3/applicationInstance/task/${b}`);
    const batchId = (await status(a)).batchId;
    const running = await call("GET", `/v3/applicationInstance/taskBatch/${batchId}`);
    expect(running.json).toEqual([
      expect.objectContaining({
        id: batchId,
        finishedAt: 0,
        numTasksCancelled: 1,
        taskIds: { [a]: 1, [b]: 124 },
      }),
    ]);
    g.open();
    await t.waitFor(a, ["done"]);
    // b's action was let finish (2.11); the batch ends when it has.
    await t.waitFor(b, ["cancelled"]);
    const finished = (await call("GET", `/v3/applicationInstance/taskBatch/${batchId}`)).json[0];
    expect(finished).toMatchObject({
      numTasks: 2,
      numTasksOk: 1,
      numTasksFailed: 0,
      numTasksCancelled: 1,
      taskIds: { [a]: 127, [b]: 124 },
    });
    expect(finished.finishedAt).toBeGreaterThan(0);

    const [failed] = (await create({
      taskTemplateId: "2",
      applicationInstanceIds: ["game-2"],
    })) as [number];
    await t.waitFor(failed, ["failed"]);
    const failedBatch = (
      await call("GET", `/v3/applicationInstance/taskBatch/${(await status(failed)).batchId}`)
    ).json[0];
    expect(failedBatch).toMatchObject({ numTasksFailed: 1, taskIds: { [failed]: 126 } });

    const list = (await call("GET", "/v3/applicationInstance/taskBatch")).json;
    expect(list[0].id).toBe(failedBatch.id);
    expect(list.map((x: { id: number }) => x.id)).toContain(batchId);
    const listed = list.map((x: { id: number }) => x.id);
    expect(listed).toEqual([...listed].sort((x: number, y: number) => y - x));
  });

  it("lists and shows only its own batches, not another API's", async () => {
    const [mine] = (await create(command(["42"], "true"))) as [number];
    const other = await t.engine.submitBatch(TENANT, [{ actions: [{ type: "noop" }] }], {
      kind: "xina",
    });
    const list = (await call("GET", "/v3/applicationInstance/taskBatch")).json;
    const listed = list.map((x: { id: number }) => x.id);
    expect(listed).toContain((await status(mine)).batchId);
    expect(listed).not.toContain(other.batch.id);
    const shown = await call("GET", `/v3/applicationInstance/taskBatch/${other.batch.id}`);
    expect(shown.status).toBe(404);
    expect(shown.json).toMatchObject({ errorCode: 10001 });
  });

  it("lists tasks newest first; by instance and by host; not other APIs' tasks", async () => {
    const native = await call("POST", "/tasks", { agent: "host-a", actions: [{ type: "noop" }] });
    expect(native.status).toBe(201);
    const [mine] = (await create(command(["42"], "true"))) as [number];
    await t.waitFor(mine, ["done"]);
    await t.waitFor(native.json.id, ["done"]);

    const all = (await call("GET", "/v3/applicationInstance/task")).json;
    const ids = all.map((x: { id: number }) => x.id);
    expect(ids[0]).toBe(mine);
    expect(ids).toEqual([...ids].sort((x: number, y: number) => y - x));
    expect(ids).not.toContain(native.json.id);
    expect(all.length).toBeLessThanOrEqual(100);
    for (const task of all) expect(task.categoryId).toBe(2);
    expect((await call("GET", `/v3/applicationInstance/task/${native.json.id}`)).status).toBe(404);

    const of42 = (await call("GET", "/v3/applicationInstance/42/task")).json;
    expect(of42[0]).toMatchObject({ id: mine, entityId: 42 });
    expect(new Set(of42.map((x: { entityId: unknown }) => x.entityId))).toEqual(new Set([42]));
    const ofGame1 = (await call("GET", "/v3/applicationInstance/game-1/task")).json;
    expect(ofGame1.length).toBeGreaterThan(0);
    expect(new Set(ofGame1.map((x: { entityId: unknown }) => x.entityId))).toEqual(
      new Set(["game-1"]),
    );
    const ofHostB = (await call("GET", "/v3/host/host-b/task")).json;
    expect(ofHostB[0].id).toBe(mine);
    for (const task of ofHostB) expect(["game-3", 42]).toContain(task.entityId);
    expect(
      (await call("GET", "/v3/host/host-a/task")).json.map((x: { id: number }) => x.id),
    ).not.toContain(mine);
    expect((await call("GET", "/v3/applicationInstance/unknown/task")).json).toEqual([]);
  });
});

describe("tenancy", () => {
  it("another client sees none of this client's tasks or batches", async () => {
    const [id] = (await create(command(["game-3"], "true"))) as [number];
    await t.waitFor(id, ["done"]);
    const batchId = (await status(id)).batchId;
    for (const [method, path] of [
      ["GET", `/v3/applicationInstance/task/${id}`],
      ["DELETE", `/v3/applicationInstance/task/${id}`],
      ["PUT", `/v3/applicationInstance/task/${id}`],
      ["GET", `/v3/applicationInstance/taskBatch/${batchId}`],
    ] as const) {
      const reply = await call(method, path, undefined, AS_OTHER);
      expect(reply.status, `${method} ${path}`).toBe(404);
      expect(reply.json).toMatchObject({ errorCode: 10001, errorMessage: "Entity not found" });
    }
    for (const path of [
      "/v3/applicationInstance/task",
      "/v3/applicationInstance/taskBatch",
      "/v3/applicationInstance/game-3/task",
      "/v3/host/host-b/task",
    ]) {
      const reply = await call("GET", path, undefined, AS_OTHER);
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual([]);
    }
  });
});
