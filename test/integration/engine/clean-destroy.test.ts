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
