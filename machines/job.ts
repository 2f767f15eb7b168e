/**
 * The job: a workflow run (ordered steps, each a task) under the engine's slot,
 * priority and retry rules. Its states are the job API's queue states 0–6.
 * The step-by-step workflow logic lands with the job engine; the states and the
 * transitions between them are fixed here.
 */
import { assign, setup } from "xstate";
import { eventTime, type Timed } from "./time";

/** The job API's queue_state ids. */
export const QueueState = {
  queued: 0,
  started: 1,
  completed: 2,
  pending: 3,
  broken: 4,
  scheduled: 5,
  paused: 6,
} as const;
export type QueueStateName = keyof typeof QueueState;

export interface JobInput {
  readonly id: number;
  readonly client: string;
  readonly workflow: string;
  readonly priority: number;
  readonly runAt: number;
  readonly stepCount: number;
  /**
   * Has a semaphore: even when due it waits in `scheduled` for the scheduler, which
   * asks the semaphore before queueing it (seed-spec 4.13). @default false
   */
  readonly gated?: boolean;
  readonly now: number;
}

export interface JobContext extends Omit<JobInput, "now" | "gated"> {
  readonly gated: boolean;
  readonly currentStep: number;
  readonly failed: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type JobEvent =
  | ({ type: "QUEUE" } & Timed)
  | ({ type: "SEMAPHORE_CLOSED" } & Timed)
  | ({ type: "START" } & Timed)
  | ({ type: "STEP_DONE"; ok: boolean } & Timed)
  | ({ type: "COMPLETE"; failed: boolean } & Timed)
  | ({ type: "PAUSE" } & Timed)
  | ({ type: "BREAK" } & Timed)
  | ({ type: "RESCHEDULE"; runAt: number } & Timed)
  | ({ type: "PRIORITIZE"; priority: number } & Timed)
  | ({ type: "SET_GATE"; gated: boolean } & Timed);

export const JOB_COMMANDS = [
  "PAUSE",
  "BREAK",
  "QUEUE",
  "RESCHEDULE",
  "PRIORITIZE",
  "SET_GATE",
] as const;

/** Every state but the final ones takes a new priority and semaphore. */
const ADJUSTABLE = {
  PRIORITIZE: { actions: "prioritize" },
  SET_GATE: { actions: "setGate" },
} as const;

function now(context: JobContext, event: { type: string }) {
  return eventTime(event, context.updatedAt);
}

export const jobMachine = setup({
  types: { context: {} as JobContext, events: {} as JobEvent, input: {} as JobInput },
  actions: {
    // Bound by the runtime: a slot opened or the job became startable.
    requestSlot: () => {},
    // Bound by the runtime: the job's slot is free again.
    releaseSlot: () => {},
    // Bound by the runtime: cancel the task running the current step.
    stopStep: () => {},
    touch: assign(({ context, event }) => ({ updatedAt: now(context, event) })),
    nextStep: assign(({ context, event }) => ({
      currentStep: context.currentStep + 1,
      updatedAt: now(context, event),
    })),
    complete: assign(({ context, event }) => ({
      failed: event.type === "COMPLETE" ? event.failed : context.failed,
      updatedAt: now(context, event),
    })),
    reschedule: assign(({ event }) =>
      event.type === "RESCHEDULE" ? { runAt: event.runAt, updatedAt: event.at } : {},
    ),
    prioritize: assign(({ event }) =>
      event.type === "PRIORITIZE" ? { priority: event.priority, updatedAt: event.at } : {},
    ),
    setGate: assign(({ event }) =>
      event.type === "SET_GATE" ? { gated: event.gated, updatedAt: event.at } : {},
    ),
  },
  guards: {
    // Due and not gated by a semaphore: straight to the queue, no scheduler tick needed.
    isDue: ({ context, event }) => !context.gated && context.runAt <= now(context, event),
    lastStep: ({ context }) => context.currentStep >= context.stepCount - 1,
  },
}).createMachine({
  id: "job",
  description: "A workflow run: ordered steps under slot, priority and retry rules.",
  context: ({ input }) => {
    const { now: createdAt, gated, ...rest } = input;
    return {
      ...rest,
      gated: gated ?? false,
      currentStep: -1,
      failed: false,
      createdAt,
      updatedAt: createdAt,
    };
  },

  initial: "scheduled",
  states: {
    scheduled: {
      description:
        "queue_state 5: run_at is in the future, or a semaphore must be asked; the scheduler (queue_scheduled_jobs) queues it.",
      always: { guard: "isDue", target: "queued" },
      on: {
        ...ADJUSTABLE,
        QUEUE: { target: "queued", actions: "touch" },
        SEMAPHORE_CLOSED: { target: "pending", actions: "touch" },
        PAUSE: { target: "paused", actions: "touch" },
        BREAK: { target: "broken", actions: "touch" },
        RESCHEDULE: { target: "scheduled", reenter: true, actions: "reschedule" },
      },
    },
    pending: {
      description: "queue_state 3: due, but its semaphore has not opened.",
      on: {
        ...ADJUSTABLE,
        QUEUE: { target: "queued", actions: "touch" },
        PAUSE: { target: "paused", actions: "touch" },
        BREAK: { target: "broken", actions: "touch" },
      },
    },
    queued: {
      description: "queue_state 0: waits for a job slot.",
      entry: "requestSlot",
      on: {
        ...ADJUSTABLE,
        START: { target: "started", actions: "nextStep" },
        PAUSE: { target: "paused", actions: "touch" },
        BREAK: { target: "broken", actions: "touch" },
        RESCHEDULE: { target: "scheduled", actions: "reschedule" },
      },
    },
    started: {
      description: "queue_state 1: holds a slot; its steps run one after another.",
      on: {
        ...ADJUSTABLE,
        STEP_DONE: [
          { guard: "lastStep", target: "completed", actions: "touch" },
          { actions: "nextStep" },
        ],
        COMPLETE: { target: "completed", actions: "complete" },
        // A client gives up on it (or reruns it): its running step is stopped.
        BREAK: { target: "broken", actions: ["touch", "stopStep"] },
      },
      exit: "releaseSlot",
    },
    paused: {
      description: "queue_state 6: never starts until queued again.",
      on: {
        ...ADJUSTABLE,
        QUEUE: { target: "queued", actions: "touch" },
        BREAK: { target: "broken", actions: "touch" },
        RESCHEDULE: { target: "paused", actions: "reschedule" },
      },
    },
    broken: {
      description: "queue_state 4: abandoned by a client; terminal.",
      type: "final",
    },
    completed: {
      description: "queue_state 2: finished; `failed` tells how.",
      type: "final",
    },
  },
});

export type JobMachine = typeof jobMachine;
