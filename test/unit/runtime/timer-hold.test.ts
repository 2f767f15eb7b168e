/**
 * The timer service holds every deadline while the engine cannot hear its agents
 * (the bus is down), and gives held ones a grace once it can again.
 */
import { describe, expect, it } from "vitest";
import { SimulatedClock } from "../../../src/clock";
import { TimerService } from "../../../src/runtime/timer-service";

describe("TimerService hold and release", () => {
  it("fires nothing while held, and what came due only after the grace", () => {
    const clock = new SimulatedClock();
    const timers = new TimerService(clock);
    const fired: string[] = [];
    timers.setTimeout(() => fired.push("heartbeat"), 1_000);
    timers.hold();
    clock.advance(30_000);
    expect(fired).toEqual([]);
    timers.release(5_000);
    clock.advance(4_999);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(["heartbeat"]);
  });

  it("drops a held deadline its actor cleared during the grace (a heartbeat came)", () => {
    const clock = new SimulatedClock();
    const timers = new TimerService(clock);
    const fired: string[] = [];
    const handle = timers.setTimeout(() => fired.push("timeout"), 1_000);
    timers.hold();
    clock.advance(10_000);
    timers.release(5_000);
    timers.clearTimeout(handle);
    timers.setTimeout(() => fired.push("renewed"), 15_000);
    clock.advance(14_999);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(["renewed"]);
  });

  it("still wakes passivated tasks while held: their work does not need the agents yet", () => {
    const clock = new SimulatedClock();
    const woken: number[] = [];
    const timers = new TimerService(clock, (id) => woken.push(id));
    timers.hold();
    timers.wakeAt(clock.now() + 2_000, 7);
    clock.advance(2_000);
    expect(woken).toEqual([7]);
  });

  it("keeps time as before once released with no grace", () => {
    const clock = new SimulatedClock();
    const timers = new TimerService(clock);
    const fired: number[] = [];
    timers.hold();
    timers.release(0);
    timers.setTimeout(() => fired.push(clock.now()), 500);
    const start = clock.now();
    clock.advance(1_000);
    expect(fired).toEqual([start + 500]);
  });
});
