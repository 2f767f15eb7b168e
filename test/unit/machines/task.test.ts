/**
 * The task machine, transition by transition. Every delay runs on a simulated clock;
 * side effects are spies bound with `provide()`.
 */
import type { Mock } from "vitest";
import { describe, expect, it } from "vitest";
import { createActor, type StateValue } from "xstate";
import {
  TASK_COMMANDS,
  type TaskContext,
  type TaskEvent,
  type TaskInput,
  TaskOutcome,
  TimeoutReason,
} from "../../../machines";
import type { ActionOutcome } from "../../../src/protocol/messages";
import {
  expectRefused,
  type StartedTask,
  sendNow,
  spiedTaskMachine,
  startTask,
  T0,
  TestClock,
  taskInput,
  taskSpies,
  type Untimed,
} from "./helpers";

const OK: ActionOutcome = { ok: true, exitCode: 0, stdout: "fine" };
const BOOM: ActionOutcome = { ok: false, exitCode: 1, message: "boom" };

const DELIVERY_MS = 5_000;
const EXECUTION_MS = 60_000;
const HEARTBEAT_MS = 10_000;
const BACKOFF_MS = 1_000;

const oneAction = [{ type: "exec", params: { cmd: "only" } }] as const;

function send(t: StartedTask, event: Untimed<TaskEvent>): void {
  sendNow(t.actor, t.clock, event);
}

function ctx(t: StartedTask): TaskContext {
  return t.actor.getSnapshot().context;
}

function state(t: StartedTask): StateValue {
  return t.actor.getSnapshot().value;
}

function dispatch(t: StartedTask, execId = "e1"): void {
  send(t, { type: "DISPATCH", execId, agentId: "a1" });
}

function start(t: StartedTask, execId = "e1"): void {
  dispatch(t, execId);
  send(t, { type: "STARTED", execId });
}

function finishAction(t: StartedTask, outcome: ActionOutcome, execId = "e1"): void {
  send(t, { type: "ACTION_DONE", execId, outcome });
}

/** The context a side-effect spy saw on its last call. */
function lastContext(spy: Mock): TaskContext {
  const call = spy.mock.lastCall as [{ context: TaskContext }] | undefined;
  if (!call) throw new Error("the action was never called");
  return call[0].context;
}

/** A running open task whose only action is done: waits for CONCLUDE. */
function waitingForConclude(): StartedTask {
  const t = startTask({ open: true, actions: oneAction });
  start(t);
  finishAction(t, OK);
  return t;
}

describe("task: scheduled → ready", () => {
  it("is ready at once when due at creation, and asks for a dispatch slot", () => {
    const t = startTask();
    expect(state(t)).toBe("ready");
    expect(t.spies.requestDispatch).toHaveBeenCalledTimes(1);
    expect(t.clock.pending).toBe(0);
  });

  it("waits in scheduled until executeAt arrives on the clock", () => {
    const t = startTask({ executeAt: T0 + 10_000 });
    expect(state(t)).toBe("scheduled");
    expect(t.clock.pending).toBe(1);
    t.clock.advance(9_999);
    expect(state(t)).toBe("scheduled");
    expect(t.spies.requestDispatch).not.toHaveBeenCalled();
    t.clock.advance(1);
    expect(state(t)).toBe("ready");
    expect(t.spies.requestDispatch).toHaveBeenCalledTimes(1);
  });
});

describe("task: dispatch and start", () => {
  it("DISPATCH records the attempt, sends the run and arms the delivery deadline", () => {
    const t = startTask();
    t.clock.advance(250);
    dispatch(t);
    expect(state(t)).toBe("dispatched");
    expect(ctx(t)).toMatchObject({
      execId: "e1",
      agentId: "a1",
      attempt: 1,
      currentActionIdx: 0,
      attemptActive: true,
      deliveryDeadline: T0 + 250 + DELIVERY_MS,
      updatedAt: T0 + 250,
    });
    expect(t.spies.sendRun).toHaveBeenCalledTimes(1);
    expect(lastContext(t.spies.sendRun).execId).toBe("e1");
  });

  it("STARTED with the current execId starts the attempt and its deadlines", () => {
    const t = startTask();
    dispatch(t);
    t.clock.advance(300);
    send(t, { type: "STARTED", execId: "e1" });
    expect(state(t)).toEqual({ running: "executing" });
    expect(ctx(t)).toMatchObject({
      startedAt: T0 + 300,
      deliveryDeadline: null,
      executionDeadline: T0 + 300 + EXECUTION_MS,
      heartbeatDeadline: T0 + 300 + HEARTBEAT_MS,
    });
  });

  it("STARTED for another execId is ignored", () => {
    const t = startTask();
    dispatch(t);
    expectRefused(t.actor, { type: "STARTED", execId: "stale", at: t.clock.now() });
  });

  it("a delivery limit of 0 never times out", () => {
    const t = startTask({ timeouts: { deliveryMs: 0, executionMs: 0, heartbeatMs: 0 } });
    dispatch(t);
    expect(ctx(t).deliveryDeadline).toBeNull();
    expect(t.clock.pending).toBe(0);
    expect(t.clock.never).toBeGreaterThan(0);
    t.clock.advance(365 * 24 * 3_600_000);
    expect(state(t)).toBe("dispatched");
  });
});

