import { describe, expect, it } from "vitest";
import { startTestEngine, TENANT, tempDir } from "../../helpers/engine";

describe("clean deletes finished tasks for good; destroy cancels first", () => {
  it("refuses to clean a task that has not finished, and cleans one that has", async () => {
    const t = await startTestEngine();
    try {
      const running = await t.engine.submit({
        tenant: TENANT,
        actions: [{ type: "exec", params: { command: "sleep 30" } }],
      });
      await t.waitFor(running.id, ["running"]);
      await expect(t.engine.clean(TENANT, running.id)).rejects.toMatchObject({
        code: "ILLEGAL_TRANSITION",
      });
      await t.engine.destroy(TENANT, running.id);
      await expect(t.engine.get(TENANT, running.id)).rejects.toMatchObject({ code: "NOT_FOUND" });

      const quick = await t.engine.submit({ tenant: TENANT, actions: [{ type: "noop" }] });
      await t.waitFor(quick.id, ["done"]);
      await t.engine.clean(TENANT, quick.id);
      await expect(t.engine.get(TENANT, quick.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
      expect(await t.engine.list(TENANT, {})).toEqual([]);
    } finally {
      await t.stop();
    }
  });

  it("never hands out a cleaned task's id again, even after a restart", async () => {
    const dir = tempDir();
    const first = await startTestEngine({ dir });
    const task = await first.engine.submit({ tenant: TENANT, actions: [{ type: "noop" }] });
    await first.waitFor(task.id, ["done"]);
    await first.engine.clean(TENANT, task.id);
    await first.stop({ keepDir: true });

    const second = await startTestEngine({ dir });
    try {
      const next = await second.engine.submit({ tenant: TENANT, actions: [{ type: "noop" }] });
      expect(next.id).toBe(task.id + 1);
    } finally {
      await second.stop();
    }
  });
});

describe("finding tasks by ref id", () => {
  it("lists every task with one of the ref ids, and none for an empty list", async () => {
    const t = await startTestEngine();
    try {
      const a = await t.engine.submit({ tenant: TENANT, actions: [{ type: "noop" }], refId: "r1" });
      const b = await t.engine.submit({ tenant: TENANT, actions: [{ type: "noop" }], refId: "r1" });
      const c = await t.engine.submit({ tenant: TENANT, actions: [{ type: "noop" }], refId: "r2" });
      await t.engine.submit({ tenant: TENANT, actions: [{ type: "noop" }] });
      const ids = async (refIds: string[]) =>
        (await t.engine.list(TENANT, { refIds })).map((task) => task.id);
      expect(await ids(["r1"])).toEqual([b.id, a.id]);
      expect(await ids(["r1", "r2"])).toEqual([c.id, b.id, a.id]);
      expect(await ids([])).toEqual([]);
      expect(await t.engine.list("other", { refIds: ["r1"] })).toEqual([]);
    } finally {
      await t.stop();
    }
  });
});

describe("listing by status", () => {
  it("counts the limit among matching tasks only", async () => {
    const t = await startTestEngine();
    try {
      const done: number[] = [];
      for (let i = 0; i < 3; i++) {
        const task = await t.engine.submit({ tenant: TENANT, actions: [{ type: "noop" }] });
        await t.waitFor(task.id, ["done"]);
        done.push(task.id);
      }
      const running = await t.engine.submit({
        tenant: TENANT,
        actions: [{ type: "exec", params: { command: "sleep 30" } }],
      });
      await t.waitFor(running.id, ["running"]);
      const listed = await t.engine.list(TENANT, { status: ["done"], limit: 2 });
      expect(listed.map((task) => task.id)).toEqual([done[2], done[1]]);
      expect((await t.engine.list(TENANT, { status: ["running"] })).map((x) => x.id)).toEqual([
        running.id,
      ]);
      await t.engine.cancel(TENANT, running.id);
    } finally {
      await t.stop();
    }
  });
});
