import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SimulatedClock } from "../../../src/clock";
import { SqliteStore } from "../../../src/store/sqlite-store";
import { startTestEngine, TENANT, tempDir } from "../../helpers/engine";

const HOUR = 3_600_000;

async function until(condition: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("tasks scheduled far ahead are not actors until they are due", () => {
  it("keeps a far task on disk and in the timer heap, then runs it when due", async () => {
    const clock = new SimulatedClock(Date.now());
    const t = await startTestEngine({ clock });
    try {
      const far = await t.engine.submit({
        tenant: TENANT,
        actions: [{ type: "noop" }],
        executeAt: clock.now() + 2 * HOUR,
      });
      expect(far.status).toBe("scheduled");
      expect(t.engine.stats()).toMatchObject({ liveTasks: 0, passivatedWakeups: 1 });
      // Read back from the store, not from an actor.
      expect(await t.engine.get(TENANT, far.id)).toMatchObject({
        status: "scheduled",
        accepts: ["PAUSE", "CANCEL"],
      });

      // The wake-up comes a second early and loads the task from the store...
      clock.advance(2 * HOUR - 1_000);
      await until(() => t.engine.stats().liveTasks === 1);
      expect((await t.engine.get(TENANT, far.id)).status).toBe("scheduled");
      // ...and the actor's own timer starts it on time.
      clock.advance(1_000);
      const ran = await t.waitFor(far.id, ["done"]);
      expect(ran.startedAt).toBeGreaterThanOrEqual(far.executeAt);
    } finally {
      await t.stop();
    }
  });

  it("brings a passivated task back for a command", async () => {
    const clock = new SimulatedClock(Date.now());
    const t = await startTestEngine({ clock });
    try {
      const far = await t.engine.submit({
        tenant: TENANT,
        actions: [{ type: "noop" }],
        executeAt: clock.now() + HOUR,
      });
      const cancelled = await t.engine.cancel(TENANT, far.id);
      expect(cancelled.state).toBe("cancelled");
      await t.engine.flush();
      expect(t.engine.stats().liveTasks).toBe(0);
      // Its wake-up still fires, finds it finished and leaves it alone.
      clock.advance(HOUR);
      expect((await t.engine.get(TENANT, far.id)).state).toBe("cancelled");
    } finally {
      await t.stop();
    }
  });

  it("restores scheduled tasks and their timers after a restart", async () => {
    const dir = tempDir();
    const clock = new SimulatedClock(Date.now());
    const first = await startTestEngine({ dir, clock });
    const far = await first.engine.submit({
      tenant: TENANT,
      actions: [{ type: "noop" }],
      executeAt: clock.now() + HOUR,
    });
    const near = await first.engine.submit({
      tenant: TENANT,
      actions: [{ type: "noop" }],
      executeAt: clock.now() + 30_000,
    });
    expect(first.engine.stats()).toMatchObject({ liveTasks: 1, passivatedWakeups: 1 });
    await first.stop({ keepDir: true });

    const second = await startTestEngine({ dir, clock });
    try {
      expect(second.engine.stats()).toMatchObject({ liveTasks: 1, passivatedWakeups: 1 });
      expect((await second.engine.get(TENANT, near.id)).status).toBe("scheduled");
      clock.advance(30_000);
      await second.waitFor(near.id, ["done"]);
      clock.advance(HOUR);
      await second.waitFor(far.id, ["done"]);
    } finally {
      await second.stop();
    }
  });
});

describe("a restart is not a change", () => {
  async function journalLength(dir: string) {
    const store = new SqliteStore(join(dir, "fleetwork.db"));
    await store.migrate();
    const events = await store.eventsAfter(0, 100_000);
    await store.close();
    // Agents coming online are real changes; tasks and lanes are what must not move.
    return events.filter((event) => event.kind !== "agent").length;
  }

  it("journals no task or lane change when it restores unchanged actors", async () => {
    const dir = tempDir();
    const clock = new SimulatedClock(Date.now());
    const first = await startTestEngine({ dir, clock });
    await first.engine.submit({
      tenant: TENANT,
      actions: [{ type: "noop" }],
      executeAt: clock.now() + 30_000,
    });
    await first.engine.pauseLane(TENANT, "idle");
    await first.stop({ keepDir: true });
    const before = await journalLength(dir);
    expect(before).toBeGreaterThan(0);

    const second = await startTestEngine({ dir, clock });
    expect(second.engine.stats().liveTasks).toBe(1);
    await second.engine.flush();
    await second.stop({ keepDir: true });
    expect(await journalLength(dir)).toBe(before);
  });
});
