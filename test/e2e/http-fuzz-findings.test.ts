/**
 * What the HTTP fuzzer (http-fuzz.test.ts) found, each pinned as it was found: a 500
 * or a wrongly shaped answer before its fix, a family-shaped refusal now. Through
 * `app.handle`: a port adds nothing to these.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeys, createApp } from "../../src/api";
import { nestsDeeperThan } from "../../src/api/json-depth";
import { silentLogger } from "../../src/log";
import { Inspection } from "../../src/runtime/inspection";
import { SqliteStore } from "../../src/store/sqlite-store";
import { hasFamilyShape } from "../fuzz/family-shape";
import { startTestEngine, TENANT, type TestEngine, tempDir } from "../helpers/engine";

let t: TestEngine;
let app: ReturnType<typeof createApp>;
const apiKeys = new ApiKeys([{ client: TENANT, key: "key-of-test" }]);
const AS_TEST = { authorization: "Bearer key-of-test" };

beforeAll(async () => {
  const dir = tempDir("fw-fuzz-findings-");
  const store = new SqliteStore(join(dir, "fleetwork.db"));
  t = await startTestEngine({ dir, store });
  app = createApp(t.engine, {
    log: silentLogger,
    apiKeys,
    debug: new Inspection(t.engine, store),
    periodic: t.engine.periodic,
    executor: t.engine.executor,
    jobs: t.engine.jobs,
  });
});
afterAll(() => t.stop());

async function call(method: string, path: string, body?: string) {
  const url = `http://localhost${path}`;
  const response = await app.handle(
    new Request(url, {
      method,
      headers: body === undefined ? AS_TEST : { ...AS_TEST, "content-type": "application/json" },
      body,
    }),
  );
  const text = await response.text();
  return { status: response.status, text, shaped: hasFamilyShape(url, text).ok };
}

const nested = (depth: number) => `{"a":${"[".repeat(depth)}${"]".repeat(depth)}}`;

describe("a body nested deep", () => {
  // Elysia pretty-prints a refused body into its validation error: quadratic in the
  // depth. 10,000 deep took 1.6 s of the one thread; 100,000 deep overflowed the stack.
  it.each([
    ["POST", "/tasks"],
    ["POST", "/tasks/1/pause"],
    ["POST", "/tasks/1/conclude"],
    ["POST", "/api/v1/tasks/create"],
  ])("is refused with 400 in the family's shape on %s %s, not a 500", async (method, path) => {
    for (const depth of [100, 100_000]) {
      const answer = await call(method, path, nested(depth));
      expect(answer.status, answer.text).toBe(400);
      expect(answer.shaped, answer.text).toBe(true);
      expect(answer.text).toMatch(/nest at most 64 deep/);
    }
  });

  it("is measured without recursion, so the check itself cannot overflow", () => {
    expect(nestsDeeperThan(JSON.parse(nested(1_000_000)), 64)).toBe(true);
    expect(nestsDeeperThan({ a: [{ b: [1, 2, { c: null }] }] }, 64)).toBe(false);
    expect(nestsDeeperThan(JSON.parse(nested(63)), 64)).toBe(false);
    expect(nestsDeeperThan(JSON.parse(nested(64)), 64)).toBe(true);
  });
});

describe("an executeAt past what a Date holds", () => {
  // It was stored, answered 500, and then broke every listing of the tenant's tasks.
  it.each([1e21, 8.64e15 + 1, Number.MAX_SAFE_INTEGER])(
    "(%d) is refused with 400 naming it, and creates nothing",
    async (executeAt) => {
      const before = (await call("GET", "/tasks?limit=1000")).text;
      const answer = await call(
        "POST",
        "/tasks",
        JSON.stringify({ actions: [{ type: "noop" }], executeAt }),
      );
      expect(answer.status, answer.text).toBe(400);
      expect(JSON.parse(answer.text).error.field).toBe("executeAt");
      const after = await call("GET", "/tasks?limit=1000");
      expect(after.status).toBe(200);
      expect(after.text).toBe(before);
    },
  );

  it("the last time a Date holds is taken", async () => {
    const answer = await call(
      "POST",
      "/tasks",
      JSON.stringify({ actions: [{ type: "noop" }], executeAt: 8.64e15 }),
    );
    expect(answer.status, answer.text).toBe(201);
    expect(JSON.parse(answer.text).executeAt).toBe("+275760-09-13T00:00:00.000Z");
    expect((await call("GET", "/tasks")).status).toBe(200);
  });
});

describe("a status named like an Object property", () => {
  // TASK_STATE_PATHS["__proto__"] was Object.prototype, which the store's query choked on.
  it.each(["__proto__", "toString", "constructor", "hasOwnProperty"])(
    "%s lists no task instead of a 500",
    async (status) => {
      const list = await call("GET", `/tasks?status=${status}`);
      expect(list).toMatchObject({ status: 200, text: "[]" });
      const actors = await call("GET", `/debug/actors?kind=task&state=${status}`);
      expect(actors.status, actors.text).toBe(200);
      expect(JSON.parse(actors.text).items).toEqual([]);
    },
  );
});

describe("a path under a family's prefix that none of its routes matches", () => {
  // Elysia's own bare "NOT_FOUND" text answered these: no family's handler ran.
  it.each([
    ["GET", "/api/v1/"],
    ["DELETE", "/api/v1/nothing"],
    ["GET", "/v3/task"],
    ["POST", "/v3/applicationInstance/x/y/z"],
    ["PUT", "/health/x"],
    ["GET", "/settings/x"],
    ["GET", "/logs/"],
    ["PATCH", "/rpcx"],
    ["GET", "/xina/"],
  ])("%s %s is a 404 in the family's shape", async (method, path) => {
    const answer = await call(method, path);
    expect(answer.status, answer.text).toBe(404);
    expect(answer.shaped, answer.text).toBe(true);
  });
});
