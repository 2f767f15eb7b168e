/**
 * Shared pieces for the machine tests: a simulated clock XState can use, a task
 * factory with spied side effects, and the "refused event" assertion.
 */
import { expect, type Mock, vi } from "vitest";
import {
  type Actor,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  createActor,
  type EventFromLogic,
  transition,
} from "xstate";
import { type TaskInput, taskMachine } from "../../../machines";
import type { Clock, TimerHandle } from "../../../src/clock";
import { SimulatedClock } from "../../../src/clock";

/** 2026-01-01T00:00:00Z, the SimulatedClock's default start. */
export const T0 = Date.UTC(2026, 0, 1);

/**
 * A SimulatedClock shaped for XState's `clock` option. Like the engine's timer
 * service, it treats a non-finite delay as "never": it hands back a handle that
 * clears fine and never fires.
 */
export class TestClock implements Clock {
  private readonly inner: SimulatedClock;
  private nextNever = -1;
  /** Timers asked for with a non-finite delay (ignored). */
  never = 0;

  constructor(start = T0) {
    this.inner = new SimulatedClock(start);
  }

  now(): number {
    return this.inner.now();
  }

  setTimeout = (callback: () => void, delayMs: number): TimerHandle => {
    if (!Number.isFinite(delayMs)) {
      this.never++;
      return this.nextNever--;
    }
    return this.inner.setTimeout(callback, delayMs);
  };

  clearTimeout = (handle: TimerHandle): void => {
    this.inner.clearTimeout(handle);
  };

  /** Timers that will fire (non-finite ones are not counted). */
  get pending(): number {
    return this.inner.pending;
  }

  advance(ms: number): void {
    this.inner.advance(ms);
  }
}

/** An event without its `at`, for helpers that stamp it from the clock. */
export type Untimed<E> = E extends unknown ? Omit<E, "at"> : never;

/** Sends `event` stamped with the clock's current time. */
export function sendNow<TLogic extends AnyStateMachine>(
  actor: Actor<TLogic>,
  clock: TestClock,
  event: Untimed<EventFromLogic<TLogic>>,
): void {
  actor.send({ ...event, at: clock.now() } as EventFromLogic<TLogic>);
}

/**
 * Asserts that the actor's current state does not accept `event`: `can()` says no,
 * and handling it leaves the very same snapshot (state value and context). A stopped
 * (final) actor drops events before the machine sees them, so there the machine's
 * pure `transition` is asked instead, which must return no change and no actions.
 */
export function expectRefused<TLogic extends AnyStateMachine>(
  actor: Actor<TLogic>,
  event: EventFromLogic<TLogic>,
): void {
  const snapshot = actor.getSnapshot();
  const before: AnyMachineSnapshot = snapshot;
  expect(before.can(event), `can(${event.type})`).toBe(false);
  if (before.status === "active") {
    actor.send(event);
    const after: AnyMachineSnapshot = actor.getSnapshot();
    expect(after.value).toEqual(before.value);
    expect(after.context).toEqual(before.context);
    expect(after).toBe(before);
  } else {
    const [next, actions] = transition(actor.logic, snapshot, event);
    const after = next as AnyMachineSnapshot;
    expect(after.value).toEqual(before.value);
    expect(after.context).toEqual(before.context);
    expect(actions).toEqual([]);
  }
}

/** The task side effects the runtime binds; tests bind spies. */
export interface TaskSpies {
  readonly requestDispatch: Mock;
  readonly sendRun: Mock;
  readonly sendCancel: Mock;
  readonly sendPause: Mock;
  readonly sendResume: Mock;
}

export function taskSpies(): TaskSpies {
  return {
    requestDispatch: vi.fn(),
    sendRun: vi.fn(),
    sendCancel: vi.fn(),
    sendPause: vi.fn(),
    sendResume: vi.fn(),
  };
}

/** The task machine with every side effect bound to a spy. */
export function spiedTaskMachine(spies: TaskSpies) {
  return taskMachine.provide({ actions: { ...spies } });
}

export type SpiedTaskMachine = ReturnType<typeof spiedTaskMachine>;

/** A two-action task due now, with every limit set and a retry policy of 2. */
export function taskInput(now: number, overrides: Partial<TaskInput> = {}): TaskInput {
  return {
    id: 1,
    tenant: "t1",
    name: "deploy",
    lane: null,
    agentId: null,
    actions: [
      { type: "exec", params: { cmd: "a" } },
      { type: "exec", params: { cmd: "b" } },
    ],
    priority: 0,
    executeAt: now,
    timeouts: { deliveryMs: 5_000, executionMs: 60_000, heartbeatMs: 10_000 },
    retry: { limit: 2, backoffMs: 1_000, factor: 2, maxBackoffMs: 3_000 },
    open: false,
    archive: false,
    refId: null,
    parentId: null,
    batchId: null,
    jobId: null,
    now,
    ...overrides,
  };
}

export interface StartedTask {
  readonly actor: Actor<SpiedTaskMachine>;
  readonly clock: TestClock;
  readonly spies: TaskSpies;
  readonly input: TaskInput;
}

/** Starts a task actor on a fresh simulated clock; `now` defaults to the clock's. */
export function startTask(inputOverrides: Partial<TaskInput> = {}): StartedTask {
  const clock = new TestClock();
  const spies = taskSpies();
  const input = taskInput(clock.now(), inputOverrides);
  const actor = createActor(spiedTaskMachine(spies), { input, clock });
  actor.start();
  return { actor, clock, spies, input };
}