describe("task: progress and heartbeats", () => {
  it("PROGRESS moves the heartbeat deadline, so the old one passes without a timeout", () => {
    const t = startTask();
    start(t);
    t.clock.advance(8_000);
    send(t, { type: "PROGRESS", execId: "e1", progress: 40 });
    expect(ctx(t).heartbeatDeadline).toBe(T0 + 8_000 + HEARTBEAT_MS);
    expect(ctx(t).progress).toBe(40);
    t.clock.advance(5_000); // 3 s past the first deadline
    expect(state(t)).toEqual({ running: "executing" });
    t.clock.advance(4_999);
    expect(state(t)).toEqual({ running: "executing" });
    t.clock.advance(1);
    expect(state(t)).toBe("scheduled");
    expect(ctx(t).timeoutReason).toBe(TimeoutReason.Heartbeat);
  });

  it("PROGRESS without a value keeps the last one", () => {
    const t = startTask();
    start(t);
    send(t, { type: "PROGRESS", execId: "e1", progress: 70 });
    send(t, { type: "PROGRESS", execId: "e1" });
    expect(ctx(t).progress).toBe(70);
  });

  it("PROGRESS for another execId is ignored", () => {
    const t = startTask();
    start(t);
    expectRefused(t.actor, { type: "PROGRESS", execId: "stale", progress: 1, at: t.clock.now() });
  });
});

describe("task: action results", () => {
  it("a successful action with more to run goes back to ready for the next one", () => {
    const t = startTask();
    start(t);
    t.clock.advance(1_000);
    finishAction(t, OK);
    expect(state(t)).toBe("ready");
    expect(ctx(t)).toMatchObject({
      currentActionIdx: 1,
      attempt: 0,
      execId: null,
      attemptActive: false,
      executionDeadline: null,
      heartbeatDeadline: null,
      results: [OK, null],
    });
    expect(t.spies.requestDispatch).toHaveBeenCalledTimes(2);
    dispatch(t, "e2");
    expect(ctx(t)).toMatchObject({ currentActionIdx: 1, attempt: 1, execId: "e2" });
    expect(lastContext(t.spies.sendRun).currentActionIdx).toBe(1);
  });

  it("the last successful action finishes the task as succeeded", () => {
    const t = startTask();
    start(t);
    finishAction(t, OK);
    start(t, "e2");
    t.clock.advance(2_000);
    finishAction(t, OK, "e2");
    const snapshot = t.actor.getSnapshot();
    expect(snapshot.value).toBe("done");
    expect(snapshot.status).toBe("done");
    expect(snapshot.context).toMatchObject({
      outcome: TaskOutcome.Succeeded,
      finishedAt: T0 + 2_000,
      results: [OK, OK],
      error: null,
    });
    expect(t.clock.pending).toBe(0);
  });

  it("a failure with retries left waits its backoff in scheduled, then retries the action", () => {
    const t = startTask();
    start(t);
    t.clock.advance(700);
    finishAction(t, BOOM);
    expect(state(t)).toBe("scheduled");
    expect(ctx(t)).toMatchObject({
      executeAt: T0 + 700 + BACKOFF_MS,
      error: "boom",
      execId: null,
      attemptActive: false,
      currentActionIdx: 0,
      results: [BOOM, null],
    });
    t.clock.advance(BACKOFF_MS - 1);
    expect(state(t)).toBe("scheduled");
    t.clock.advance(1);
    expect(state(t)).toBe("ready");
    dispatch(t, "e2");
    expect(ctx(t)).toMatchObject({ attempt: 2, currentActionIdx: 0 });
  });

  it("backoff grows by the factor up to maxBackoffMs, and the last failure fails the task", () => {
    const retry = { limit: 4, backoffMs: 1_000, factor: 2, maxBackoffMs: 3_000 };
    const t = startTask({ retry });
    const waits: number[] = [];
    for (let attempt = 1; attempt <= retry.limit; attempt++) {
      start(t, `e${attempt}`);
      finishAction(t, BOOM, `e${attempt}`);
      expect(state(t)).toBe("scheduled");
      const wait = ctx(t).executeAt - t.clock.now();
      waits.push(wait);
      t.clock.advance(wait);
      expect(state(t)).toBe("ready");
    }
    expect(waits).toEqual([1_000, 2_000, 3_000, 3_000]);
    start(t, "last");
    t.clock.advance(10);
    finishAction(t, BOOM, "last");
    expect(state(t)).toBe("failed");
    expect(ctx(t)).toMatchObject({
      attempt: retry.limit + 1,
      outcome: TaskOutcome.Failed,
      finishedAt: t.clock.now(),
    });
  });

  it("a failure without retries left fails the task", () => {
    const t = startTask({ retry: { limit: 0, backoffMs: 1, factor: 1, maxBackoffMs: 1 } });
    start(t);
    finishAction(t, { ok: false, exitCode: 2 });
    expect(state(t)).toBe("failed");
    expect(ctx(t)).toMatchObject({
      outcome: TaskOutcome.Failed,
      error: "action failed",
      finishedAt: T0,
    });
  });

  it("ACTION_DONE for another execId is ignored", () => {
    const t = startTask();
    start(t);
    expectRefused(t.actor, {
      type: "ACTION_DONE",
      execId: "stale",
      outcome: OK,
      at: t.clock.now(),
    });
  });

  describe("a quick ACTION_DONE while still dispatched", () => {
    it("with more actions → ready for the next", () => {
      const t = startTask();
      dispatch(t);
      finishAction(t, OK);
      expect(state(t)).toBe("ready");
      expect(ctx(t)).toMatchObject({ currentActionIdx: 1, startedAt: T0, deliveryDeadline: null });
      expect(t.clock.pending).toBe(0);
    });

    it("on the last action → done", () => {
      const t = startTask({ actions: oneAction });
      dispatch(t);
      finishAction(t, OK);
      expect(state(t)).toBe("done");
    });

    it("on the last action of an open task → waitingForConclude", () => {
      const t = startTask({ actions: oneAction, open: true });
      dispatch(t);
      finishAction(t, OK);
      expect(state(t)).toEqual({ running: "waitingForConclude" });
    });

    it("failed with retries left → scheduled for the backoff", () => {
      const t = startTask();
      dispatch(t);
      finishAction(t, BOOM);
      expect(state(t)).toBe("scheduled");
      expect(ctx(t).executeAt).toBe(T0 + BACKOFF_MS);
    });

    it("failed without retries → failed", () => {
      const t = startTask({ retry: { limit: 0, backoffMs: 0, factor: 1, maxBackoffMs: 0 } });
      dispatch(t);
      finishAction(t, BOOM);
      expect(state(t)).toBe("failed");
    });

    it("for another execId is ignored", () => {
      const t = startTask();
      dispatch(t);
      expectRefused(t.actor, {
        type: "ACTION_DONE",
        execId: "stale",
        outcome: OK,
        at: t.clock.now(),
      });
    });
  });
});

