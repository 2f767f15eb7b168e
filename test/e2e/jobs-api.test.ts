/**
 * The job family (Vualto Task Engine, seed-spec section 4) over HTTP, through
 * `app.handle` on the real app, against a real engine whose embedded agent runs the
 * workflows' `exec` steps. A `gated` step waits for a file, so a job can be held
 * `started` for as long as a test needs.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeys, createApp } from "../../src/api";
import { silentLogger } from "../../src/log";
import type { JobsApi } from "../../src/runtime/commands";
import { startTestEngine, type TestEngine, tempDir } from "../helpers/engine";
import { until } from "../helpers/until";

const apiKeys = new ApiKeys([
  { client: "alpha", key: "key-of-alpha-0001" },
  { client: "beta", key: "key-of-beta-0002" },
]);
const AS_ALPHA = { client: "alpha", "api-key": "key-of-alpha-0001" };
const AS_BETA = { client: "beta", "api-key": "key-of-beta-0002" };
const FUTURE = "2099-01-01T00:00:00.000";
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function workflowFiles(dir: string) {
  const exec = (command: string) => ({
    action: "exec",
    params: { command, env: { CID: "{{content_id}}" } },
  });
  return [
    {
      source: "gated.yaml",
      value: {
        name: "gated",
        steps: [
          {
            name: "wait",
            ...exec(`until [ -e "${dir}/gate-$CID" ]; do sleep 0.02; done; echo "passed $CID"`),
          },
        ],
      },
    },
    {
      source: "quick.yaml",
      value: { name: "quick", steps: [{ name: "say", ...exec('echo "quick $CID"') }] },
    },
  ];
}

let t: TestEngine;
let app: { handle(request: Request): Promise<Response> };

beforeAll(async () => {
  const dir = tempDir();
  t = await startTestEngine({ dir, engine: { workflowFiles: workflowFiles(dir) } });
  // Enough slots that held (gated) jobs never keep the others waiting.
  await t.engine.jobs.setSetting("max_jobs", "50");
  app = createApp(t.engine, { log: silentLogger, apiKeys, jobs: t.engine.jobs });
});
afterAll(() => t.stop());

interface Answer {
  status: number;
  type: string;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes.
  json: any;
}

async function call(
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; auth?: Record<string, string> | null } = {},
  on: { handle(request: Request): Promise<Response> } = app,
): Promise<Answer> {
  const raw =
    options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await on.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers: {
        ...(raw === undefined ? {} : { "content-type": "application/json" }),
        ...(options.auth === null ? {} : (options.auth ?? AS_ALPHA)),
      },
      body: raw,
    }),
  );
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, type: response.headers.get("content-type") ?? "", text, json };
}

const submit = (
  workflow: string,
  contentId: string,
  job: Record<string, unknown> = {},
  auth = AS_ALPHA,
) =>
  call("POST", "/job", {
    auth,
    body: { client: auth.client, job: { workflow, ...job }, parameters: { content_id: contentId } },
  });

async function created(
  workflow: string,
  contentId: string,
  job: Record<string, unknown> = {},
  auth = AS_ALPHA,
) {
  const answer = await submit(workflow, contentId, job, auth);
  expect(answer.status, answer.text).toBe(200);
  expect(answer.json).toEqual({ id: expect.any(Number), result: "accepted" });
  return answer.json.id as number;
}

const open = (contentId: string) => writeFileSync(join(t.dir, `gate-${contentId}`), "");

async function jobState(id: number, as = AS_ALPHA): Promise<string> {
  return (await call("GET", `/jobs/${id}`, { auth: as })).json.queue_state;
}

const settle = (id: number, state: string) =>
  until(async () => ((await jobState(id)) === state ? true : undefined));

/** Everything a refused request must leave as it was. */
async function everything(target: number) {
  const jobs = await t.engine.jobs.list({ orderBy: "id", ascending: true, limit: 100_000 });
  return JSON.stringify({
    jobs: jobs.map((j) => [j.id, j.state, j.priority, j.runAt, j.data.semaphoreUrl, j.updatedAt]),
    target: await t.engine.jobs.find("alpha", target),
    settings: t.engine.jobs.settings(),
    schedules: t.engine.jobs.schedules(),
    workflows: t.engine.jobs.workflows(),
  });
}

