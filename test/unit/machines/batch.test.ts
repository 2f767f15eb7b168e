/**
 * The batch machine: counts its tasks' outcomes and finishes with the last one.
 */
import { describe, expect, it, vi } from "vitest";
import { createActor } from "xstate";
import { BATCH_COMMANDS, type BatchEvent, batchMachine, type TaskOutcome } from "../../../machines";
import { expectRefused, sendNow, T0, TestClock, type Untimed } from "./helpers";

function startBatch(taskIds: readonly number[]) {
  const clock = new TestClock();
  const cancelTasks = vi.fn();
  const machine = batchMachine.provide({ actions: { cancelTasks } });
  const actor = createActor(machine, {
    input: { id: 9, tenant: "t1", taskIds, executeAt: T0, now: T0 },
    clock,
  });
  actor.start();
  const send = (event: Untimed<BatchEvent>) => sendNow(actor, clock, event);
  const finished = (taskId: number, outcome: TaskOutcome) =>
    send({ type: "TASK_FINISHED", taskId, outcome });
  return { actor, clock, cancelTasks, send, finished };
}

describe("batch", () => {
  it("counts each outcome and finishes when the last task does", () => {
    const batch = startBatch([1, 2, 3, 4, 5]);
    batch.finished(1, "succeeded");
    batch.finished(2, "failed");
    batch.finished(3, "succeeded");
    batch.finished(4, "cancelled");
    expect(batch.actor.getSnapshot().value).toBe("running");
    expect(batch.actor.getSnapshot().context.finishedAt).toBeNull();
    batch.clock.advance(3_000);
    batch.finished(5, "timedOut");
    const snapshot = batch.actor.getSnapshot();
    expect(snapshot.value).toBe("finished");
    expect(snapshot.status).toBe("done");
    expect(snapshot.context).toMatchObject({
      counts: { succeeded: 2, failed: 1, cancelled: 1, timedOut: 1 },
      outcomes: { 1: "succeeded", 2: "failed", 3: "succeeded", 4: "cancelled", 5: "timedOut" },
      finishedAt: T0 + 3_000,
      updatedAt: T0 + 3_000,
    });
  });

  it("ignores a second TASK_FINISHED for the same task", () => {
    const batch = startBatch([1, 2]);
    batch.finished(1, "failed");
    expectRefused(batch.actor, { type: "TASK_FINISHED", taskId: 1, outcome: "succeeded", at: T0 });
    expect(batch.actor.getSnapshot().context.counts).toEqual({
      succeeded: 0,
      failed: 1,
      cancelled: 0,
      timedOut: 0,
    });
  });

  it("ignores a task that is not in the batch", () => {
    const batch = startBatch([1]);
    expectRefused(batch.actor, { type: "TASK_FINISHED", taskId: 2, outcome: "succeeded", at: T0 });
  });

  it("CANCEL asks the runtime to cancel the tasks and keeps counting", () => {
    const batch = startBatch([1, 2]);
    batch.clock.advance(50);
    batch.send({ type: "CANCEL" });
    expect(batch.cancelTasks).toHaveBeenCalledTimes(1);
    expect(batch.actor.getSnapshot().value).toBe("running");
    expect(batch.actor.getSnapshot().context.updatedAt).toBe(T0 + 50);
    batch.finished(1, "cancelled");
    batch.finished(2, "cancelled");
    expect(batch.actor.getSnapshot().value).toBe("finished");
    expect(batch.actor.getSnapshot().context.counts.cancelled).toBe(2);
  });

  it("an empty batch is finished from the start", () => {
    const batch = startBatch([]);
    expect(batch.actor.getSnapshot().value).toBe("finished");
    expect(batch.actor.getSnapshot().context.finishedAt).toBe(T0);
  });

  it("a finished batch refuses every event", () => {
    const batch = startBatch([1]);
    batch.finished(1, "succeeded");
    for (const type of BATCH_COMMANDS) expectRefused(batch.actor, { type, at: T0 });
    expectRefused(batch.actor, { type: "TASK_FINISHED", taskId: 1, outcome: "failed", at: T0 });
    expect(batch.cancelTasks).not.toHaveBeenCalled();
  });
});