describe("task: timeouts", () => {
  it("delivery timeout retries while attempts remain, then times the task out", () => {
    const t = startTask({ retry: { limit: 1, backoffMs: 500, factor: 2, maxBackoffMs: 500 } });
    dispatch(t);
    t.clock.advance(DELIVERY_MS - 1);
    expect(state(t)).toBe("dispatched");
    t.clock.advance(1);
    expect(state(t)).toBe("scheduled");
    expect(ctx(t)).toMatchObject({
      timeoutReason: TimeoutReason.Delivery,
      execId: null,
      attemptActive: false,
    });
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(1);
    expect(lastContext(t.spies.sendCancel).execId).toBe("e1");
    t.clock.advance(500);
    expect(state(t)).toBe("ready");
    dispatch(t, "e2");
    t.clock.advance(DELIVERY_MS);
    expect(state(t)).toBe("timedOut");
    expect(ctx(t)).toMatchObject({
      outcome: TaskOutcome.TimedOut,
      timeoutReason: TimeoutReason.Delivery,
      error: "delivery timeout",
    });
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(2);
    expect(lastContext(t.spies.sendCancel).execId).toBe("e2");
  });

  it("execution timeout fires at the execution deadline even while heartbeats arrive", () => {
    const t = startTask({ retry: { limit: 0, backoffMs: 0, factor: 1, maxBackoffMs: 0 } });
    start(t);
    for (let elapsed = 0; elapsed < EXECUTION_MS - 5_000; elapsed += 5_000) {
      t.clock.advance(5_000);
      send(t, { type: "PROGRESS", execId: "e1" });
    }
    t.clock.advance(4_999);
    expect(state(t)).toEqual({ running: "executing" });
    t.clock.advance(1);
    expect(state(t)).toBe("timedOut");
    expect(ctx(t)).toMatchObject({
      timeoutReason: TimeoutReason.Execution,
      error: "execution timeout",
      outcome: TaskOutcome.TimedOut,
    });
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(1);
  });

  it("execution timeout with retries left schedules a retry", () => {
    const t = startTask({ timeouts: { deliveryMs: 0, executionMs: 2_000, heartbeatMs: 0 } });
    start(t);
    t.clock.advance(2_000);
    expect(state(t)).toBe("scheduled");
    expect(ctx(t).timeoutReason).toBe(TimeoutReason.Execution);
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(1);
  });

  it("heartbeat silence times out a running attempt", () => {
    const t = startTask({ retry: { limit: 0, backoffMs: 0, factor: 1, maxBackoffMs: 0 } });
    start(t);
    t.clock.advance(HEARTBEAT_MS - 1);
    expect(state(t)).toEqual({ running: "executing" });
    t.clock.advance(1);
    expect(state(t)).toBe("timedOut");
    expect(ctx(t)).toMatchObject({
      timeoutReason: TimeoutReason.Heartbeat,
      error: "heartbeat timeout",
    });
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(1);
  });

  it("an explicit TIMEOUT in dispatched with retries left schedules a retry", () => {
    const t = startTask();
    dispatch(t);
    t.clock.advance(1_200);
    send(t, { type: "TIMEOUT", reason: TimeoutReason.AgentOffline });
    expect(state(t)).toBe("scheduled");
    expect(ctx(t)).toMatchObject({
      timeoutReason: TimeoutReason.AgentOffline,
      error: "agentOffline timeout",
      executeAt: T0 + 1_200 + BACKOFF_MS,
    });
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(1);
  });

  it("an explicit TIMEOUT in running without retries times the task out", () => {
    const t = startTask({ retry: { limit: 0, backoffMs: 0, factor: 1, maxBackoffMs: 0 } });
    start(t);
    t.clock.advance(3_000);
    send(t, { type: "TIMEOUT", reason: TimeoutReason.AgentOffline });
    expect(state(t)).toBe("timedOut");
    expect(ctx(t)).toMatchObject({
      outcome: TaskOutcome.TimedOut,
      timeoutReason: TimeoutReason.AgentOffline,
      error: "agentOffline timeout",
      finishedAt: T0 + 3_000,
    });
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(1);
  });

  it("an explicit TIMEOUT in running with retries left schedules a retry", () => {
    const t = startTask();
    start(t);
    send(t, { type: "TIMEOUT", reason: TimeoutReason.Heartbeat });
    expect(state(t)).toBe("scheduled");
    expect(ctx(t).timeoutReason).toBe(TimeoutReason.Heartbeat);
  });

  // Regression: the clock's `xstate.after.*` events carry no `at`; reading "now" from
  // `updatedAt` stamped the retry with the DISPATCH time, 5 s in the past.
  it("a retry after a delivery timeout is due one backoff after the timeout", () => {
    const t = startTask();
    dispatch(t);
    t.clock.advance(DELIVERY_MS);
    expect(state(t)).toBe("scheduled");
    expect(ctx(t).executeAt).toBe(T0 + DELIVERY_MS + BACKOFF_MS);
  });

  it("a retry after a heartbeat timeout is due one backoff after the deadline", () => {
    const t = startTask();
    start(t);
    t.clock.advance(HEARTBEAT_MS);
    expect(state(t)).toBe("scheduled");
    expect(ctx(t).executeAt).toBe(T0 + HEARTBEAT_MS + BACKOFF_MS);
    t.clock.advance(BACKOFF_MS - 1);
    expect(state(t)).toBe("scheduled");
    t.clock.advance(1);
    expect(state(t)).toBe("ready");
  });

  // Regression, same cause: finishedAt was the last event's time, not the deadline's.
  it("a task timed out by the clock records when it timed out", () => {
    const t = startTask({ retry: { limit: 0, backoffMs: 0, factor: 1, maxBackoffMs: 0 } });
    dispatch(t);
    t.clock.advance(DELIVERY_MS);
    expect(state(t)).toBe("timedOut");
    expect(ctx(t).finishedAt).toBe(T0 + DELIVERY_MS);
  });
});