describe("refusals: 400/401 in the family's shape, naming the field, changing nothing", () => {
  let target: number;
  beforeAll(async () => {
    target = await created("quick", "target", { run_at: FUTURE });
  });

  const huge = JSON.stringify({
    job: { workflow: "quick" },
    parameters: { content_id: "c", blob: "x".repeat(1_100_000) },
  });
  const big = JSON.stringify({
    job: { workflow: "quick" },
    parameters: { content_id: "c", blob: "x".repeat(300_000) },
  });
  const job = (fields: Record<string, unknown>, parameters: unknown = { content_id: "c" }) =>
    JSON.stringify({ job: { workflow: "quick", ...fields }, parameters });
  const NO_AUTH = null;
  const WRONG_KEY = { client: "alpha", "api-key": "not-a-key" };
  const WRONG_CLIENT = { client: "beta", "api-key": "key-of-alpha-0001" };

  type Row = [
    name: string,
    method: string,
    path: string,
    raw: string | undefined,
    auth: Record<string, string> | null | undefined,
    status: number,
    names: string,
  ];
  const rows: Row[] = [
    // POST /job
    ["create: malformed JSON", "POST", "/job", "{not json", undefined, 400, "body"],
    ["create: an empty body", "POST", "/job", "", undefined, 400, "body"],
    ["create: a list", "POST", "/job", "[]", undefined, 400, "body"],
    ["create: no job", "POST", "/job", '{"parameters":{"content_id":"c"}}', undefined, 400, "job"],
    [
      "create: job a string",
      "POST",
      "/job",
      '{"job":"quick","parameters":{}}',
      undefined,
      400,
      "job",
    ],
    [
      "create: no workflow",
      "POST",
      "/job",
      '{"job":{},"parameters":{"content_id":"c"}}',
      undefined,
      400,
      "job.workflow",
    ],
    [
      "create: workflow a number",
      "POST",
      "/job",
      '{"job":{"workflow":5},"parameters":{"content_id":"c"}}',
      undefined,
      400,
      "job.workflow",
    ],
    [
      "create: an unknown workflow",
      "POST",
      "/job",
      '{"job":{"workflow":"nope"},"parameters":{"content_id":"c"}}',
      undefined,
      400,
      "workflow",
    ],
    [
      "create: an unknown top-level field",
      "POST",
      "/job",
      '{"job":{"workflow":"quick"},"parameters":{"content_id":"c"},"priority":1}',
      undefined,
      400,
      "priority",
    ],
    [
      "create: an unknown job field",
      "POST",
      "/job",
      job({ colour: "red" }),
      undefined,
      400,
      "job.colour",
    ],
    [
      "create: a fractional priority",
      "POST",
      "/job",
      job({ priority: 2.5 }),
      undefined,
      400,
      "job.priority",
    ],
    [
      "create: a word for priority",
      "POST",
      "/job",
      job({ priority: "high" }),
      undefined,
      400,
      "job.priority",
    ],
    [
      "create: month 13",
      "POST",
      "/job",
      job({ run_at: "2030-13-01T00:00:00.000" }),
      undefined,
      400,
      "job.run_at",
    ],
    [
      "create: February 30",
      "POST",
      "/job",
      job({ run_at: "2030-02-30T00:00:00.000" }),
      undefined,
      400,
      "job.run_at",
    ],
    [
      "create: run_at not a time",
      "POST",
      "/job",
      job({ run_at: "tomorrow" }),
      undefined,
      400,
      "job.run_at",
    ],
    [
      "create: run_at with an offset",
      "POST",
      "/job",
      job({ run_at: "2030-01-01T00:00:00.000+01:00" }),
      undefined,
      400,
      "job.run_at",
    ],
    [
      "create: run_at a number",
      "POST",
      "/job",
      job({ run_at: 1893456000000 }),
      undefined,
      400,
      "job.run_at",
    ],
    [
      "create: a semaphore that is no http URL",
      "POST",
      "/job",
      job({ semaphore_url: "ftp://x/y" }),
      undefined,
      400,
      "job.semaphore_url",
    ],
    [
      "create: no parameters",
      "POST",
      "/job",
      '{"job":{"workflow":"quick"}}',
      undefined,
      400,
      "parameters",
    ],
    ["create: parameters a list", "POST", "/job", job({}, []), undefined, 400, "parameters"],
    [
      "create: no content_id",
      "POST",
      "/job",
      job({}, { rest_endpoints: [] }),
      undefined,
      400,
      "parameters.content_id",
    ],
    [
      "create: content_id a number",
      "POST",
      "/job",
      job({}, { content_id: 42 }),
      undefined,
      400,
      "parameters.content_id",
    ],
    [
      "create: rest_endpoints a string",
      "POST",
      "/job",
      job({}, { content_id: "c", rest_endpoints: "http://x" }),
      undefined,
      400,
      "parameters.rest_endpoints",
    ],
    [
      "create: a rest endpoint that is no URL",
      "POST",
      "/job",
      job({}, { content_id: "c", rest_endpoints: ["not a url"] }),
      undefined,
      400,
      "parameters.rest_endpoints[0]",
    ],
    [
      "create: another client in the body",
      "POST",
      "/job",
      JSON.stringify({
        client: "beta",
        job: { workflow: "quick" },
        parameters: { content_id: "c" },
      }),
      undefined,
      400,
      "client",
    ],
    // Every family answers a body over the app's limit with 413 (body-limit.ts).
    ["create: a body over 1 MiB", "POST", "/job", huge, undefined, 413, "body"],
    ["create: parameters over 256 KiB", "POST", "/job", big, undefined, 400, "parameters"],
    ["create: no key", "POST", "/job", job({}), NO_AUTH, 401, "API key"],
    ["create: a wrong key", "POST", "/job", job({}), WRONG_KEY, 401, "not valid"],
    ["create: a key of another client", "POST", "/job", job({}), WRONG_CLIENT, 401, "not valid"],
    // PUT /jobs/<id>
    ["update: malformed JSON", "PUT", "/jobs/{target}", "{", undefined, 400, "body"],
    [
      "update: nothing to change",
      "PUT",
      "/jobs/{target}",
      "{}",
      undefined,
      400,
      "nothing to update",
    ],
    [
      "update: an unknown field",
      "PUT",
      "/jobs/{target}",
      '{"workflow":"gated"}',
      undefined,
      400,
      "workflow",
    ],
    [
      "update: an unknown field beside a good one",
      "PUT",
      "/jobs/{target}",
      '{"priority":3,"colour":"red"}',
      undefined,
      400,
      "colour",
    ],
    [
      "update: queue_state started",
      "PUT",
      "/jobs/{target}",
      '{"queue_state":"started"}',
      undefined,
      400,
      "queue_state",
    ],
    [
      "update: queue_state an id",
      "PUT",
      "/jobs/{target}",
      '{"queue_state":6}',
      undefined,
      400,
      "queue_state",
    ],
    [
      "update: run_at without T and ms",
      "PUT",
      "/jobs/{target}",
      '{"run_at":"2030-09-09 14:30:00"}',
      undefined,
      400,
      "run_at",
    ],
    [
      "update: run_at with an offset",
      "PUT",
      "/jobs/{target}",
      '{"run_at":"2030-09-09T14:30:00.000+02:00"}',
      undefined,
      400,
      "run_at",
    ],
    [
      "update: hour 24",
      "PUT",
      "/jobs/{target}",
      '{"run_at":"2030-09-09T24:00:00.000"}',
      undefined,
      400,
      "run_at",
    ],
    [
      "update: a word for priority",
      "PUT",
      "/jobs/{target}",
      '{"priority":"urgent"}',
      undefined,
      400,
      "priority",
    ],
    [
      "update: priority true",
      "PUT",
      "/jobs/{target}",
      '{"priority":true}',
      undefined,
      400,
      "priority",
    ],
    [
      "update: a huge priority",
      "PUT",
      "/jobs/{target}",
      '{"priority":1e12}',
      undefined,
      400,
      "priority",
    ],
    [
      "update: semaphore_url a number",
      "PUT",
      "/jobs/{target}",
      '{"semaphore_url":5}',
      undefined,
      400,
      "semaphore_url",
    ],
    [
      "update: both spellings of semaphore_url",
      "PUT",
      "/jobs/{target}",
      '{"semaphore_url":"http://a/","sempahore_url":"http://b/"}',
      undefined,
      400,
      "semaphore_url",
    ],
    [
      "update: a good change and a bad one",
      "PUT",
      "/jobs/{target}",
      '{"priority":3,"run_at":"soon"}',
      undefined,
      400,
      "run_at",
    ],
    [
      "update: another client in the body",
      "PUT",
      "/jobs/{target}",
      '{"client":"beta","priority":3}',
      undefined,
      400,
      "client",
    ],
    ["update: an id that is no number", "PUT", "/jobs/abc", '{"priority":3}', undefined, 400, "id"],
    ["update: id 0", "PUT", "/jobs/0", '{"priority":3}', undefined, 400, "id"],
    [
      "update: an unknown job",
      "PUT",
      "/jobs/999999",
      '{"priority":3}',
      undefined,
      400,
      "job 999999 not found",
    ],
    ["update: a body over 1 MiB", "PUT", "/jobs/{target}", huge, undefined, 413, "body"],
    ["update: no key", "PUT", "/jobs/{target}", '{"priority":3}', NO_AUTH, 401, "API key"],
    // GET /jobs/<id>, rerun, logs
    ["get: an id that is no number", "GET", "/jobs/abc", undefined, undefined, 400, "id"],
    ["get: a negative id", "GET", "/jobs/-1", undefined, undefined, 400, "id"],
    [
      "get: an unknown job",
      "GET",
      "/jobs/999999",
      undefined,
      undefined,
      400,
      "job 999999 not found",
    ],
    ["get: no key", "GET", "/jobs/{target}", undefined, NO_AUTH, 401, "API key"],
    ["rerun: an id that is no number", "POST", "/jobs/x/rerun", undefined, undefined, 400, "id"],
    [
      "rerun: an unknown job",
      "POST",
      "/jobs/999999/rerun",
      undefined,
      undefined,
      400,
      "job 999999 not found",
    ],
    ["rerun: no key", "POST", "/jobs/{target}/rerun", undefined, NO_AUTH, 401, "API key"],
    ["logs: an id that is no number", "GET", "/logs/1.5", undefined, undefined, 400, "job_id"],
    [
      "logs: an unknown job",
      "GET",
      "/logs/999999",
      undefined,
      undefined,
      400,
      "job 999999 not found",
    ],
    ["logs: no key", "GET", "/logs/{target}", undefined, NO_AUTH, 401, "API key"],
    // GET /jobs
    ["list: limit 0", "GET", "/jobs?limit=0", undefined, undefined, 400, "limit"],
    ["list: limit a word", "GET", "/jobs?limit=ten", undefined, undefined, 400, "limit"],
    ["list: limit over 1000", "GET", "/jobs?limit=1001", undefined, undefined, 400, "limit"],
    ["list: limit twice", "GET", "/jobs?limit=1&limit=2", undefined, undefined, 400, "limit"],
    [
      "list: order_by no property",
      "GET",
      "/jobs?order_by=colour",
      undefined,
      undefined,
      400,
      "order_by",
    ],
    ["list: asc yes", "GET", "/jobs?asc=yes", undefined, undefined, 400, "asc"],
    ["list: state 7", "GET", "/jobs?state=7", undefined, undefined, 400, "state"],
    ["list: state a name", "GET", "/jobs?state=queued", undefined, undefined, 400, "state"],
    ["list: from month 13", "GET", "/jobs?from=2020-13-01", undefined, undefined, 400, "from"],
    ["list: to a word", "GET", "/jobs?to=yesterday", undefined, undefined, 400, "to"],
    [
      "list: from after to",
      "GET",
      "/jobs?from=2030-01-02&to=2030-01-01",
      undefined,
      undefined,
      400,
      "from",
    ],
    [
      "list: failed maybe",
      "GET",
      "/jobs?state=2&failed=maybe",
      undefined,
      undefined,
      400,
      "failed",
    ],
    [
      "list: a job id that is no number",
      "GET",
      "/jobs?job_ids=1,a",
      undefined,
      undefined,
      400,
      "job_ids",
    ],
    ["list: persist 2", "GET", "/jobs?persist=2", undefined, undefined, 400, "persist"],
    ["list: an unknown parameter", "GET", "/jobs?colour=red", undefined, undefined, 400, "colour"],
    // PUT /scheduler
    ["scheduler: malformed JSON", "PUT", "/scheduler", "{", undefined, 400, "body"],
    ["scheduler: no schedule", "PUT", "/scheduler", '{"active":true}', undefined, 400, "schedule"],
    [
      "scheduler: an unknown schedule",
      "PUT",
      "/scheduler",
      '{"schedule":"nope","active":false}',
      undefined,
      400,
      "schedule",
    ],
    [
      "scheduler: active yes",
      "PUT",
      "/scheduler",
      '{"schedule":"queue_scheduled_jobs","active":"yes"}',
      undefined,
      400,
      "active",
    ],
    [
      "scheduler: an unknown field",
      "PUT",
      "/scheduler",
      '{"schedule":"queue_scheduled_jobs","active":false,"every":5}',
      undefined,
      400,
      "every",
    ],
    [
      "scheduler: no key",
      "PUT",
      "/scheduler",
      '{"schedule":"queue_scheduled_jobs","active":false}',
      NO_AUTH,
      401,
      "API key",
    ],
    // POST /settings
    [
      "settings: malformed JSON",
      "POST",
      "/settings",
      "name=max_jobs&setting=4",
      undefined,
      400,
      "body",
    ],
    ["settings: no name", "POST", "/settings", '{"setting":"4"}', undefined, 400, "name"],
    [
      "settings: a bad name",
      "POST",
      "/settings",
      '{"name":"max jobs!","setting":"4"}',
      undefined,
      400,
      "name",
    ],
    [
      "settings: max_jobs not a number",
      "POST",
      "/settings",
      '{"name":"max_jobs","setting":"many"}',
      undefined,
      400,
      "setting",
    ],
    [
      "settings: max_jobs 0",
      "POST",
      "/settings",
      '{"name":"max_jobs","setting":"0"}',
      undefined,
      400,
      "setting",
    ],
    [
      "settings: setting an object",
      "POST",
      "/settings",
      '{"name":"x","setting":{}}',
      undefined,
      400,
      "setting",
    ],
    [
      "settings: an unknown field",
      "POST",
      "/settings",
      '{"name":"x","setting":"1","value":2}',
      undefined,
      400,
      "value",
    ],
    [
      "settings: no key",
      "POST",
      "/settings",
      '{"name":"max_jobs","setting":"4"}',
      NO_AUTH,
      401,
      "API key",
    ],
    // PUT /workflows/<name>
    ["workflow: malformed JSON", "PUT", "/workflows/mine", "{", undefined, 400, "body"],
    [
      "workflow: another name in the body",
      "PUT",
      "/workflows/mine",
      '{"name":"theirs","steps":[{"name":"a","action":"exec","params":{"command":"true"}}]}',
      undefined,
      400,
      "name",
    ],
    ["workflow: no steps", "PUT", "/workflows/mine", "{}", undefined, 400, "steps"],
    [
      "workflow: a step with both action and executor",
      "PUT",
      "/workflows/mine",
      '{"steps":[{"name":"a","action":"exec","executor":"x"}]}',
      undefined,
      400,
      "action",
    ],
    [
      "workflow: an unknown field",
      "PUT",
      "/workflows/mine",
      '{"steps":[{"name":"a","action":"exec","params":{"command":"true"}}],"colour":1}',
      undefined,
      400,
      "colour",
    ],
    [
      "workflow: a bad name",
      "PUT",
      "/workflows/no%20spaces",
      '{"steps":[{"name":"a","action":"exec","params":{"command":"true"}}]}',
      undefined,
      400,
      "name",
    ],
    [
      "workflow: one shipped as a file",
      "PUT",
      "/workflows/quick",
      '{"steps":[{"name":"a","action":"exec","params":{"command":"true"}}]}',
      undefined,
      400,
      "quick",
    ],
    ["workflow: no key", "PUT", "/workflows/mine", '{"steps":[]}', NO_AUTH, 401, "API key"],
    // the rest need a key too
    ["health: no key", "GET", "/health", undefined, NO_AUTH, 401, "API key"],
    ["dashboard: a wrong key", "GET", "/dashboard", undefined, WRONG_KEY, 401, "not valid"],
    ["schedules: no key", "GET", "/schedules", undefined, NO_AUTH, 401, "API key"],
    ["settings list: no key", "GET", "/settings", undefined, NO_AUTH, 401, "API key"],
    ["workflows: no key", "GET", "/workflows", undefined, NO_AUTH, 401, "API key"],
  ];

  it.each(rows)("%s", async (_, method, rawPath, raw, auth, status, names) => {
    const path = rawPath.replace("{target}", String(target));
    const before = await everything(target);
    const answer = await call(method, path, { raw, auth });
    expect(answer.status, answer.text).toBe(status);
    expect(answer.type).toContain("application/json");
    expect(answer.json.error).toEqual(expect.any(String));
    expect(answer.json.error).toContain(names);
    // The seed's shapes: POST /job and PUT /jobs/<id> answer 400 with the id.
    const id = /^\/jobs\/(\d+)$/.exec(path)?.[1];
    if (status === 401) expect(Object.keys(answer.json)).toEqual(["error"]);
    else if (method === "POST" && path === "/job") {
      expect(answer.json).toEqual({ id: null, error: answer.json.error });
    } else if (method === "PUT" && path.startsWith("/jobs/")) {
      expect(answer.json).toEqual({
        id: id === undefined || id === "0" ? null : Number(id),
        error: answer.json.error,
      });
    } else expect(Object.keys(answer.json)).toEqual(["error"]);
    expect(await everything(target)).toBe(before);
  });

  it("answers routes it does not have with 404 {error}, after the key", async () => {
    for (const [method, path] of [
      ["GET", "/jobs/1/extra"],
      ["DELETE", "/jobs/1"],
      ["GET", "/job"],
      ["POST", "/jobs"],
      ["DELETE", "/settings"],
      ["POST", "/logs/1"],
    ] as const) {
      const answer = await call(method, path);
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.json).toEqual({ error: expect.stringContaining("no such route") });
      expect((await call(method, path, { auth: null })).status).toBe(401);
    }
  });

  it("answers an unexpected failure of POST /job with the seed's bare string, others with 500 {error}", async () => {
    const broken = new Proxy(t.engine.jobs as JobsApi, {
      get: (target, name, receiver) => {
        if (name === "create" || name === "list") {
          return () => Promise.reject(new Error("the disk is on fire"));
        }
        if (name === "health") return () => Promise.reject(new Error("no store"));
        const value = Reflect.get(target, name, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const failing = createApp(t.engine, { log: silentLogger, apiKeys, jobs: broken });
    const createAnswer = await call("POST", "/job", { raw: job({}) }, failing);
    expect(createAnswer.status).toBe(500);
    expect(createAnswer.text).toBe("Unable to create job request");
    expect(createAnswer.type).toContain("text/plain");
    const listAnswer = await call("GET", "/jobs", {}, failing);
    expect(listAnswer.status).toBe(500);
    expect(listAnswer.json).toEqual({ error: "internal error" });
    const health = await call("GET", "/health", {}, failing);
    expect(health.status).toBe(500);
    expect(health.json).toEqual({ error: "health check failed: no store" });
    // Bad input is still 400 there: refused before the engine is asked.
    expect((await call("POST", "/job", { raw: "{" }, failing)).status).toBe(400);
  });
});

describe("a job's life over HTTP", () => {
  it("creates, reads, lists, changes, reruns and logs jobs", async () => {
    // Held started until its gate opens.
    const held = await created("gated", "life-held");
    const read = await call("GET", `/jobs/${held}`);
    expect(read.status).toBe(200);
    expect(read.json).toEqual({
      id: held,
      client: "alpha",
      workflow: "gated",
      priority: expect.any(Number),
      position: 1,
      top_of_queue: false,
      parameters: { content_id: "life-held" },
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
      queue_state: expect.stringMatching(/^(queued|started)$/),
      failed: false,
      run_at: expect.stringMatching(ISO),
    });
    await settle(held, "started");

    // run_at in the future: scheduled, with the priority asked for.
    const later = await created("quick", "life-later", { run_at: FUTURE, priority: 3 });
    expect((await call("GET", `/jobs/${later}`)).json).toMatchObject({
      queue_state: "scheduled",
      priority: 3,
      run_at: "2099-01-01T00:00:00.000Z",
    });
    // Done at once.
    const quick = await created("quick", "life-quick");
    await settle(quick, "completed");
    // Another client's, to filter out.
    const theirs = await created("quick", "life-theirs", {}, AS_BETA);

    // ---- GET /jobs: no key needed; filters -------------------------------------------
    const ids = async (query: string, auth: Record<string, string> | null = null) => {
      const answer = await call("GET", `/jobs${query}`, { auth });
      expect(answer.status, answer.text).toBe(200);
      return (answer.json as { id: number }[]).map((j) => j.id);
    };
    const all = await ids("?limit=1000");
    expect(all).toEqual(expect.arrayContaining([held, later, quick, theirs]));
    // Newest first by default, at most 10.
    expect(all).toEqual([...all].sort((a, b) => b - a));
    expect((await ids("")).length).toBe(Math.min(10, all.length));
    expect(await ids("?limit=2")).toEqual(all.slice(0, 2));
    expect((await ids("?limit=1000&order_by=id&asc=1")).slice(-4)).toEqual([
      held,
      later,
      quick,
      theirs,
    ]);
    expect(await ids(`?job_ids=${held},${quick}`)).toEqual([quick, held]);
    expect(await ids("?client=beta&limit=1000")).not.toContain(held);
    expect(await ids("?client=beta&limit=1000")).toContain(theirs);
    // With a key it is still every client's (the seed's GET /jobs needs none).
    expect(await ids("?limit=1000", AS_BETA)).toContain(held);
    expect(await ids("?search=life-quick")).toEqual([quick]);
    expect(await ids(`?state=5&job_ids=${held},${later},${quick}`)).toEqual([later]);
    expect(await ids(`?state=1&job_ids=${held},${later},${quick}`)).toEqual([held]);
    expect(await ids(`?state=2&job_ids=${held},${later},${quick}`)).toEqual([quick]);
    expect(await ids(`?state=2&failed=1&job_ids=${quick}`)).toEqual([]);
    expect(await ids(`?state=2&failed=0&job_ids=${quick}`)).toEqual([quick]);
    // failed only counts with state=2.
    expect(await ids(`?failed=1&job_ids=${held},${quick}`)).toEqual([quick, held]);
    expect(await ids(`?state=1,5&job_ids=${held},${later},${quick}`)).toEqual([later, held]);
    const today = new Date().toISOString().slice(0, 10);
    expect(await ids(`?from=${today}&to=${today}&job_ids=${held}`)).toEqual([held]);
    expect(await ids(`?from=2098-01-01&job_ids=${held}`)).toEqual([]);
    expect(await ids(`?to=2000-01-01T00:00:00&job_ids=${held}`)).toEqual([]);
    expect(await ids(`?persist=1&job_ids=${held}`)).toEqual([held]);
    const listed = await call("GET", `/jobs?job_ids=${quick}`, { auth: null });
    expect(listed.json[0]).toEqual((await call("GET", `/jobs/${quick}`)).json);

    // ---- PUT /jobs/<id> ---------------------------------------------------------------
    const pause = await call("PUT", `/jobs/${later}`, { body: { queue_state: "paused" } });
    expect(pause.status, pause.text).toBe(200);
    expect(pause.json).toEqual({ id: later, result: "Performed updates: queue_state to paused" });
    expect(await jobState(later)).toBe("paused");
    // The seed's own sample: client, priority as text, run_at without a zone.
    const sample = await call("PUT", `/jobs/${later}`, {
      body: { client: "alpha", priority: "2", run_at: "2098-09-09T14:30:00.000" },
    });
    expect(sample.status, sample.text).toBe(200);
    expect(sample.json.result).toMatch(/^Performed updates: /);
    expect(sample.json.result).toContain("priority to 2");
    expect(sample.json.result).toContain("run_at to 2098-09-09T14:30:00.000Z");
    expect((await call("GET", `/jobs/${later}`)).json).toMatchObject({
      priority: 2,
      run_at: "2098-09-09T14:30:00.000Z",
      queue_state: "paused",
    });
    // The seed's spelling of semaphore_url, then cleared.
    const gate = await call("PUT", `/jobs/${later}`, {
      body: { sempahore_url: "http://127.0.0.1:9/open" },
    });
    expect(gate.status, gate.text).toBe(200);
    expect(gate.json.result).toContain("semaphore_url");
    expect((await t.engine.jobs.find("alpha", later))?.data.semaphoreUrl).toBe(
      "http://127.0.0.1:9/open",
    );
    expect((await call("PUT", `/jobs/${later}`, { body: { semaphore_url: null } })).status).toBe(
      200,
    );
    expect((await t.engine.jobs.find("alpha", later))?.data.semaphoreUrl).toBeNull();
    // Unpause: queued, and then it runs (its run_at is far off, but queued is queued).
    const unpause = await call("PUT", `/jobs/${later}`, { body: { queue_state: "queued" } });
    expect(unpause.status, unpause.text).toBe(200);
    expect(unpause.json.result).toBe("Performed updates: queue_state to queued");
    expect(await jobState(later)).not.toBe("paused");
    // A finished job refuses changes, in the PUT shape.
    const late = await call("PUT", `/jobs/${quick}`, { body: { queue_state: "paused" } });
    expect(late.status).toBe(400);
    expect(late.json).toEqual({ id: quick, error: expect.any(String) });
    expect(await jobState(quick)).toBe("completed");

    // ---- rerun --------------------------------------------------------------------------
    const original = await created("gated", "life-rerun", { run_at: FUTURE, priority: 4 });
    const rerun = await call("POST", `/jobs/${original}/rerun`);
    expect(rerun.status, rerun.text).toBe(200);
    expect(rerun.json).toEqual({ id: expect.any(Number), result: "accepted" });
    const copy = rerun.json.id as number;
    expect(copy).not.toBe(original);
    expect(await jobState(original)).toBe("broken");
    expect((await call("GET", `/jobs/${copy}`)).json).toMatchObject({
      workflow: "gated",
      priority: 4,
      parameters: { content_id: "life-rerun" },
    });
    // broken is terminal.
    const terminal = await call("PUT", `/jobs/${original}`, { body: { queue_state: "queued" } });
    expect(terminal.status).toBe(400);
    expect(terminal.json.error).toMatch(/broken: it cannot change/);

    // Rerunning a started job breaks it and stops its running step.
    const running = await created("gated", "life-running");
    await settle(running, "started");
    await until(async () => {
      const view = await t.engine.jobs.find("alpha", running);
      return view?.data.taskId !== null ? true : undefined;
    });
    const taskId = (await t.engine.jobs.find("alpha", running))?.data.taskId as number;
    const again = await call("POST", `/jobs/${running}/rerun`);
    expect(again.status, again.text).toBe(200);
    expect(await jobState(running)).toBe("broken");
    await until(async () =>
      (await t.engine.get("alpha", taskId)).status === "cancelled" ? true : undefined,
    );
    // Its copy runs once the gate opens.
    open("life-running");
    await settle(again.json.id, "completed");

    // ---- logs ---------------------------------------------------------------------------
    const logs = await call("GET", `/logs/${quick}`);
    expect(logs.status, logs.text).toBe(200);
    const entries = logs.json as Record<string, unknown>[];
    for (const entry of entries) {
      expect(entry).toEqual({
        id: expect.any(Number),
        job_id: quick,
        severity: expect.any(Number),
        severity_description: expect.stringMatching(/^(DEBUG|INFO|WARN|ERROR|FATAL|UNKNOWN)$/),
        progname: expect.stringMatching(/^(api|worker|controller|callback)$/),
        message: expect.any(String),
        created_at: expect.stringMatching(ISO),
        updated_at: entry.created_at,
        task_id: expect.any(Number),
        visible: true,
      });
    }
    const [first] = entries;
    expect(first).toMatchObject({
      progname: "api",
      task_id: 0,
      severity: 1,
      severity_description: "INFO",
    });
    const request = JSON.parse(first?.message as string);
    expect(request).toMatchObject({ path: "POST /job", payload: "job_created" });
    // Every header masked to its last 4 characters: the key never shows.
    expect(request.headers["api-key"]).toBe(`${"*".repeat(13)}0001`);
    expect(first?.message).not.toContain("key-of-alpha");
    // The steps' lines follow, with their task ids.
    await until(async () => {
      const lines = (await call("GET", `/logs/${quick}`)).json as { task_id: number }[];
      return lines.some((line) => line.task_id > 0) ? true : undefined;
    });
    const changes = (await call("GET", `/logs/${later}`)).json as { message: string }[];
    expect(changes.map((line) => line.message)).toContain(
      "Performed updates: queue_state to paused",
    );

    // ---- the dashboard ----------------------------------------------------------------------
    const dashboard = await call("GET", "/dashboard");
    expect(dashboard.status).toBe(200);
    expect(dashboard.json).toMatchObject({ max_jobs: 50, priority_slots: 0, version: "0.1.0" });
    const idsIn = (list: string) => (dashboard.json[list] as { id: number }[]).map((j) => j.id);
    expect(idsIn("started")).toContain(held);
    expect(dashboard.json.started[0]).not.toHaveProperty("parameters");
    // The copy runs now (the original's run_at is not copied); the original is gone.
    expect([...idsIn("started"), ...idsIn("queued")]).toContain(copy);
    expect([...idsIn("started"), ...idsIn("queued"), ...idsIn("scheduled")]).not.toContain(
      original,
    );
    const scheduled = await created("quick", "life-scheduled", { run_at: FUTURE });
    expect(
      ((await call("GET", "/dashboard")).json.scheduled as { id: number }[]).map((j) => j.id),
    ).toContain(scheduled);

    open("life-held");
    open("life-rerun");
    await settle(held, "completed");
  });

  it("keeps each client to its own jobs (GET /jobs aside)", async () => {
    const mine = await created("gated", "tenancy", { run_at: FUTURE });
    const count = async () =>
      (await t.engine.jobs.list({ orderBy: "id", ascending: true, limit: 100_000 })).length;
    const before = JSON.stringify([await count(), await t.engine.jobs.find("alpha", mine)]);
    const asBeta = { auth: AS_BETA };
    const read = await call("GET", `/jobs/${mine}`, asBeta);
    expect(read.status).toBe(400);
    expect(read.json).toEqual({ error: `job ${mine} not found` });
    const change = await call("PUT", `/jobs/${mine}`, {
      ...asBeta,
      body: { queue_state: "broken" },
    });
    expect(change.status).toBe(400);
    expect(change.json).toEqual({ id: mine, error: `job ${mine} not found` });
    const rerun = await call("POST", `/jobs/${mine}/rerun`, asBeta);
    expect(rerun.status).toBe(400);
    expect(rerun.json).toEqual({ error: `job ${mine} not found` });
    const logs = await call("GET", `/logs/${mine}`, asBeta);
    expect(logs.status).toBe(400);
    expect(logs.json).toEqual({ error: `job ${mine} not found` });
    expect(JSON.stringify([await count(), await t.engine.jobs.find("alpha", mine)])).toBe(before);
    expect(await jobState(mine)).toBe("scheduled");
  });
});

describe("health, schedules, settings and workflows", () => {
  it("reports health in the seed's shape", async () => {
    const health = await call("GET", "/health");
    expect(health.status, health.text).toBe(200);
    expect(health.json).toMatchObject({
      version: "0.1.0",
      databases: { sqlite: "OK", embedded: "OK" },
      queues: expect.objectContaining({
        work: {
          workers: expect.any(Number),
          working: expect.any(Number),
          pending: expect.any(Number),
        },
        scheduler: expect.any(Object),
        controller: expect.any(Object),
        callback: expect.any(Object),
      }),
      tasks: {
        failed: expect.any(Number),
        pending: expect.any(Number),
        processed: expect.any(Number),
      },
      jobs: expect.objectContaining({
        completed: expect.any(Number),
        failed: 0,
        max_jobs: 50,
        priority_slots: 0,
      }),
    });
    for (const status of Object.values(health.json.databases)) expect(status).toBe("OK");
    for (const state of [
      "completed",
      "failed",
      "pending",
      "broken",
      "queued",
      "started",
      "scheduled",
      "paused",
    ]) {
      expect(health.json.jobs[state], state).toEqual(expect.any(Number));
    }
  });

  it("lists, deactivates and activates the scheduler's schedules", async () => {
    const listed = await call("GET", "/schedules");
    expect(listed.status).toBe(200);
    expect(listed.json).toEqual({
      result: "ok",
      schedules: {
        queue_scheduled_jobs: {
          class: "QueueJobs",
          every: [60, { first_in: expect.any(Number) }],
          queue: "scheduler",
          description: expect.any(String),
        },
      },
    });
    const off = await call("PUT", "/scheduler", {
      body: { schedule: "queue_scheduled_jobs", active: false },
    });
    expect(off.status, off.text).toBe(200);
    expect(off.json).toEqual({ result: "ok", schedules: [] });
    expect((await call("GET", "/schedules")).json).toEqual({ result: "ok", schedules: {} });
    const on = await call("PUT", "/scheduler", {
      body: { schedule: "queue_scheduled_jobs", active: true },
    });
    expect(on.json).toEqual({ result: "ok", schedules: ["queue_scheduled_jobs"] });
  });

  it("creates and updates settings, one at a time", async () => {
    const before = await call("GET", "/settings");
    expect(before.json).toEqual({
      result: "ok",
      settings: expect.objectContaining({
        max_jobs: 50,
        priority_slots: 0,
        priority_threshold: 5,
        schedule_interval: 60,
        retry_delay: 5,
        retry_limit: 3,
      }),
    });
    const updated = await call("POST", "/settings", { body: { name: "max_jobs", setting: "40" } });
    expect(updated.status, updated.text).toBe(200);
    expect(updated.json).toEqual({ result: "ok", message: "max_jobs setting updated" });
    const fresh = await call("POST", "/settings", { body: { name: "colour", setting: "blue" } });
    expect(fresh.json).toEqual({ result: "ok", message: "colour setting created" });
    // A number is taken as its text.
    await call("POST", "/settings", { body: { name: "max_jobs", setting: 50 } });
    expect((await call("GET", "/settings")).json.settings).toMatchObject({
      max_jobs: 50,
      colour: "blue",
    });
    expect((await call("GET", "/dashboard")).json.max_jobs).toBe(50);
  });

  it("lists workflows and takes new ones, the path naming them", async () => {
    const listed = await call("GET", "/workflows");
    expect(listed.status).toBe(200);
    expect(listed.json.map((w: { name: string }) => w.name)).toEqual(
      expect.arrayContaining(["gated", "quick"]),
    );
    expect(listed.json.find((w: { name: string }) => w.name === "quick")).toMatchObject({
      source: "file",
      steps: [{ name: "say", action: "exec" }],
    });
    const put = await call("PUT", "/workflows/echoer", {
      body: {
        description: "says the content id",
        steps: [
          {
            name: "say",
            action: "exec",
            params: { command: 'echo "$CID"', env: { CID: "{{content_id}}" } },
          },
        ],
      },
    });
    expect(put.status, put.text).toBe(200);
    expect(put.json).toMatchObject({
      name: "echoer",
      source: "api",
      description: "says the content id",
    });
    const id = await created("echoer", "via-put");
    await settle(id, "completed");
    // The same name in the body is fine; a replacement is used from then on.
    const again = await call("PUT", "/workflows/echoer", {
      body: {
        name: "echoer",
        steps: [{ name: "say", action: "exec", params: { command: "true" } }],
      },
    });
    expect(again.status, again.text).toBe(200);
    expect(again.json.description).toBeNull();
  });
});
