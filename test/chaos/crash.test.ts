/**
 * The crash harness in the suite: 3 rounds of kill -9 under load (20 with FW_LONG=1,
 * CI's long suite). Nothing acknowledged is lost, no attempt runs twice, nothing is
 * left unfinished.
 */
import { describe, expect, it } from "vitest";
import { runCrashHarness } from "./crash-harness";
import { crashTable } from "./crash-table";
import { SeededRandom } from "./seeded-random";

// The suite's own switch (CI's long suite), not engine configuration.
const LONG = process.env.FW_LONG === "1";
const ROUNDS = LONG ? 20 : 3;

describe("kill -9 of the engine under load, restarted each time", () => {
  it(
    `loses nothing acknowledged, runs no attempt twice, leaves nothing stuck or given up (${ROUNDS} rounds)`,
    async () => {
      // Printed first, so even a run that throws can be replayed with --seed.
      const seed = SeededRandom.newSeed();
      console.log(`crash harness seed ${seed}`);
      const run = await runCrashHarness({
        rounds: ROUNDS,
        seed,
        settleMs: LONG ? 60_000 : 20_000,
      });
      // The table goes in the test's output, so a failure shows its figures and seed.
      console.log(crashTable(run));
      expect(run.kills).toBe(ROUNDS);
      // The load really ran: at 100 tasks/s for at least 0.3 s before the first kill
      // and after the last restart, far more than 10 a round even on a busy machine.
      expect(run.figures.acknowledged).toBeGreaterThan(ROUNDS * 10);
      expect(run.figures.runs).toBeGreaterThan(ROUNDS * 10);
      expect(run.figures.acknowledgedByFamily.xina).toBeGreaterThan(0);
      expect(run.figures.lost).toEqual([]);
      expect(run.figures.doubleRuns).toEqual([]);
      expect(run.figures.laneOverlaps).toEqual([]);
      expect(run.figures.stuck.map((task) => `${task.id} ${task.state}`)).toEqual([]);
      expect(run.figures.notDone).toEqual([]);
      expect(run.figures.doneWithoutRun).toEqual([]);
      expect(run.figures.runsOfUnknownTasks).toEqual([]);
    },
    LONG ? 300_000 : 90_000,
  );
});
