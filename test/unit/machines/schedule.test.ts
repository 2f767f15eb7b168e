/**
 * The schedule machine: interval ticks on the simulated clock, per-target overlap
 * guard, pause, resume and delete; and the frequency parser.
 */
import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import {
  parseFrequency,
  SCHEDULE_COMMANDS,
  type ScheduleContext,
  type ScheduleEvent,
  type ScheduleInput,
  scheduleMachine,
} from "../../../machines";
import { expectRefused, sendNow, T0, TestClock, type Untimed } from "./helpers";

describe("parseFrequency", () => {
  it.each([
    ["every 1 seconds", 1_000],
    ["every 5 minutes", 300_000],
    ["every 2 hours", 7_200_000],
    ["every 90 seconds", 90_000],
    // The largest count whose milliseconds are still a safe integer.
    ["every 9007199254740 seconds", 9_007_199_254_740_000],
  ])("%j → %d ms", (frequency, ms) => {
    expect(parseFrequency(frequency)).toBe(ms);
  });

  it.each([
    "every 0 seconds",
    "every 5 fortnights",
    "every 1 second",
    " every 1 seconds",
    "every 1 seconds ",
    "every 01 seconds",
    "every -1 seconds",
    "every 1.5 seconds",
    "every  1 seconds",
    "Every 1 seconds",
    "every 1 Seconds",
    "every seconds",
    "every 1 seconds\n",
    "",
    "every 9007199254741 seconds",
    "every 9007199254740993 hours",
    `every ${"9".repeat(400)} minutes`,
  ])("%j → null", (frequency) => {
    expect(parseFrequency(frequency)).toBeNull();
  });
});

const SECOND = 1_000;

function startSchedule(overrides: Partial<ScheduleInput> = {}) {
  const clock = new TestClock();
  const fired: number[] = [];
  const machine = scheduleMachine.provide({
    actions: { fire: () => fired.push(clock.now() - T0) },
  });
  const input: ScheduleInput = {
    id: "s1",
    tenant: "t1",
    command: "uptime",
    everyMs: SECOND,
    cron: null,
    firstAt: T0 + SECOND,
    now: T0,
    ...overrides,
  };
  const actor = createActor(machine, { input, clock });
  actor.start();
  const send = (event: Untimed<ScheduleEvent>) => sendNow(actor, clock, event);
  const context = (): ScheduleContext => actor.getSnapshot().context;
  return { actor, clock, fired, send, context };
}

describe("schedule: ticks", () => {
  it("fires once per interval on the clock", () => {
    const s = startSchedule();
    s.clock.advance(SECOND - 1);
    expect(s.fired).toEqual([]);
    s.clock.advance(10 * SECOND - (SECOND - 1));
    expect(s.fired).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => n * SECOND));
    expect(s.context().ticks).toBe(10);
  });

  it("skips missed ticks on RESUME and keeps the phase", () => {
    const s = startSchedule();
    s.clock.advance(2_500);
    expect(s.fired).toEqual([1_000, 2_000]);
    s.send({ type: "PAUSE" });
    s.clock.advance(4_800); // 7_300
    s.send({ type: "RESUME" });
    expect(s.context().nextAt).toBe(T0 + 8_000);
    expect(s.context().ticks).toBe(2);
    s.clock.advance(699);
    expect(s.fired).toEqual([1_000, 2_000]);
    s.clock.advance(1);
    expect(s.fired).toEqual([1_000, 2_000, 8_000]);
  });

  it("REARM after a restore skips missed ticks and fires at the next one in phase", () => {
    const clock = new TestClock(T0 + 4_500);
    const fired: number[] = [];
    const machine = scheduleMachine.provide({
      actions: { fire: () => fired.push(clock.now() - T0) },
    });
    const context: ScheduleContext = {
      id: "s1",
      tenant: "t1",
      command: "uptime",
      everyMs: SECOND,
      cron: null,
      nextAt: T0 + SECOND,
      busy: [],
      ticks: 0,
      lastTickAt: null,
      updatedAt: T0,
    };
    const snapshot = machine.resolveState({ value: "active", context });
    const input = { ...context, firstAt: T0 + SECOND, now: T0 };
    const actor = createActor(machine, { snapshot, input, clock });
    actor.start();
    expect(clock.pending).toBe(0);
    actor.send({ type: "REARM", at: clock.now() });
    expect(actor.getSnapshot().context.nextAt).toBe(T0 + 5_000);
    clock.advance(499);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([5_000]);
    expect(actor.getSnapshot().context.ticks).toBe(1);
  });

  // Regression (fixed): a tick comes from `xstate.after.*`, which carries no `at`, so `recordTick` and
  // `computeNextTick` read `updatedAt` (the last event's time) as "now": nextAt never
  // advances and lastTickAt is stale.
  it("each tick records its time and moves nextAt one interval on", () => {
    const s = startSchedule();
    s.clock.advance(3 * SECOND);
    expect(s.context()).toMatchObject({ lastTickAt: T0 + 3_000, nextAt: T0 + 4_000 });
  });

  // Regression (fixed): the next delay is measured from the stale `updatedAt` to the unmoved nextAt,
  // so the spacing is (firstAt - creation time), here 5 s instead of 1 s.
  it("ticks keep the interval when the first tick is further away than one interval", () => {
    const s = startSchedule({ firstAt: T0 + 5 * SECOND });
    s.clock.advance(8 * SECOND);
    expect(s.fired).toEqual([5_000, 6_000, 7_000, 8_000]);
  });

  // Regression (fixed): RUN_STARTED moves `updatedAt`, which shifts every later tick.
  it("a run starting between ticks does not move the next tick", () => {
    const s = startSchedule();
    s.clock.advance(1_500);
    s.send({ type: "RUN_STARTED", target: "a1" });
    s.clock.advance(1_500);
    expect(s.fired).toEqual([1_000, 2_000, 3_000]);
  });
});

