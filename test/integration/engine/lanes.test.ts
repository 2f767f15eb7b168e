import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, TENANT, type TestEngine } from "../../helpers/engine";

describe("a lane runs its tasks one at a time in (priority, id) order", () => {
  let t: TestEngine;
  beforeAll(async () => {
    t = await startTestEngine();
  });
  afterAll(() => t.stop());

  it("never overlaps and honours priority", async () => {
    const log = join(t.dir, "lane.log");
    const step = (name: string) => ({
      type: "exec",
      params: { command: `echo start ${name} >> ${log}; sleep 0.1; echo end ${name} >> ${log}` },
    });
    // The lane is paused first so all three are queued before any starts.
    await t.engine.pauseLane(TENANT, "deploy");
    const a = await t.engine.submit({
      tenant: TENANT,
      lane: "deploy",
      priority: 5,
      actions: [step("a")],
    });
    const b = await t.engine.submit({
      tenant: TENANT,
      lane: "deploy",
      priority: 1,
      actions: [step("b")],
    });
    const c = await t.engine.submit({
      tenant: TENANT,
      lane: "deploy",
      priority: 5,
      actions: [step("c")],
    });
    expect((await t.engine.get(TENANT, a.id)).status).toBe("ready");
    await t.engine.resumeLane(TENANT, "deploy", false);
    await Promise.all([a, b, c].map((task) => t.waitFor(task.id, ["done"])));
    expect(readFileSync(log, "utf8").trim().split("\n")).toEqual([
      "start b",
      "end b",
      "start a",
      "end a",
      "start c",
      "end c",
    ]);
  });

  it("keeps queued tasks waiting while paused, without touching the running one", async () => {
    const running = await t.engine.submit({
      tenant: TENANT,
      lane: "ops",
      actions: [{ type: "exec", params: { command: "sleep 0.3" } }],
    });
    await t.waitFor(running.id, ["running"]);
    await t.engine.pauseLane(TENANT, "ops");
    const queued = await t.engine.submit({
      tenant: TENANT,
      lane: "ops",
      actions: [{ type: "noop" }],
    });
    await t.waitFor(running.id, ["done"]);
    expect((await t.engine.get(TENANT, queued.id)).status).toBe("ready");
    await t.engine.resumeLane(TENANT, "ops", false);
    await t.waitFor(queued.id, ["done"]);
  });

  it("lets a cancelled task free its lane for the next", async () => {
    const first = await t.engine.submit({
      tenant: TENANT,
      lane: "free",
      actions: [{ type: "exec", params: { command: "sleep 30" } }],
    });
    const second = await t.engine.submit({
      tenant: TENANT,
      lane: "free",
      actions: [{ type: "noop" }],
    });
    await t.waitFor(first.id, ["running"]);
    expect((await t.engine.get(TENANT, second.id)).status).toBe("ready");
    await t.engine.cancel(TENANT, first.id);
    await t.waitFor(second.id, ["done"]);
  });
});

describe("a paused task blocks its lane", () => {
  it("even when it was paused before it was due", async () => {
    const t = await startTestEngine();
    try {
      const later = await t.engine.submit({
        tenant: TENANT,
        lane: "instance-7",
        actions: [{ type: "noop" }],
        executeAt: Date.now() + 3_600_000,
      });
      const paused = await t.engine.pause(TENANT, later.id);
      expect(paused.state).toBe("paused.holding");
      const next = await t.engine.submit({
        tenant: TENANT,
        lane: "instance-7",
        actions: [{ type: "noop" }],
      });
      await t.engine.flush();
      // The paused task is first in the lane and holds it: the next one waits.
      expect((await t.engine.get(TENANT, next.id)).status).toBe("ready");
      await t.engine.cancel(TENANT, later.id);
      await t.waitFor(next.id, ["done"]);
    } finally {
      await t.stop();
    }
  });
});

describe("a shared lane", () => {
  it("runs one task at a time across tenants", async () => {
    const t = await startTestEngine();
    try {
      const log = join(t.dir, "shared.log");
      const step = (name: string) => ({
        type: "exec",
        params: { command: `echo start ${name} >> ${log}; sleep 0.1; echo end ${name} >> ${log}` },
      });
      const a = await t.engine.submit({
        tenant: TENANT,
        lane: "i-game-1",
        sharedLane: true,
        actions: [step("a")],
      });
      const b = await t.engine.submit({
        tenant: "other-client",
        lane: "i-game-1",
        sharedLane: true,
        actions: [step("b")],
      });
      await t.waitFor(a.id, ["done"]);
      const deadline = Date.now() + 5_000;
      while ((await t.engine.get("other-client", b.id)).status !== "done") {
        if (Date.now() > deadline) throw new Error("b did not finish");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(readFileSync(log, "utf8").trim().split("\n")).toEqual([
        "start a",
        "end a",
        "start b",
        "end b",
      ]);
    } finally {
      await t.stop();
    }
  });
});
