/**
 * The lane machine: a serial queue granting one task at a time in (priority, id) order.
 */
import { describe, expect, it, vi } from "vitest";
import { createActor } from "xstate";
import { type LaneEvent, laneMachine } from "../../../machines";
import { expectRefused, sendNow, T0, TestClock, type Untimed } from "./helpers";

function startLane() {
  const clock = new TestClock();
  const grant = vi.fn();
  const continueLocked = vi.fn();
  const machine = laneMachine.provide({ actions: { grant, continueLocked } });
  const actor = createActor(machine, { input: { key: "db", tenant: "t1", now: T0 }, clock });
  actor.start();
  const send = (event: Untimed<LaneEvent>) => sendNow(actor, clock, event);
  const enqueue = (taskId: number, priority = 0) => send({ type: "ENQUEUE", taskId, priority });
  /** Task ids passed to `grant`, in call order. */
  const granted = () => grant.mock.calls.map((call) => (call[1] as { taskId: number }).taskId);
  const queued = () => actor.getSnapshot().context.queue.map((entry) => entry.taskId);
  const running = () => actor.getSnapshot().context.running;
  const value = () => actor.getSnapshot().value;
  return { actor, clock, grant, continueLocked, send, enqueue, granted, queued, running, value };
}

describe("lane: granting", () => {
  it("starts open and idle with nothing queued", () => {
    const lane = startLane();
    expect(lane.value()).toEqual({ open: "idle" });
    expect(lane.actor.getSnapshot().context).toMatchObject({
      key: "db",
      tenant: "t1",
      queue: [],
      running: null,
      updatedAt: T0,
    });
  });

  it("grants an idle lane to the first task at once", () => {
    const lane = startLane();
    lane.clock.advance(10);
    lane.enqueue(7);
    expect(lane.value()).toEqual({ open: "busy" });
    expect(lane.running()).toBe(7);
    expect(lane.granted()).toEqual([7]);
    expect(lane.actor.getSnapshot().context.updatedAt).toBe(T0 + 10);
  });

  it("runs one task at a time; the rest wait", () => {
    const lane = startLane();
    lane.enqueue(1);
    lane.enqueue(2);
    lane.enqueue(3);
    expect(lane.running()).toBe(1);
    expect(lane.queued()).toEqual([2, 3]);
    expect(lane.granted()).toEqual([1]);
  });

  it("grants in (priority, taskId) order", () => {
    const lane = startLane();
    lane.send({ type: "PAUSE" });
    for (const [taskId, priority] of [
      [7, 2],
      [3, 1],
      [5, 1],
      [2, 2],
      [9, 0],
      [4, -1],
    ] as const) {
      lane.enqueue(taskId, priority);
    }
    expect(lane.queued()).toEqual([4, 9, 3, 5, 2, 7]);
    expect(lane.granted()).toEqual([]);
    lane.send({ type: "RESUME" });
    for (let i = 0; i < 5; i++) {
      lane.send({ type: "RELEASE", taskId: lane.running() as number });
    }
    expect(lane.granted()).toEqual([4, 9, 3, 5, 2, 7]);
  });

  it("RELEASE of the running task grants the next; the last one leaves the lane idle", () => {
    const lane = startLane();
    lane.enqueue(1);
    lane.enqueue(2);
    lane.send({ type: "RELEASE", taskId: 1 });
    expect(lane.running()).toBe(2);
    expect(lane.granted()).toEqual([1, 2]);
    lane.send({ type: "RELEASE", taskId: 2 });
    expect(lane.value()).toEqual({ open: "idle" });
    expect(lane.running()).toBeNull();
    expect(lane.granted()).toEqual([1, 2]);
  });

  it("REMOVE of the running task grants the next", () => {
    const lane = startLane();
    lane.enqueue(1);
    lane.enqueue(2);
    lane.send({ type: "REMOVE", taskId: 1 });
    expect(lane.running()).toBe(2);
    expect(lane.granted()).toEqual([1, 2]);
  });

  it("REMOVE of a queued task drops it without touching the running one", () => {
    const lane = startLane();
    lane.enqueue(1);
    lane.enqueue(2);
    lane.enqueue(3);
    lane.send({ type: "REMOVE", taskId: 2 });
    expect(lane.running()).toBe(1);
    expect(lane.queued()).toEqual([3]);
    lane.send({ type: "RELEASE", taskId: 1 });
    expect(lane.granted()).toEqual([1, 3]);
  });

  it("a duplicate ENQUEUE is ignored", () => {
    const lane = startLane();
    lane.enqueue(1);
    lane.enqueue(2, 5);
    lane.enqueue(2, 0);
    expect(lane.actor.getSnapshot().context.queue).toEqual([{ taskId: 2, priority: 5 }]);
    lane.send({ type: "RELEASE", taskId: 1 });
    lane.send({ type: "RELEASE", taskId: 2 });
    expect(lane.granted()).toEqual([1, 2]);
    expect(lane.value()).toEqual({ open: "idle" });
  });

  it("RELEASE or a guarded REMOVE for a task that is not running changes nothing", () => {
    const lane = startLane();
    expectRefused(lane.actor, { type: "RELEASE", taskId: 1, at: T0 });
    lane.enqueue(1);
    lane.enqueue(2);
    expectRefused(lane.actor, { type: "RELEASE", taskId: 2, at: T0 });
    expectRefused(lane.actor, { type: "RELEASE", taskId: 99, at: T0 });
    expect(lane.granted()).toEqual([1]);
  });
});