describe("schedule: runs per target", () => {
  it("RUN_STARTED for a busy target is refused; RUN_FINISHED frees it", () => {
    const s = startSchedule();
    s.send({ type: "RUN_STARTED", target: "a1" });
    s.send({ type: "RUN_STARTED", target: "a2" });
    expect(s.context().busy).toEqual(["a1", "a2"]);
    expectRefused(s.actor, { type: "RUN_STARTED", target: "a1", at: s.clock.now() });
    s.send({ type: "RUN_FINISHED", target: "a1" });
    expect(s.context().busy).toEqual(["a2"]);
    s.send({ type: "RUN_STARTED", target: "a1" });
    expect(s.context().busy).toEqual(["a2", "a1"]);
  });

  it("RUN_FINISHED for a target that is not running is refused", () => {
    const s = startSchedule();
    expectRefused(s.actor, { type: "RUN_FINISHED", target: "a1", at: s.clock.now() });
  });

  it("runs going at PAUSE may finish; none may start while paused", () => {
    const s = startSchedule();
    s.send({ type: "RUN_STARTED", target: "a1" });
    s.send({ type: "PAUSE" });
    expectRefused(s.actor, { type: "RUN_STARTED", target: "a2", at: s.clock.now() });
    s.send({ type: "RUN_FINISHED", target: "a1" });
    expect(s.context().busy).toEqual([]);
  });
});

describe("schedule: pause, resume, delete", () => {
  it("PAUSE stops the ticks; RESUME starts them again", () => {
    const s = startSchedule();
    s.clock.advance(2 * SECOND);
    s.send({ type: "PAUSE" });
    expect(s.actor.getSnapshot().value).toBe("paused");
    expect(s.clock.pending).toBe(0);
    s.clock.advance(60 * SECOND);
    expect(s.fired).toEqual([1_000, 2_000]);
    s.send({ type: "RESUME" });
    expect(s.actor.getSnapshot().value).toBe("active");
    s.clock.advance(SECOND);
    expect(s.fired).toEqual([1_000, 2_000, 63_000]);
  });

  it("refuses RESUME while active, and PAUSE and REARM while paused", () => {
    const s = startSchedule();
    expectRefused(s.actor, { type: "RESUME", at: s.clock.now() });
    s.send({ type: "PAUSE" });
    expectRefused(s.actor, { type: "PAUSE", at: s.clock.now() });
    expectRefused(s.actor, { type: "REARM", at: s.clock.now() });
  });

  it.each(["active", "paused"] as const)("DELETE from %s is final", (from) => {
    const s = startSchedule();
    if (from === "paused") s.send({ type: "PAUSE" });
    s.send({ type: "DELETE" });
    const snapshot = s.actor.getSnapshot();
    expect(snapshot.value).toBe("deleted");
    expect(snapshot.status).toBe("done");
    expect(s.clock.pending).toBe(0);
    s.clock.advance(60 * SECOND);
    expect(s.fired).toEqual([]);
    for (const type of SCHEDULE_COMMANDS) expectRefused(s.actor, { type, at: s.clock.now() });
    expectRefused(s.actor, { type: "REARM", at: s.clock.now() });
    expectRefused(s.actor, { type: "RUN_STARTED", target: "a1", at: s.clock.now() });
  });
});
