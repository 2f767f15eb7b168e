/**
 * The crash harness's counting, on made-up inputs: each figure that must be 0 does
 * notice what it is there for, so a 0 from a real run means something.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { countFigures, type StoredTask } from "./crash-figures";
import { laneOverlaps, type Run, readRunLog } from "./run-log";
import { type Submission, SubmissionOutcome } from "./task-load";

const submission = (nonce: string, id?: number, lane?: string): Submission => ({
  nonce,
  family: "native",
  agent: "a1",
  actionCount: 1,
  failsFirstAttempt: false,
  lane,
  outcome: id === undefined ? SubmissionOutcome.Unacknowledged : SubmissionOutcome.Acknowledged,
  id,
});
const task = (id: number, name: string, status = "done"): StoredTask => ({
  id,
  name,
  state: status,
  status,
  actions: [{ type: "exec" }],
  execId: `${id}-0-1`,
  timeoutReason: null,
  error: null,
});
const run = (execId: string, nonce: string, startedAt: number, endedAt?: number): Run => {
  const [taskId, actionIdx, attempt] = execId.split("-").map(Number) as [number, number, number];
  return { agent: "a1", taskId, execId, actionIdx, attempt, nonce, startedAt, endedAt };
};

describe("the crash harness's figures", () => {
  it("counts an acknowledged task whose id now holds another submission as lost", () => {
    const figures = countFigures({
      submissions: [submission("c1", 7), submission("c2"), submission("c3", 7)],
      stored: [task(7, "c3")],
      confirmed: new Map(),
      runs: [run("7-0-1", "c2", 1, 2), run("7-0-1", "c3", 3, 4)],
    });
    expect(figures.lost).toEqual([7]);
    // The unacknowledged c2 ran under the id c3 got later: one execId, two runs.
    expect(figures.doubleRuns).toEqual(["7-0-1"]);
    expect(figures.runsOfUnknownTasks).toEqual(["7-0-1 (c2 on a1)"]);
  });

  it("counts a done task that never ran, and an unfinished one", () => {
    const figures = countFigures({
      submissions: [submission("c1", 1), submission("c2", 2)],
      stored: [task(1, "c1"), task(2, "c2", "dispatched")],
      confirmed: new Map(),
      runs: [],
    });
    expect(figures.doneWithoutRun).toEqual([1]);
    expect(figures.stuck.map((t) => t.id)).toEqual([2]);
    expect(figures.notDone).toEqual([]);
    expect(figures.lost).toEqual([]);
  });

  it("counts a task the engine gave up on as not done", () => {
    const figures = countFigures({
      submissions: [submission("c1", 1)],
      stored: [{ ...task(1, "c1", "timedOut"), timeoutReason: "agentLost" }],
      confirmed: new Map(),
      runs: [run("1-0-1", "c1", 1)],
    });
    expect(figures.notDone).toEqual(["1 timedOut (agentLost)"]);
  });

  it("finds runs of one lane that overlap, and none in runs one after the other", () => {
    const lanes = new Map([
      ["c1", "L"],
      ["c2", "L"],
      ["c3", "L"],
      ["c4", undefined],
    ]);
    const runs = [
      run("1-0-1", "c1", 0, 10),
      run("2-0-1", "c2", 11, 20),
      run("3-0-1", "c3", 15, 30),
      run("4-0-1", "c4", 12, 13),
    ];
    expect(laneOverlaps(runs, (r) => lanes.get(r.nonce))).toEqual(["L: 2-0-1 and 3-0-1"]);
    expect(laneOverlaps(runs.slice(0, 2), (r) => lanes.get(r.nonce))).toEqual([]);
  });

  it("reads a run log, and refuses one whose lines do not name their attempt", () => {
    const dir = mkdtempSync(join(tmpdir(), "fw-runlog-"));
    try {
      const good = join(dir, "good.log");
      writeFileSync(
        good,
        "5 5-0-1 c9 start 1000000000\n5 5-0-1 c9 end 3000000000\n5 5-1-2 c9 start 4000000000\n",
      );
      expect(readRunLog("a1", good)).toEqual([
        run("5-0-1", "c9", 1000, 3000),
        run("5-1-2", "c9", 4000),
      ]);
      const bad = join(dir, "bad.log");
      writeFileSync(bad, "  c9 start 1000000000\n");
      expect(() => readRunLog("a1", bad)).toThrow(/does not name its task and attempt/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