describe("task: pause and resume", () => {
  it("PAUSE suspends a running attempt; RESUME continues it, paused time not counted", () => {
    const t = startTask({ timeouts: { deliveryMs: 0, executionMs: EXECUTION_MS, heartbeatMs: 0 } });
    start(t);
    t.clock.advance(1_000);
    send(t, { type: "PAUSE" });
    expect(state(t)).toEqual({ paused: "suspended" });
    expect(ctx(t).pausedAt).toBe(T0 + 1_000);
    expect(t.spies.sendPause).toHaveBeenCalledTimes(1);
    expect(t.clock.pending).toBe(0);
    t.clock.advance(100_000); // far past every deadline: nothing fires while paused
    expect(state(t)).toEqual({ paused: "suspended" });
    send(t, { type: "RESUME" });
    expect(state(t)).toEqual({ running: "executing" });
    expect(ctx(t)).toMatchObject({
      pausedAt: null,
      executionDeadline: T0 + EXECUTION_MS + 100_000,
    });
    expect(t.spies.sendResume).toHaveBeenCalledTimes(1);
    t.clock.advance(EXECUTION_MS - 1_000 - 1);
    expect(state(t)).toEqual({ running: "executing" });
    t.clock.advance(1);
    expect(state(t)).toBe("scheduled");
    expect(ctx(t).timeoutReason).toBe(TimeoutReason.Execution);
  });

  it("RESUME gives a resumed attempt a fresh heartbeat deadline", () => {
    const t = startTask();
    start(t);
    send(t, { type: "PAUSE" });
    t.clock.advance(50_000);
    send(t, { type: "RESUME" });
    expect(ctx(t).heartbeatDeadline).toBe(T0 + 50_000 + HEARTBEAT_MS);
  });

  it("PAUSE afterAction lets the action finish, then holds before the next one", () => {
    const t = startTask();
    start(t);
    send(t, { type: "PAUSE", mode: "afterAction" });
    expect(state(t)).toEqual({ running: "executing" });
    expect(ctx(t).pauseAfterAction).toBe(true);
    expect(t.spies.sendPause).not.toHaveBeenCalled();
    t.clock.advance(2_000);
    finishAction(t, OK);
    expect(state(t)).toEqual({ paused: "holding" });
    expect(ctx(t)).toMatchObject({
      currentActionIdx: 1,
      pausedAt: T0 + 2_000,
      pauseAfterAction: false,
      results: [OK, null],
    });
    expect(t.spies.requestDispatch).toHaveBeenCalledTimes(1);
    send(t, { type: "RESUME" });
    expect(state(t)).toBe("ready");
    expect(t.spies.requestDispatch).toHaveBeenCalledTimes(2);
  });

  it("PAUSE afterAction on the last action lets the task finish", () => {
    const t = startTask({ actions: oneAction });
    start(t);
    send(t, { type: "PAUSE", mode: "afterAction" });
    finishAction(t, OK);
    expect(state(t)).toBe("done");
  });

  it("PAUSE in scheduled holds; RESUME before executeAt waits for it again", () => {
    const t = startTask({ executeAt: T0 + 10_000 });
    t.clock.advance(1_000);
    send(t, { type: "PAUSE" });
    expect(state(t)).toEqual({ paused: "holding" });
    expect(ctx(t).pausedAt).toBe(T0 + 1_000);
    expect(t.clock.pending).toBe(0);
    t.clock.advance(1_000);
    send(t, { type: "RESUME" });
    expect(state(t)).toBe("scheduled");
    t.clock.advance(7_999);
    expect(state(t)).toBe("scheduled");
    t.clock.advance(1);
    expect(state(t)).toBe("ready");
  });

  it("PAUSE in scheduled, RESUME after executeAt → ready at once", () => {
    const t = startTask({ executeAt: T0 + 10_000 });
    send(t, { type: "PAUSE" });
    t.clock.advance(20_000);
    expect(state(t)).toEqual({ paused: "holding" });
    send(t, { type: "RESUME" });
    expect(state(t)).toBe("ready");
    expect(t.spies.requestDispatch).toHaveBeenCalledTimes(1);
  });

  it("PAUSE in ready holds; RESUME makes it ready and asks for dispatch again", () => {
    const t = startTask();
    send(t, { type: "PAUSE" });
    expect(state(t)).toEqual({ paused: "holding" });
    send(t, { type: "RESUME" });
    expect(state(t)).toBe("ready");
    expect(t.spies.requestDispatch).toHaveBeenCalledTimes(2);
  });

  it("PAUSE in dispatched suspends the attempt and stops the delivery clock", () => {
    const t = startTask();
    dispatch(t);
    send(t, { type: "PAUSE" });
    expect(state(t)).toEqual({ paused: "suspended" });
    expect(t.spies.sendPause).toHaveBeenCalledTimes(1);
    t.clock.advance(DELIVERY_MS * 10);
    expect(state(t)).toEqual({ paused: "suspended" });
  });

  it("STARTED while suspended records the start and stays suspended", () => {
    const t = startTask();
    dispatch(t);
    send(t, { type: "PAUSE" });
    t.clock.advance(400);
    send(t, { type: "STARTED", execId: "e1" });
    expect(state(t)).toEqual({ paused: "suspended" });
    expect(ctx(t)).toMatchObject({
      startedAt: T0 + 400,
      deliveryDeadline: null,
      executionDeadline: T0 + 400 + EXECUTION_MS,
    });
    expectRefused(t.actor, { type: "STARTED", execId: "stale", at: t.clock.now() });
  });

  describe("ACTION_DONE arriving while suspended", () => {
    function suspended(overrides: Partial<TaskInput> = {}): StartedTask {
      const t = startTask(overrides);
      start(t);
      send(t, { type: "PAUSE" });
      return t;
    }

    it("success with more actions → holding, at the next action", () => {
      const t = suspended();
      finishAction(t, OK);
      expect(state(t)).toEqual({ paused: "holding" });
      expect(ctx(t).currentActionIdx).toBe(1);
      send(t, { type: "RESUME" });
      expect(state(t)).toBe("ready");
    });

    it("success on the last action → done", () => {
      const t = suspended({ actions: oneAction });
      finishAction(t, OK);
      expect(state(t)).toBe("done");
    });

    it("success on the last action of an open task → waitingForConclude", () => {
      const t = suspended({ actions: oneAction, open: true });
      finishAction(t, OK);
      expect(state(t)).toEqual({ running: "waitingForConclude" });
    });

    it("failure with retries left → holding; RESUME waits out the backoff", () => {
      const t = suspended();
      t.clock.advance(100);
      finishAction(t, BOOM);
      expect(state(t)).toEqual({ paused: "holding" });
      expect(ctx(t).executeAt).toBe(T0 + 100 + BACKOFF_MS);
      send(t, { type: "RESUME" });
      expect(state(t)).toBe("scheduled");
      t.clock.advance(BACKOFF_MS - 1);
      expect(state(t)).toBe("scheduled");
      t.clock.advance(1);
      expect(state(t)).toBe("ready");
    });

    it("failure without retries → failed", () => {
      const t = suspended({ retry: { limit: 0, backoffMs: 0, factor: 1, maxBackoffMs: 0 } });
      finishAction(t, BOOM);
      expect(state(t)).toBe("failed");
    });

    it("a TIMEOUT with retries left → holding, without retries → timedOut", () => {
      const retrying = suspended();
      send(retrying, { type: "TIMEOUT", reason: TimeoutReason.AgentOffline });
      expect(state(retrying)).toEqual({ paused: "holding" });
      expect(retrying.spies.sendCancel).toHaveBeenCalledTimes(1);
      const last = suspended({ retry: { limit: 0, backoffMs: 0, factor: 1, maxBackoffMs: 0 } });
      send(last, { type: "TIMEOUT", reason: TimeoutReason.AgentOffline });
      expect(state(last)).toBe("timedOut");
      expect(last.spies.sendCancel).toHaveBeenCalledTimes(1);
    });
  });

  // Regression (fixed): RESUME from a suspension that began in `dispatched` enters running.executing
  // with no execution deadline, and `executing` ignores the STARTED that follows, so
  // the attempt runs with no execution limit at all.
  it("an attempt paused before it started still gets its execution limit", () => {
    const t = startTask({ timeouts: { deliveryMs: 0, executionMs: 2_000, heartbeatMs: 0 } });
    dispatch(t);
    send(t, { type: "PAUSE" });
    send(t, { type: "RESUME" });
    send(t, { type: "STARTED", execId: "e1" });
    t.clock.advance(2_000);
    expect(ctx(t).timeoutReason).toBe(TimeoutReason.Execution);
  });

  // Regression (fixed): a pending "pause after this action" is honoured when the result comes in
  // `running` but dropped when the same result overtakes its start report (`dispatched`).
  it("a pause-after-action request holds even when the result overtakes STARTED", () => {
    const t = startTask();
    start(t);
    send(t, { type: "PAUSE", mode: "afterAction" });
    finishAction(t, BOOM); // retried: the pause waits for the end of this action
    t.clock.advance(BACKOFF_MS);
    dispatch(t, "e2");
    finishAction(t, OK, "e2");
    expect(state(t)).toEqual({ paused: "holding" });
  });
});

