import { describe, expect, it } from "vitest";
import { startTestEngine, TENANT, tempDir } from "../../helpers/engine";

describe("a batch is one task per target, finished with its last task", () => {
  it("counts each task's outcome and finishes", async () => {
    const t = await startTestEngine();
    try {
      const { batch, tasks } = await t.engine.submitBatch(TENANT, [
        { actions: [{ type: "noop" }] },
        { actions: [{ type: "exec", params: { command: "exit 2" } }] },
        { actions: [{ type: "exec", params: { command: "true" } }] },
      ]);
      expect(batch).toMatchObject({ status: "running", taskIds: tasks.map((task) => task.id) });
      expect(tasks.every((task) => task.batchId === batch.id)).toBe(true);
      await Promise.all(tasks.map((task) => t.waitFor(task.id, ["done", "failed"])));
      await t.engine.flush();
      const finished = await t.engine.getBatch(TENANT, batch.id);
      expect(finished).toMatchObject({
        status: "finished",
        counts: { succeeded: 2, failed: 1, cancelled: 0, timedOut: 0 },
      });
      expect(finished.outcomes[tasks[1]?.id as number]).toBe("failed");
      expect(finished.finishedAt).not.toBeNull();
      await expect(t.engine.getBatch("someone-else", batch.id)).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      const second = await t.engine.submitBatch(TENANT, [{ actions: [{ type: "noop" }] }]);
      const listed = await t.engine.listBatches(TENANT);
      expect(listed.map((b) => b.id)).toEqual([second.batch.id, batch.id]);
      expect(await t.engine.listBatches("someone-else")).toEqual([]);
      // Each API lists only the batches it made.
      const xina = await t.engine.submitBatch(TENANT, [{ actions: [{ type: "noop" }] }], {
        kind: "xina",
      });
      expect(xina.batch.kind).toBe("xina");
      expect((await t.engine.listBatches(TENANT, { kind: "xina" })).map((b) => b.id)).toEqual([
        xina.batch.id,
      ]);
      expect((await t.engine.listBatches(TENANT)).map((b) => b.id)).toEqual([
        second.batch.id,
        batch.id,
      ]);
    } finally {
      await t.stop();
    }
  });

  it("creates nothing when one task is bad", async () => {
    const t = await startTestEngine();
    try {
      const before = t.engine.stats().submitted;
      await expect(
        t.engine.submitBatch(TENANT, [{ actions: [{ type: "noop" }] }, { actions: [] }]),
      ).rejects.toMatchObject({ code: "INVALID_INPUT", field: "tasks[1].actions" });
      expect(t.engine.stats().submitted).toBe(before);
      expect(await t.engine.list(TENANT, {})).toEqual([]);
    } finally {
      await t.stop();
    }
  });

  it("keeps counting across a restart", async () => {
    const dir = tempDir();
    const first = await startTestEngine({ dir });
    // The second task waits in a paused lane across the restart.
    await first.engine.pauseLane(TENANT, "later");
    const { batch, tasks } = await first.engine.submitBatch(TENANT, [
      { actions: [{ type: "noop" }] },
      { actions: [{ type: "noop" }], lane: "later" },
    ]);
    await first.waitFor(tasks[0]?.id as number, ["done"]);
    await first.stop({ keepDir: true });

    const second = await startTestEngine({ dir });
    try {
      expect((await second.engine.getBatch(TENANT, batch.id)).counts.succeeded).toBe(1);
      await second.engine.resumeLane(TENANT, "later", false);
      await second.waitFor(tasks[1]?.id as number, ["done"]);
      await second.engine.flush();
      expect(await second.engine.getBatch(TENANT, batch.id)).toMatchObject({
        status: "finished",
        counts: { succeeded: 2 },
      });
    } finally {
      await second.stop();
    }
  });
});
