/**
 * What the actors alone cost: create a task actor and walk it through the same
 * transitions a single-action task takes (DISPATCH, STARTED, ACTION_DONE), with no
 * store, bus or agent. The engine cannot go faster than this on one core.
 */
import { createActor, setup } from "xstate";
import { type TaskInput, taskMachine } from "../machines";
import { systemClock } from "../src/clock";
import { TimerService } from "../src/runtime/timer-service";

export function runXstateCeiling(tasks: number): { tasksPerSec: number; usPerTask: number } {
  const timers = new TimerService(systemClock);
  const input = (id: number): TaskInput => ({
    id,
    tenant: "bench",
    name: "noop",
    lane: null,
    agentId: "local",
    actions: [{ type: "noop" }],
    priority: 0,
    executeAt: 0,
    timeouts: { deliveryMs: 60_000, executionMs: 3_600_000, heartbeatMs: 15_000 },
    retry: { limit: 0, backoffMs: 1_000, factor: 2, maxBackoffMs: 60_000 },
    open: false,
    archive: false,
    refId: null,
    parentId: null,
    batchId: null,
    jobId: null,
    now: Date.now(),
  });
  const started = performance.now();
  for (let i = 0; i < tasks; i++) {
    const actor = createActor(taskMachine, { input: input(i), clock: timers });
    actor.start();
    const at = Date.now();
    actor.send({ type: "DISPATCH", execId: `${i}-0-1`, agentId: "local", at });
    actor.send({ type: "STARTED", execId: `${i}-0-1`, at });
    actor.send({ type: "ACTION_DONE", execId: `${i}-0-1`, outcome: { ok: true }, at });
    if (actor.getSnapshot().value !== "done") throw new Error("the task did not finish");
  }
  timers.stop();
  const seconds = (performance.now() - started) / 1000;
  return { tasksPerSec: tasks / seconds, usPerTask: (seconds * 1e6) / tasks };
}

/**
 * A trivial three-state actor (ready → dispatched → done, no guards, delays or
 * context changes): what XState itself costs per actor and two transitions here.
 */
const trivialMachine = setup({
  types: {} as {
    context: { id: number };
    events: { type: "GO" } | { type: "DONE" };
    input: number;
  },
}).createMachine({
  id: "trivial",
  context: ({ input }) => ({ id: input }),
  initial: "ready",
  states: {
    ready: { on: { GO: "dispatched" } },
    dispatched: { on: { DONE: "done" } },
    done: { type: "final" },
  },
});

export function runTrivialActorCeiling(tasks: number): { tasksPerSec: number } {
  const started = performance.now();
  for (let i = 0; i < tasks; i++) {
    const actor = createActor(trivialMachine, { input: i });
    actor.start();
    actor.send({ type: "GO" });
    actor.send({ type: "DONE" });
  }
  return { tasksPerSec: tasks / ((performance.now() - started) / 1000) };
}