describe("task: cancel", () => {
  const reachable: readonly [string, () => StartedTask, boolean][] = [
    ["scheduled", () => startTask({ executeAt: T0 + 10_000 }), false],
    ["ready", () => startTask(), false],
    [
      "dispatched",
      () => {
        const t = startTask();
        dispatch(t);
        return t;
      },
      true,
    ],
    [
      "running.executing",
      () => {
        const t = startTask();
        start(t);
        return t;
      },
      true,
    ],
    ["running.waitingForConclude", waitingForConclude, true],
    [
      "running.concluding",
      () => {
        const t = waitingForConclude();
        send(t, { type: "CONCLUDE", delayMs: 5_000 });
        return t;
      },
      true,
    ],
    [
      "paused.holding",
      () => {
        const t = startTask();
        send(t, { type: "PAUSE" });
        return t;
      },
      true,
    ],
    [
      "paused.suspended",
      () => {
        const t = startTask();
        start(t);
        send(t, { type: "PAUSE" });
        return t;
      },
      true,
    ],
  ];

  it.each(reachable)("CANCEL from %s → cancelled", (_name, reach, tellsAgent) => {
    const t = reach();
    t.clock.advance(42);
    send(t, { type: "CANCEL", reason: "operator" });
    const snapshot = t.actor.getSnapshot();
    expect(snapshot.value).toBe("cancelled");
    expect(snapshot.status).toBe("done");
    expect(snapshot.context).toMatchObject({
      outcome: TaskOutcome.Cancelled,
      finishedAt: T0 + 42,
      attemptActive: false,
    });
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(tellsAgent ? 1 : 0);
    expect(t.clock.pending).toBe(0);
  });
});

