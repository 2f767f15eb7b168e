/**
 * The visualizer's JSON (`/debug/machines`, `/debug/actors`) over app.handle against a
 * real engine: every kind's machine as a graph, paged lists with filters, one actor's
 * state, accepted commands and history; a client sees only its own actors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeys, createApp } from "../../src/api";
import { silentLogger } from "../../src/log";
import { Inspection } from "../../src/runtime/inspection";
import { SqliteStore } from "../../src/store/sqlite-store";
import { startTestEngine, TENANT, type TestEngine } from "../helpers/engine";

const apiKeys = new ApiKeys([
  { client: TENANT, key: "key-a" },
  { client: "other", key: "key-b" },
]);
let t: TestEngine;
let store: SqliteStore;
let app: ReturnType<typeof createApp>;

async function get(path: string, key = "key-a") {
  const response = await app.handle(
    new Request(`http://localhost${path}`, { headers: { authorization: `Bearer ${key}` } }),
  );
  const text = await response.text();
  return {
    status: response.status,
    json: text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : text,
  };
}

beforeAll(async () => {
  const { join } = await import("node:path");
  const { tempDir } = await import("../helpers/engine");
  const dir = tempDir();
  store = new SqliteStore(join(dir, "fleetwork.db"));
  t = await startTestEngine({ dir, store });
  app = createApp(t.engine, { log: silentLogger, apiKeys, debug: new Inspection(t.engine, store) });
});
afterAll(() => t.stop());

describe("the visualizer's data", () => {
  it("draws every kind's machine from its definition", async () => {
    const machines = await get("/debug/machines");
    expect(machines.status).toBe(200);
    expect(Object.keys(machines.json).sort()).toEqual([
      "agent",
      "batch",
      "job",
      "lane",
      "schedule",
      "task",
    ]);
    const task = machines.json.task as { nodes: { id: string }[]; edges: { label: string }[] };
    expect(task.nodes.map((n) => n.id)).toEqual(
      expect.arrayContaining(["running.executing", "paused.suspended", "cancelling", "done"]),
    );
    expect(task.edges.map((e) => e.label)).toEqual(expect.arrayContaining(["PAUSE", "always"]));
  });

  it("lists a client's actors page by page, filtered, and shows one with its history", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await t.engine.submit({ tenant: TENANT, name: `n${i}`, actions: [{ type: "noop" }] })).id,
      );
    }
    const batch = await t.engine.submitBatch(TENANT, [{ actions: [{ type: "noop" }] }]);
    for (const id of ids) await t.waitFor(id, ["done"]);
    const page = await get("/debug/actors?kind=task&limit=2&offset=1");
    expect(page.status).toBe(200);
    expect(page.json.total).toBeGreaterThanOrEqual(6);
    expect(page.json.items).toHaveLength(2);
    const search = await get("/debug/actors?kind=task&q=n3");
    expect(search.json.items.map((a: { name: string }) => a.name)).toEqual(["n3"]);
    const done = await get("/debug/actors?kind=task&state=done");
    expect(done.json.items.every((a: { state: string }) => a.state === "done")).toBe(true);
    const batches = await get("/debug/actors?kind=batch");
    expect(batches.json.items.map((a: { id: string }) => a.id)).toContain(String(batch.batch.id));

    const detail = await get(`/debug/actors/task/${ids[0]}`);
    expect(detail.json).toMatchObject({ kind: "task", state: "done", accepts: [] });
    const states = (detail.json.history as { state: string }[]).map((h) => h.state);
    expect(states[0]).toBe("done");
    expect(states).toEqual(expect.arrayContaining(["ready", "dispatched"]));

    // A lane (thread) and its history.
    const laned = await t.engine.submit({
      tenant: TENANT,
      lane: "ci",
      actions: [{ type: "noop" }],
    });
    await t.waitFor(laned.id, ["done"]);
    const lanes = await get("/debug/actors?kind=lane");
    expect(lanes.json.items.map((a: { id: string }) => a.id)).toContain("ci");
    const lane = await get("/debug/actors/lane/ci");
    expect(lane.json).toMatchObject({ kind: "lane", id: "ci" });
    expect(lane.json.history.length).toBeGreaterThan(0);

    // Another client sees none of it.
    expect((await get("/debug/actors?kind=task", "key-b")).json.total).toBe(0);
    expect((await get(`/debug/actors/task/${ids[0]}`, "key-b")).status).toBe(404);
  });

  it("refuses a bad kind, a missing key, and bad paging", async () => {
    expect((await get("/debug/actors?kind=thread")).status).toBe(400);
    expect((await get("/debug/actors", "nope")).status).toBe(401);
    expect((await get("/debug/actors?limit=0")).status).toBe(400);
    expect((await get("/debug/machines", "nope")).status).toBe(401);
  });
});
