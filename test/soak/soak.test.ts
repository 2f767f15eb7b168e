/**
 * The 60-second soak (issue 8, item 6) in the normal suite: a real nats-server, the
 * server process and 4 agent processes, loaded at half the peak this very setup
 * reaches. CI's long suite (FW_LONG=1) and `npm run soak` run the 10-minute one with
 * the same code and criteria.
 */
import { describe, expect, it } from "vitest";
import { judge } from "./criteria";
import { soakPlan } from "./plan";
import { formatReport } from "./report";
import { runSoak } from "./soak";

// The suite's own switch (CI's long suite), not engine configuration.
const LONG = process.env.FW_LONG === "1";
const plan = soakPlan(LONG ? 600_000 : 60_000);
/** Start-up, the peak phase, the load, the drain, and the stop of five processes. */
const timeoutMs =
  30_000 + plan.peak.warmupMs + plan.peak.measureMs + plan.durationMs + plan.drainTimeoutMs;

describe(`a ${plan.durationMs / 1000}-second soak at half the peak throughput with 4 agents`, () => {
  it(
    "keeps RSS flat and p99 stable, logs no error and finishes every task",
    async () => {
      const figures = await runSoak(plan);
      const verdicts = judge(figures);
      // The whole table, so a failure shows every figure, not just the one that broke.
      process.stdout.write(`${formatReport(figures, verdicts)}\n`);
      expect(verdicts.filter((v) => !v.pass)).toEqual([]);
      // Guards against a run that passes by doing nothing.
      expect(figures.acknowledged).toBeGreaterThan(0);
      expect(verdicts.length).toBeGreaterThanOrEqual(plan.agents + 1 + 6);
    },
    timeoutMs,
  );
});