describe("lane: pause and resume", () => {
  it("PAUSE leaves the running task alone and grants nothing, even after RELEASE", () => {
    const lane = startLane();
    lane.enqueue(1);
    lane.send({ type: "PAUSE" });
    expect(lane.value()).toEqual({ paused: "busy" });
    expect(lane.running()).toBe(1);
    lane.enqueue(2);
    lane.enqueue(3);
    expect(lane.queued()).toEqual([2, 3]);
    lane.send({ type: "RELEASE", taskId: 1 });
    expect(lane.value()).toEqual({ paused: "idle" });
    expect(lane.running()).toBeNull();
    expect(lane.granted()).toEqual([1]);
  });

  it("REMOVE of the running task while paused grants nothing", () => {
    const lane = startLane();
    lane.enqueue(1);
    lane.enqueue(2);
    lane.send({ type: "PAUSE" });
    lane.send({ type: "REMOVE", taskId: 1 });
    expect(lane.value()).toEqual({ paused: "idle" });
    expect(lane.granted()).toEqual([1]);
  });

  it("REMOVE of a queued task while paused drops it", () => {
    const lane = startLane();
    lane.send({ type: "PAUSE" });
    lane.enqueue(1);
    lane.enqueue(2);
    lane.send({ type: "REMOVE", taskId: 1 });
    expect(lane.queued()).toEqual([2]);
    expect(lane.value()).toEqual({ paused: "idle" });
  });

  it("RESUME of an idle paused lane grants the head", () => {
    const lane = startLane();
    lane.send({ type: "PAUSE" });
    expect(lane.value()).toEqual({ paused: "idle" });
    lane.enqueue(5);
    lane.enqueue(4);
    lane.send({ type: "RESUME" });
    expect(lane.value()).toEqual({ open: "busy" });
    expect(lane.granted()).toEqual([4]);
  });

  it("RESUME with continue resumes the task holding the lane", () => {
    const lane = startLane();
    lane.enqueue(1);
    lane.send({ type: "PAUSE" });
    lane.send({ type: "RESUME", continue: true });
    expect(lane.value()).toEqual({ open: "busy" });
    expect(lane.continueLocked).toHaveBeenCalledTimes(1);
    expect(lane.continueLocked.mock.lastCall?.[1]).toEqual({ taskId: 1 });
    expect(lane.granted()).toEqual([1]);
  });

  it("RESUME without continue leaves the holder alone", () => {
    const lane = startLane();
    lane.enqueue(1);
    lane.send({ type: "PAUSE" });
    lane.send({ type: "RESUME" });
    expect(lane.value()).toEqual({ open: "busy" });
    expect(lane.continueLocked).not.toHaveBeenCalled();
  });

  it("RESUME with continue on a lane nobody holds continues nothing", () => {
    const lane = startLane();
    lane.send({ type: "PAUSE" });
    lane.send({ type: "RESUME", continue: true });
    expect(lane.value()).toEqual({ open: "idle" });
    expect(lane.continueLocked).not.toHaveBeenCalled();
  });

  it("PAUSE while paused and RESUME while open only touch updatedAt", () => {
    const lane = startLane();
    lane.clock.advance(5);
    lane.send({ type: "RESUME" });
    expect(lane.value()).toEqual({ open: "idle" });
    expect(lane.actor.getSnapshot().context.updatedAt).toBe(T0 + 5);
    lane.send({ type: "PAUSE" });
    lane.clock.advance(5);
    lane.send({ type: "PAUSE" });
    expect(lane.value()).toEqual({ paused: "idle" });
    expect(lane.actor.getSnapshot().context.updatedAt).toBe(T0 + 10);
  });

  it("RELEASE for a task that is not running is refused while paused", () => {
    const lane = startLane();
    lane.enqueue(1);
    lane.enqueue(2);
    lane.send({ type: "PAUSE" });
    expectRefused(lane.actor, { type: "RELEASE", taskId: 2, at: T0 });
    lane.send({ type: "RELEASE", taskId: 1 });
    expectRefused(lane.actor, { type: "RELEASE", taskId: 1, at: T0 });
  });
});
