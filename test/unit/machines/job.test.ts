/**
 * The job machine: the job API's queue states and the transitions between them.
 */
import { describe, expect, it, vi } from "vitest";
import { createActor } from "xstate";
import {
  JOB_COMMANDS,
  type JobEvent,
  type JobInput,
  jobMachine,
  QueueState,
  type QueueStateName,
} from "../../../machines";
import { expectRefused, sendNow, T0, TestClock, type Untimed } from "./helpers";

const LATER = T0 + 60_000;

function startJob(overrides: Partial<JobInput> = {}) {
  const clock = new TestClock();
  const requestSlot = vi.fn();
  const releaseSlot = vi.fn();
  const machine = jobMachine.provide({ actions: { requestSlot, releaseSlot } });
  const input: JobInput = {
    id: 3,
    client: "c1",
    workflow: "deploy",
    priority: 0,
    runAt: LATER,
    stepCount: 3,
    now: T0,
    ...overrides,
  };
  const actor = createActor(machine, { input, clock });
  actor.start();
  const send = (event: Untimed<JobEvent>) => sendNow(actor, clock, event);
  const value = () => actor.getSnapshot().value;
  return { actor, clock, requestSlot, releaseSlot, send, value };
}

type Job = ReturnType<typeof startJob>;

/** Drives a fresh job into each queue state. */
const reach: Record<QueueStateName, () => Job> = {
  scheduled: () => startJob(),
  pending: () => {
    const job = startJob();
    job.send({ type: "SEMAPHORE_CLOSED" });
    return job;
  },
  queued: () => startJob({ runAt: T0 }),
  started: () => {
    const job = startJob({ runAt: T0 });
    job.send({ type: "START" });
    return job;
  },
  paused: () => {
    const job = startJob();
    job.send({ type: "PAUSE" });
    return job;
  },
  broken: () => {
    const job = startJob();
    job.send({ type: "BREAK" });
    return job;
  },
  completed: () => {
    const job = startJob({ runAt: T0 });
    job.send({ type: "START" });
    job.send({ type: "COMPLETE", failed: false });
    return job;
  },
};

const names = Object.keys(QueueState) as QueueStateName[];