describe("task: cancel after the current action", () => {
  it("from running: the action finishes, its result is kept, no later action starts", () => {
    const t = startTask();
    start(t);
    t.clock.advance(100);
    send(t, { type: "CANCEL", mode: "afterAction" });
    expect(state(t)).toBe("cancelling");
    expect(ctx(t)).toMatchObject({ cancelRequestedAt: T0 + 100, attemptActive: true });
    expect(t.spies.sendCancel).not.toHaveBeenCalled();
    t.clock.advance(400);
    finishAction(t, OK);
    expect(state(t)).toBe("cancelled");
    expect(ctx(t)).toMatchObject({
      outcome: TaskOutcome.Cancelled,
      currentActionIdx: 0,
      finishedAt: T0 + 500,
      attemptActive: false,
    });
    expect(ctx(t).results[0]).toEqual(OK);
    expect(t.spies.requestDispatch).toHaveBeenCalledTimes(1);
    expect(t.spies.sendCancel).not.toHaveBeenCalled();
    expect(t.clock.pending).toBe(0);
  });

  it("from dispatched: a late start report keeps the attempt alive until it ends", () => {
    const t = startTask();
    dispatch(t);
    send(t, { type: "CANCEL", mode: "afterAction" });
    expect(state(t)).toBe("cancelling");
    t.clock.advance(DELIVERY_MS - 1);
    send(t, { type: "STARTED", execId: "e1" });
    t.clock.advance(HEARTBEAT_MS - 1);
    send(t, { type: "PROGRESS", execId: "e1" });
    t.clock.advance(HEARTBEAT_MS - 1);
    expect(state(t)).toBe("cancelling");
    finishAction(t, BOOM);
    expect(state(t)).toBe("cancelled");
    expect(ctx(t).error).toBe("boom");
    expect(t.spies.sendCancel).not.toHaveBeenCalled();
  });

  it("an action that never reports back is stopped at its deadline", () => {
    const t = startTask();
    start(t);
    send(t, { type: "CANCEL", mode: "afterAction" });
    t.clock.advance(HEARTBEAT_MS - 1);
    expect(state(t)).toBe("cancelling");
    t.clock.advance(1);
    expect(state(t)).toBe("cancelled");
    expect(ctx(t).finishedAt).toBe(T0 + HEARTBEAT_MS);
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(1);
  });

  it("an unstarted attempt is bounded by its delivery deadline", () => {
    const t = startTask();
    dispatch(t);
    send(t, { type: "CANCEL", mode: "afterAction" });
    t.clock.advance(DELIVERY_MS);
    expect(state(t)).toBe("cancelled");
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(1);
  });

  it("a plain CANCEL while draining stops the action now", () => {
    const t = startTask();
    start(t);
    send(t, { type: "CANCEL", mode: "afterAction" });
    send(t, { type: "CANCEL", mode: "afterAction" });
    expect(state(t)).toBe("cancelling");
    send(t, { type: "CANCEL" });
    expect(state(t)).toBe("cancelled");
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(1);
  });

  it("a lost agent ends the drain", () => {
    const t = startTask();
    start(t);
    send(t, { type: "CANCEL", mode: "afterAction" });
    send(t, { type: "TIMEOUT", reason: TimeoutReason.AgentOffline });
    expect(state(t)).toBe("cancelled");
    expect(ctx(t).outcome).toBe(TaskOutcome.Cancelled);
  });

  it.each([
    ["scheduled", () => startTask({ executeAt: T0 + 10_000 })],
    ["ready", () => startTask()],
    [
      "paused.holding",
      () => {
        const t = startTask();
        send(t, { type: "PAUSE" });
        return t;
      },
    ],
    ["running.waitingForConclude", waitingForConclude],
  ])("with no action running (%s) it is cancelled at once", (_name, reach) => {
    const t = reach();
    send(t, { type: "CANCEL", mode: "afterAction" });
    expect(state(t)).toBe("cancelled");
    expect(ctx(t).cancelRequestedAt).toBeNull();
  });
});

describe("task: open tasks", () => {
  it("the last action leaves an open task waiting; CONCLUDE ends it after the delay", () => {
    const t = waitingForConclude();
    expect(state(t)).toEqual({ running: "waitingForConclude" });
    expect(t.clock.pending).toBe(0);
    t.clock.advance(1_000);
    send(t, { type: "CONCLUDE", delayMs: 5_000 });
    expect(state(t)).toEqual({ running: "concluding" });
    expect(ctx(t).concludeAt).toBe(T0 + 6_000);
    t.clock.advance(4_999);
    expect(state(t)).toEqual({ running: "concluding" });
    t.clock.advance(1);
    expect(state(t)).toBe("done");
    expect(ctx(t).outcome).toBe(TaskOutcome.Succeeded);
    expect(t.spies.sendCancel).not.toHaveBeenCalled();
  });

  it("CONCLUDE with delay 0 ends the task at once", () => {
    const t = waitingForConclude();
    send(t, { type: "CONCLUDE", delayMs: 0 });
    t.clock.advance(0);
    expect(state(t)).toBe("done");
  });

  it("CONCLUDE while the action still runs cancels the attempt when the delay ends", () => {
    const t = startTask({ open: true, actions: oneAction });
    start(t);
    send(t, { type: "CONCLUDE", delayMs: 1_000 });
    expect(state(t)).toEqual({ running: "concluding" });
    t.clock.advance(1_000);
    expect(state(t)).toBe("done");
    expect(t.spies.sendCancel).toHaveBeenCalledTimes(1);
  });

  it("a result arriving while concluding is recorded, and nothing is cancelled", () => {
    const t = startTask({ open: true, actions: oneAction });
    start(t);
    send(t, { type: "CONCLUDE", delayMs: 1_000 });
    finishAction(t, OK);
    expect(state(t)).toEqual({ running: "concluding" });
    expect(ctx(t)).toMatchObject({ attemptActive: false, results: [OK] });
    t.clock.advance(1_000);
    expect(state(t)).toBe("done");
    expect(t.spies.sendCancel).not.toHaveBeenCalled();
  });

  it("CONCLUDE is refused for a task that is not open", () => {
    const t = startTask();
    start(t);
    expectRefused(t.actor, { type: "CONCLUDE", delayMs: 0, at: t.clock.now() });
  });

  // Regression (fixed): the `validConcludeDelay` guard is declared but no transition uses it; a NaN or
  // Infinity delay leaves the task in `concluding` forever.
  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])(
    "CONCLUDE with delay %s is refused",
    (delayMs) => {
      const t = waitingForConclude();
      expectRefused(t.actor, { type: "CONCLUDE", delayMs, at: t.clock.now() });
    },
  );

  // Regression: the conclude timer's event has no `at` (as for the timeouts).
  it("a concluded task finishes at its conclude time", () => {
    const t = waitingForConclude();
    send(t, { type: "CONCLUDE", delayMs: 5_000 });
    t.clock.advance(5_000);
    expect(state(t)).toBe("done");
    expect(ctx(t).finishedAt).toBe(T0 + 5_000);
  });
});

