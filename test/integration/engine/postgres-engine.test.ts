import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresStore } from "../../../src/store/postgres-store";
import { startTestEngine, TENANT, tempDir } from "../../helpers/engine";
import { createDatabase, type PostgresServer, startPostgres } from "../../helpers/postgres";

describe("the engine on PostgreSQL behaves as on SQLite", () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  }, 90_000);
  afterAll(() => server?.stop());

  it("runs, cancels and restores tasks", async () => {
    const url = await createDatabase(server, "engine_run");
    const dir = tempDir();
    const first = await startTestEngine({ dir, store: new PostgresStore(url) });
    const ran = await first.engine.submit({
      tenant: TENANT,
      actions: [{ type: "exec", params: { command: "echo on-postgres" } }],
    });
    const sleeper = await first.engine.submit({
      tenant: TENANT,
      actions: [{ type: "exec", params: { command: "sleep 30" } }],
    });
    const far = await first.engine.submit({
      tenant: TENANT,
      actions: [{ type: "noop" }],
      executeAt: Date.now() + 3_600_000,
    });
    expect((await first.waitFor(ran.id, ["done"])).results[0]).toMatchObject({
      stdout: "on-postgres\n",
    });
    await first.waitFor(sleeper.id, ["running"]);
    expect((await first.engine.cancel(TENANT, sleeper.id)).state).toBe("cancelled");
    await first.stop({ keepDir: true });

    const second = await startTestEngine({ dir, store: new PostgresStore(url) });
    try {
      expect(second.engine.stats()).toMatchObject({ liveTasks: 0, passivatedWakeups: 1 });
      expect((await second.engine.get(TENANT, far.id)).status).toBe("scheduled");
      expect((await second.engine.get(TENANT, sleeper.id)).state).toBe("cancelled");
      const listed = await second.engine.list(TENANT, {});
      expect(listed.map((task) => task.id)).toEqual([far.id, sleeper.id, ran.id]);
      const next = await second.engine.submit({ tenant: TENANT, actions: [{ type: "noop" }] });
      expect(next.id).toBe(far.id + 1);
      await second.waitFor(next.id, ["done"]);
    } finally {
      await second.stop();
    }
  });
});
