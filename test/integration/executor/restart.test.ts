/**
 * Executor tasks across an engine restart: what was acknowledged is there, a claimed
 * task's execId still works, definitions made with `define` are kept, and the
 * concurrency count is rebuilt from the restored tasks.
 */
import { describe, expect, it } from "vitest";
import { startTestEngine, TENANT, tempDir } from "../../helpers/engine";

const CONFIG = [{ name: "capped", concurrencyLimit: 1 }];

describe("executor tasks survive a restart", () => {
  it("keeps tasks, claims, defined definitions and concurrency counts", async () => {
    const dir = tempDir();
    const first = await startTestEngine({ dir, engine: { taskDefinitions: CONFIG } });
    const x = first.engine.executor;
    await x.define(TENANT, { name: "own", inProgressTimeout: 45_000 });
    const a = await x.create(TENANT, { definition: "capped", params: { n: 1 }, id: "a" });
    await x.create(TENANT, { definition: "capped", params: { n: 2 }, id: "b" });
    await x.create(TENANT, { definition: "own", params: {}, id: "c" });
    const [claimed] = await x.poll(TENANT, ["capped"], 5);
    expect(claimed?.id).toBe(a.id);
    await x.start(TENANT, "a", claimed?.task.execId as string);
    await first.stop({ keepDir: true });

    const second = await startTestEngine({ dir, engine: { taskDefinitions: CONFIG } });
    try {
      const y = second.engine.executor;
      expect(y.definitions(TENANT).map((d) => [d.name, d.source, d.inProgressTimeout])).toEqual([
        ["capped", "config", 120_000],
        ["own", "api", 45_000],
      ]);
      expect(await y.get(TENANT, "a")).toMatchObject({ status: "in-progress", retryCount: 1 });
      // "a" still holds the one slot: "b" cannot be claimed yet.
      expect(await y.poll(TENANT, ["capped"], 5)).toEqual([]);
      expect((await y.poll(TENANT, ["own"], 5)).map((t) => t.id)).toEqual(["c"]);
      const done = await y.success(TENANT, "a", claimed?.task.execId as string, { ok: true });
      expect(done).toMatchObject({ status: "done", outcome: "succeeded" });
      expect((await y.poll(TENANT, ["capped"], 5)).map((t) => t.id)).toEqual(["b"]);
      const log = await y.log(TENANT, "a");
      expect(log.map((e) => e.action)).toEqual([
        "awf.task/create-and-execute",
        "awf.task/poll",
        "awf.task/start",
        "awf.task/success",
      ]);
    } finally {
      await second.stop();
    }
  });
});
