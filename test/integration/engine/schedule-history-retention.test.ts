/**
 * A schedule's run history is bounded per agent (issue 4, periodic commands): the
 * engine's housekeeping keeps the newest MAX_HISTORY runs of each agent and drops the
 * runs of deleted schedules.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_HISTORY } from "../../../src/runtime/schedule-records";
import { SqliteStore } from "../../../src/store/sqlite-store";
import { startTestEngine, tempDir } from "../../helpers/engine";
import { until } from "../../helpers/until";
import { commitSet, schedule, scheduleRun } from "../store/store-contract";

describe("schedule history retention", () => {
  it("trims each agent's history to MAX_HISTORY runs, newest kept", async () => {
    const dir = tempDir();
    const store = new SqliteStore(join(dir, "fleetwork.db"));
    await store.migrate();
    const extra = 7;
    await store.commit(
      commitSet({
        // Live schedules are restored by the engine; only the deleted one is needed here.
        schedules: [schedule("s-gone", { state: "deleted" })],
        scheduleRuns: [
          ...Array.from({ length: MAX_HISTORY + extra }, (_, i) =>
            scheduleRun({ stdout: `a${i}` }),
          ),
          scheduleRun({ agentId: "agent-b", stdout: "b0" }),
          scheduleRun({ scheduleId: "s-gone", stdout: "gone" }),
        ],
      }),
    );
    // Housekeeping runs as often as the journal retention, at most hourly.
    const t = await startTestEngine({ dir, store, engine: { eventRetentionMs: 50 } });
    try {
      await until(async () => ((await store.runs("s-gone", 10)).length === 0 ? true : undefined));
      const runs = await store.runs("s-1", MAX_HISTORY * 2);
      const a = runs.filter((r) => r.agentId === "agent-a");
      expect(a).toHaveLength(MAX_HISTORY);
      expect(a[0]?.stdout).toBe(`a${MAX_HISTORY + extra - 1}`);
      expect(a.at(-1)?.stdout).toBe(`a${extra}`);
      expect(runs.filter((r) => r.agentId === "agent-b").map((r) => r.stdout)).toEqual(["b0"]);
    } finally {
      await t.stop();
    }
  });
});