describe("task: REARM after a restore", () => {
  /** Restores `context` in `value` on a clock at `now`, the way the runtime does. */
  function restore(value: StateValue, context: TaskContext, now: number): StartedTask {
    const clock = new TestClock(now);
    const spies = taskSpies();
    const machine = spiedTaskMachine(spies);
    const input = taskInput(context.createdAt);
    const snapshot = machine.resolveState({ value, context });
    const actor = createActor(machine, { snapshot, input, clock });
    actor.start();
    return { actor, clock, spies, input };
  }

  function contextIn(build: (t: StartedTask) => void): TaskContext {
    const t = startTask();
    build(t);
    return ctx(t);
  }

  it("a restored task arms nothing until REARM", () => {
    const context = contextIn((t) => dispatch(t));
    const t = restore("dispatched", context, T0 + 3_000);
    expect(t.clock.pending).toBe(0);
    t.clock.advance(DELIVERY_MS * 2);
    expect(state(t)).toBe("dispatched");
  });

  it("dispatched: REARM re-arms the delivery timeout for exactly the time left", () => {
    const context = contextIn((t) => dispatch(t));
    const t = restore("dispatched", context, T0 + 3_000);
    send(t, { type: "REARM" });
    expect(state(t)).toBe("dispatched");
    expect(t.spies.sendRun).toHaveBeenCalledTimes(1);
    expect(lastContext(t.spies.sendRun).execId).toBe("e1");
    t.clock.advance(1_999);
    expect(state(t)).toBe("dispatched");
    t.clock.advance(1);
    expect(state(t)).toBe("scheduled");
    expect(ctx(t).timeoutReason).toBe(TimeoutReason.Delivery);
  });

  it("scheduled: REARM re-arms executeAt for exactly the time left", () => {
    const context = contextIn(() => {});
    const t = restore("scheduled", { ...context, executeAt: T0 + 10_000 }, T0 + 6_000);
    send(t, { type: "REARM" });
    t.clock.advance(3_999);
    expect(state(t)).toBe("scheduled");
    t.clock.advance(1);
    expect(state(t)).toBe("ready");
    expect(t.spies.requestDispatch).toHaveBeenCalledTimes(1);
  });

  it("scheduled: REARM after executeAt passed makes it ready at once", () => {
    const context = contextIn(() => {});
    const t = restore("scheduled", { ...context, executeAt: T0 + 10_000 }, T0 + 60_000);
    send(t, { type: "REARM" });
    expect(state(t)).toBe("ready");
  });

  it("executing: REARM gives the agent a whole heartbeat window from the restore", () => {
    const context = contextIn((t) => start(t));
    const t = restore({ running: "executing" }, context, T0 + 4_000);
    send(t, { type: "REARM" });
    t.clock.advance(HEARTBEAT_MS - 1);
    expect(state(t)).toEqual({ running: "executing" });
    t.clock.advance(1);
    expect(ctx(t).timeoutReason).toBe(TimeoutReason.Heartbeat);
  });

  it("executing: an engine down past the heartbeat deadline does not count as the agent's silence", () => {
    // Found by the crash harness: restored after a long downtime, the attempt timed
    // out at once, and the agent's result for it was then ignored.
    const context = contextIn((t) => start(t));
    const t = restore({ running: "executing" }, context, T0 + HEARTBEAT_MS * 3);
    send(t, { type: "REARM" });
    expect(state(t)).toEqual({ running: "executing" });
    send(t, { type: "PROGRESS", execId: "e1" });
    finishAction(t, OK);
    expect(ctx(t).results[0]).toEqual(OK);
    expect(ctx(t).timeoutReason).toBeNull();
  });

  it("executing: REARM re-arms the execution limit for exactly the time left", () => {
    const context = contextIn((t) => start(t));
    const t = restore({ running: "executing" }, context, T0 + EXECUTION_MS - 3_000);
    send(t, { type: "REARM" });
    t.clock.advance(2_999);
    expect(state(t)).toEqual({ running: "executing" });
    t.clock.advance(1);
    expect(ctx(t).timeoutReason).toBe(TimeoutReason.Execution);
  });

  it("concluding: REARM re-arms the conclude delay for exactly the time left", () => {
    const open = startTask({ open: true, actions: oneAction });
    start(open);
    finishAction(open, OK);
    send(open, { type: "CONCLUDE", delayMs: 8_000 });
    const t = restore({ running: "concluding" }, ctx(open), T0 + 5_000);
    send(t, { type: "REARM" });
    t.clock.advance(2_999);
    expect(state(t)).toEqual({ running: "concluding" });
    t.clock.advance(1);
    expect(state(t)).toBe("done");
  });

  it("ready: REARM asks for a dispatch slot again", () => {
    const context = contextIn(() => {});
    const t = restore("ready", context, T0 + 1_000);
    expect(t.spies.requestDispatch).not.toHaveBeenCalled();
    send(t, { type: "REARM" });
    expect(state(t)).toBe("ready");
    expect(t.spies.requestDispatch).toHaveBeenCalledTimes(1);
  });
});