describe("job: queue states", () => {
  it("has exactly the job API's queue states", () => {
    expect(Object.keys(jobMachine.root.states).sort()).toEqual([...names].sort());
    expect(Object.values(QueueState).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it.each(names)("%s is reachable", (name) => {
    expect(reach[name]().value()).toBe(name);
  });

  it.each(["broken", "completed"] as const)("%s is final", (name) => {
    expect(reach[name]().actor.getSnapshot().status).toBe("done");
  });

  it("a job due at creation is queued and asks for a slot", () => {
    const job = startJob({ runAt: T0 });
    expect(job.value()).toBe("queued");
    expect(job.requestSlot).toHaveBeenCalledTimes(1);
  });

  // Seed-spec 4.13: the scheduler (queue_scheduled_jobs) queues due jobs on its tick.
  it("a scheduled job waits past runAt until the scheduler queues it", () => {
    const job = startJob();
    job.clock.advance(LATER - T0 + 60_000);
    expect(job.value()).toBe("scheduled");
    expect(job.clock.pending).toBe(0);
    job.send({ type: "QUEUE" });
    expect(job.value()).toBe("queued");
  });

  it("a gated job waits in scheduled even when due; ungating a due job queues it", () => {
    const job = startJob({ runAt: T0, gated: true });
    expect(job.value()).toBe("scheduled");
    job.send({ type: "SET_GATE", gated: false });
    expect(job.value()).toBe("queued");
  });

  it("takes a new priority in any state but the final ones", () => {
    const job = startJob({ runAt: T0 });
    job.send({ type: "PRIORITIZE", priority: 2 });
    expect(job.actor.getSnapshot().context.priority).toBe(2);
    expect(job.value()).toBe("queued");
  });
});

describe("job: transitions", () => {
  it("scheduled: QUEUE, SEMAPHORE_CLOSED, PAUSE, BREAK", () => {
    expect(reach.scheduled().value()).toBe("scheduled");
    for (const [type, target] of [
      ["QUEUE", "queued"],
      ["SEMAPHORE_CLOSED", "pending"],
      ["PAUSE", "paused"],
      ["BREAK", "broken"],
    ] as const) {
      const job = startJob();
      job.send({ type });
      expect(job.value(), type).toBe(target);
    }
  });

  it("scheduled: RESCHEDULE to a later time stays scheduled, to a past time queues", () => {
    const job = startJob();
    job.clock.advance(10);
    job.send({ type: "RESCHEDULE", runAt: LATER + 1_000 });
    expect(job.value()).toBe("scheduled");
    expect(job.actor.getSnapshot().context).toMatchObject({
      runAt: LATER + 1_000,
      updatedAt: T0 + 10,
    });
    job.send({ type: "RESCHEDULE", runAt: T0 });
    expect(job.value()).toBe("queued");
    expect(job.requestSlot).toHaveBeenCalledTimes(1);
  });

  it("pending: QUEUE, PAUSE, BREAK", () => {
    for (const [type, target] of [
      ["QUEUE", "queued"],
      ["PAUSE", "paused"],
      ["BREAK", "broken"],
    ] as const) {
      const job = reach.pending();
      job.send({ type });
      expect(job.value(), type).toBe(target);
    }
  });

  it("queued: START, PAUSE, BREAK", () => {
    for (const [type, target] of [
      ["START", "started"],
      ["PAUSE", "paused"],
      ["BREAK", "broken"],
    ] as const) {
      const job = reach.queued();
      job.send({ type });
      expect(job.value(), type).toBe(target);
    }
  });

  it("queued: RESCHEDULE to later goes back to scheduled", () => {
    const job = reach.queued();
    job.send({ type: "RESCHEDULE", runAt: LATER });
    expect(job.value()).toBe("scheduled");
    expect(job.actor.getSnapshot().context.runAt).toBe(LATER);
  });

  it("START takes the first step; STEP_DONE counts the steps to completed", () => {
    const job = reach.queued();
    job.send({ type: "START" });
    expect(job.actor.getSnapshot().context.currentStep).toBe(0);
    job.send({ type: "STEP_DONE", ok: true });
    job.send({ type: "STEP_DONE", ok: true });
    expect(job.value()).toBe("started");
    expect(job.actor.getSnapshot().context.currentStep).toBe(2);
    expect(job.releaseSlot).not.toHaveBeenCalled();
    job.clock.advance(70);
    job.send({ type: "STEP_DONE", ok: true });
    expect(job.value()).toBe("completed");
    expect(job.actor.getSnapshot().context).toMatchObject({ failed: false, updatedAt: T0 + 70 });
    expect(job.releaseSlot).toHaveBeenCalledTimes(1);
  });

  it("COMPLETE ends a started job and records how, releasing its slot", () => {
    const job = reach.started();
    job.send({ type: "COMPLETE", failed: true });
    expect(job.value()).toBe("completed");
    expect(job.actor.getSnapshot().context.failed).toBe(true);
    expect(job.releaseSlot).toHaveBeenCalledTimes(1);
  });

  it("paused: QUEUE, BREAK, and RESCHEDULE that stays paused", () => {
    const queued = reach.paused();
    queued.send({ type: "QUEUE" });
    expect(queued.value()).toBe("queued");
    const broken = reach.paused();
    broken.send({ type: "BREAK" });
    expect(broken.value()).toBe("broken");
    const moved = reach.paused();
    moved.send({ type: "RESCHEDULE", runAt: T0 });
    expect(moved.value()).toBe("paused");
    expect(moved.actor.getSnapshot().context.runAt).toBe(T0);
  });
});

describe("job: refused events", () => {
  type EventType = JobEvent["type"];
  const samples: Record<EventType, Untimed<JobEvent>> = {
    QUEUE: { type: "QUEUE" },
    SEMAPHORE_CLOSED: { type: "SEMAPHORE_CLOSED" },
    START: { type: "START" },
    STEP_DONE: { type: "STEP_DONE", ok: true },
    COMPLETE: { type: "COMPLETE", failed: false },
    PAUSE: { type: "PAUSE" },
    BREAK: { type: "BREAK" },
    RESCHEDULE: { type: "RESCHEDULE", runAt: LATER },
    PRIORITIZE: { type: "PRIORITIZE", priority: 3 },
    SET_GATE: { type: "SET_GATE", gated: true },
  };
  const always: EventType[] = ["PRIORITIZE", "SET_GATE"];
  const accepts: Record<QueueStateName, EventType[]> = {
    scheduled: ["QUEUE", "SEMAPHORE_CLOSED", "PAUSE", "BREAK", "RESCHEDULE", ...always],
    pending: ["QUEUE", "PAUSE", "BREAK", ...always],
    queued: ["START", "PAUSE", "BREAK", "RESCHEDULE", ...always],
    started: ["STEP_DONE", "COMPLETE", "BREAK", ...always],
    paused: ["QUEUE", "BREAK", "RESCHEDULE", ...always],
    broken: [],
    completed: [],
  };
  const cases = names.flatMap((name) =>
    (Object.keys(samples) as EventType[]).map((type) => ({
      name,
      type,
      accepted: accepts[name].includes(type),
    })),
  );

  it("every client command is among the events tried", () => {
    for (const command of JOB_COMMANDS) expect(Object.keys(samples)).toContain(command);
  });

  it.each(cases.filter((c) => !c.accepted))("$name refuses $type", ({ name, type }) => {
    const job = reach[name]();
    expectRefused(job.actor, { ...samples[type], at: job.clock.now() } as JobEvent);
  });

  it.each(cases.filter((c) => c.accepted))("$name accepts $type", ({ name, type }) => {
    const job = reach[name]();
    const event = { ...samples[type], at: job.clock.now() } as JobEvent;
    expect(job.actor.getSnapshot().can(event)).toBe(true);
  });
});
