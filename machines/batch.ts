/**
 * The batch: one task per target, created together. Counts outcomes as its tasks
 * finish and finishes itself when the last one does.
 */
import { assign, setup } from "xstate";
import type { TaskOutcome } from "./task";
import { eventTime, type Timed } from "./time";

export interface BatchCounts {
  readonly succeeded: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly timedOut: number;
}

export interface BatchInput {
  readonly id: number;
  readonly tenant: string;
  /** Which API made it; each lists only its own kind. @default "" */
  readonly kind?: string;
  readonly taskIds: readonly number[];
  readonly executeAt: number;
  readonly now: number;
}

export interface BatchContext extends Omit<BatchInput, "now" | "kind"> {
  readonly kind: string;
  /** Outcome per finished task id. */
  readonly outcomes: Readonly<Record<number, TaskOutcome>>;
  readonly counts: BatchCounts;
  readonly createdAt: number;
  readonly finishedAt: number | null;
  readonly updatedAt: number;
}

export type BatchEvent =
  | ({ type: "TASK_FINISHED"; taskId: number; outcome: TaskOutcome } & Timed)
  | ({ type: "CANCEL" } & Timed);

export const BATCH_COMMANDS = ["CANCEL"] as const;

const zero: BatchCounts = { succeeded: 0, failed: 0, cancelled: 0, timedOut: 0 };

export const batchMachine = setup({
  types: {
    context: {} as BatchContext,
    events: {} as BatchEvent,
    input: {} as BatchInput,
  },
  actions: {
    // Bound by the runtime: cancel every task of the batch that has not finished.
    cancelTasks: () => {},
    count: assign(({ context, event }) => {
      if (event.type !== "TASK_FINISHED") return {};
      return {
        outcomes: { ...context.outcomes, [event.taskId]: event.outcome },
        counts: { ...context.counts, [event.outcome]: context.counts[event.outcome] + 1 },
        updatedAt: event.at,
      };
    }),
    finish: assign(({ context }) => ({ finishedAt: context.updatedAt })),
  },
  guards: {
    isNewMember: ({ context, event }) =>
      event.type === "TASK_FINISHED" &&
      context.taskIds.includes(event.taskId) &&
      context.outcomes[event.taskId] === undefined,
    allFinished: ({ context }) => Object.keys(context.outcomes).length >= context.taskIds.length,
  },
}).createMachine({
  id: "batch",
  description: "One task per target; finished when its last task is.",
  context: ({ input }) => ({
    id: input.id,
    tenant: input.tenant,
    kind: input.kind ?? "",
    taskIds: input.taskIds,
    executeAt: input.executeAt,
    outcomes: {},
    counts: zero,
    createdAt: input.now,
    finishedAt: null,
    updatedAt: input.now,
  }),
  initial: "running",
  states: {
    running: {
      description: "Some tasks have not finished.",
      always: { guard: "allFinished", target: "finished" },
      on: {
        TASK_FINISHED: { guard: "isNewMember", actions: "count" },
        CANCEL: {
          actions: [
            "cancelTasks",
            assign(({ context, event }) => ({ updatedAt: eventTime(event, context.updatedAt) })),
          ],
        },
      },
    },
    finished: {
      description: "Every task has an outcome.",
      type: "final",
      entry: "finish",
    },
  },
});

export type BatchMachine = typeof batchMachine;