describe("task: side effects in order", () => {
  it("requestDispatch, sendRun, sendPause, sendResume, sendCancel fire once each, in order", () => {
    const t = startTask();
    start(t);
    send(t, { type: "PAUSE" });
    send(t, { type: "RESUME" });
    send(t, { type: "CANCEL" });
    const order = Object.entries(t.spies)
      .map(([name, spy]: [string, Mock]) => {
        expect(spy, name).toHaveBeenCalledTimes(1);
        return [name, spy.mock.invocationCallOrder[0] ?? 0] as const;
      })
      .sort((a, b) => a[1] - b[1])
      .map(([name]) => name);
    expect(order).toEqual(["requestDispatch", "sendRun", "sendPause", "sendResume", "sendCancel"]);
  });
});

describe("task: refused events", () => {
  type EventType = TaskEvent["type"];

  /** One event of each type, for the current attempt "e1". */
  const samples: Record<EventType, Untimed<TaskEvent>> = {
    DISPATCH: { type: "DISPATCH", execId: "e9", agentId: "a2" },
    STARTED: { type: "STARTED", execId: "e1" },
    PROGRESS: { type: "PROGRESS", execId: "e1", progress: 5 },
    ACTION_DONE: { type: "ACTION_DONE", execId: "e1", outcome: OK },
    PAUSE: { type: "PAUSE" },
    RESUME: { type: "RESUME" },
    CANCEL: { type: "CANCEL" },
    CONCLUDE: { type: "CONCLUDE", delayMs: 0 },
    TIMEOUT: { type: "TIMEOUT", reason: TimeoutReason.AgentOffline },
    REARM: { type: "REARM" },
  };
  const allTypes = Object.keys(samples) as EventType[];

  const noRetry = { retry: { limit: 0, backoffMs: 0, factor: 1, maxBackoffMs: 0 } };
  const byState: readonly { name: string; reach: () => StartedTask; accepts: EventType[] }[] = [
    {
      name: "scheduled",
      reach: () => startTask({ executeAt: T0 + 10_000 }),
      accepts: ["PAUSE", "CANCEL", "REARM"],
    },
    { name: "ready", reach: () => startTask(), accepts: ["DISPATCH", "PAUSE", "CANCEL", "REARM"] },
    {
      name: "dispatched",
      reach: () => {
        const t = startTask();
        dispatch(t);
        return t;
      },
      accepts: ["STARTED", "ACTION_DONE", "PAUSE", "CANCEL", "TIMEOUT", "REARM"],
    },
    {
      name: "running.executing",
      reach: () => {
        const t = startTask();
        start(t);
        return t;
      },
      accepts: ["PROGRESS", "ACTION_DONE", "PAUSE", "CANCEL", "TIMEOUT", "REARM"],
    },
    {
      name: "running.waitingForConclude",
      reach: waitingForConclude,
      accepts: ["CONCLUDE", "CANCEL"],
    },
    {
      name: "running.concluding",
      reach: () => {
        const t = waitingForConclude();
        send(t, { type: "CONCLUDE", delayMs: 5_000 });
        return t;
      },
      accepts: ["ACTION_DONE", "CANCEL", "REARM"],
    },
    {
      name: "paused.holding",
      reach: () => {
        const t = startTask();
        send(t, { type: "PAUSE" });
        return t;
      },
      accepts: ["RESUME", "CANCEL"],
    },
    {
      name: "paused.suspended",
      reach: () => {
        const t = startTask();
        start(t);
        send(t, { type: "PAUSE" });
        return t;
      },
      accepts: ["STARTED", "ACTION_DONE", "RESUME", "CANCEL", "TIMEOUT"],
    },
    {
      name: "cancelling",
      reach: () => {
        const t = startTask();
        start(t);
        send(t, { type: "CANCEL", mode: "afterAction" });
        return t;
      },
      accepts: ["STARTED", "PROGRESS", "ACTION_DONE", "CANCEL", "TIMEOUT", "REARM"],
    },
    {
      name: "done",
      reach: () => {
        const t = startTask({ actions: oneAction });
        start(t);
        finishAction(t, OK);
        return t;
      },
      accepts: [],
    },
    {
      name: "failed",
      reach: () => {
        const t = startTask(noRetry);
        start(t);
        finishAction(t, BOOM);
        return t;
      },
      accepts: [],
    },
    {
      name: "cancelled",
      reach: () => {
        const t = startTask();
        send(t, { type: "CANCEL" });
        return t;
      },
      accepts: [],
    },
    {
      name: "timedOut",
      reach: () => {
        const t = startTask(noRetry);
        dispatch(t);
        t.clock.advance(DELIVERY_MS);
        return t;
      },
      accepts: [],
    },
  ];

  const cases = byState.flatMap(({ name, reach, accepts }) =>
    allTypes.map((type) => ({ name, reach, type, accepted: accepts.includes(type) })),
  );

  it("the table reaches the state it names", () => {
    for (const { name, reach } of byState) {
      const [parent, child] = name.split(".");
      const expected: StateValue = child === undefined ? name : { [parent as string]: child };
      expect(state(reach()), name).toEqual(expected);
    }
  });

  it("every client command is among the events tried", () => {
    for (const command of TASK_COMMANDS) expect(allTypes).toContain(command);
  });

  it.each(cases.filter((c) => !c.accepted))("$name refuses $type", ({ reach, type }) => {
    const t = reach();
    expectRefused(t.actor, { ...samples[type], at: t.clock.now() } as TaskEvent);
  });

  it.each(cases.filter((c) => c.accepted))("$name accepts $type", ({ reach, type }) => {
    const t = reach();
    expect(t.actor.getSnapshot().can({ ...samples[type], at: t.clock.now() } as TaskEvent)).toBe(
      true,
    );
  });

  it("PAUSE afterAction is refused once paused", () => {
    const t = startTask();
    send(t, { type: "PAUSE" });
    expectRefused(t.actor, { type: "PAUSE", mode: "afterAction", at: t.clock.now() });
  });
});
