/**
 * The lane ("thread"): a named serial queue. Tasks with the lane's key run one at a
 * time in (priority, id) order. A paused lane lets its running task go on but starts
 * no queued one; a paused task keeps its lane locked until it finishes.
 */
import { assign, setup } from "xstate";
import { eventTime, type Timed } from "./time";

export interface LaneEntry {
  readonly taskId: number;
  /** Lower runs first. */
  readonly priority: number;
}

export interface LaneInput {
  readonly key: string;
  readonly tenant: string;
  readonly now: number;
}

export interface LaneContext {
  readonly key: string;
  readonly tenant: string;
  readonly queue: readonly LaneEntry[];
  /** The task holding the lane, or null. */
  readonly running: number | null;
  readonly updatedAt: number;
}

export type LaneEvent =
  | ({ type: "ENQUEUE"; taskId: number; priority: number } & Timed)
  | ({ type: "REMOVE"; taskId: number } & Timed)
  | ({ type: "RELEASE"; taskId: number } & Timed)
  | ({ type: "PAUSE" } & Timed)
  | ({ type: "RESUME"; continue?: boolean } & Timed);

export const LANE_COMMANDS = ["PAUSE", "RESUME"] as const;

/** Inserts keeping (priority, taskId) order; a task already queued is not added twice. */
export function insertOrdered(queue: readonly LaneEntry[], entry: LaneEntry): LaneEntry[] {
  if (queue.some((queued) => queued.taskId === entry.taskId)) return queue.slice();
  const next = queue.slice();
  let at = next.length;
  while (at > 0) {
    const before = next[at - 1] as LaneEntry;
    if (before.priority < entry.priority) break;
    if (before.priority === entry.priority && before.taskId < entry.taskId) break;
    at--;
  }
  next.splice(at, 0, entry);
  return next;
}

function touch(context: LaneContext, event: { type: string }) {
  return eventTime(event, context.updatedAt);
}

export const laneMachine = setup({
  types: {
    context: {} as LaneContext,
    events: {} as LaneEvent,
    input: {} as LaneInput,
  },
  actions: {
    // Bound by the runtime: let the task at the head of the queue dispatch.
    grant: (_, _params: { taskId: number }) => {},
    // Bound by the runtime: resume the paused task that holds the lane.
    continueLocked: (_, _params: { taskId: number }) => {},
    enqueue: assign(({ context, event }) => {
      // The task holding the lane is not queued again behind itself.
      if (event.type !== "ENQUEUE" || event.taskId === context.running) return {};
      const queue = insertOrdered(context.queue, {
        taskId: event.taskId,
        priority: event.priority,
      });
      return { queue, updatedAt: touch(context, event) };
    }),
    remove: assign(({ context, event }) => {
      if (event.type !== "REMOVE") return {};
      return {
        queue: context.queue.filter((entry) => entry.taskId !== event.taskId),
        updatedAt: touch(context, event),
      };
    }),
    takeHead: assign(({ context }) => {
      const [head, ...rest] = context.queue;
      return { running: head?.taskId ?? null, queue: rest };
    }),
    clearRunning: assign(({ context, event }) => ({
      running: null,
      updatedAt: touch(context, event),
    })),
    touch: assign(({ context, event }) => ({ updatedAt: touch(context, event) })),
  },
  guards: {
    hasQueued: ({ context }) => context.queue.length > 0,
    isRunningTask: ({ context, event }) =>
      (event.type === "RELEASE" || event.type === "REMOVE") && event.taskId === context.running,
    wantsContinue: ({ event }) => event.type === "RESUME" && event.continue === true,
  },
}).createMachine({
  id: "lane",
  description: "A serial queue: one task at a time, in (priority, id) order.",
  context: ({ input }) => ({
    key: input.key,
    tenant: input.tenant,
    queue: [],
    running: null,
    updatedAt: input.now,
  }),
  initial: "open",
  states: {
    open: {
      description: "Starts queued tasks as the slot frees.",
      initial: "idle",
      states: {
        idle: {
          description: "No task holds the lane.",
          always: {
            guard: "hasQueued",
            target: "busy",
            actions: [
              "takeHead",
              {
                type: "grant",
                params: ({ context }) => ({ taskId: context.running as number }),
              },
            ],
          },
          on: {
            PAUSE: { target: "#lane.paused.idle", actions: "touch" },
          },
        },
        busy: {
          description: "One task holds the lane; the rest wait.",
          on: {
            RELEASE: { guard: "isRunningTask", target: "idle", actions: "clearRunning" },
            REMOVE: [
              { guard: "isRunningTask", target: "idle", actions: "clearRunning" },
              { actions: "remove" },
            ],
            PAUSE: { target: "#lane.paused.busy", actions: "touch" },
          },
        },
      },
      on: {
        ENQUEUE: { actions: "enqueue" },
        REMOVE: { actions: "remove" },
        RESUME: { actions: "touch" },
      },
    },
    paused: {
      description: "Queued tasks wait; a running task is not affected.",
      initial: "idle",
      states: {
        idle: {
          description: "Paused, nothing running.",
          on: { RESUME: { target: "#lane.open.idle", actions: "touch" } },
        },
        busy: {
          description: "Paused while a task still holds the lane.",
          on: {
            RESUME: [
              {
                guard: "wantsContinue",
                target: "#lane.open.busy",
                actions: [
                  "touch",
                  {
                    type: "continueLocked",
                    params: ({ context }) => ({ taskId: context.running as number }),
                  },
                ],
              },
              { target: "#lane.open.busy", actions: "touch" },
            ],
            RELEASE: { guard: "isRunningTask", target: "idle", actions: "clearRunning" },
            REMOVE: [
              { guard: "isRunningTask", target: "idle", actions: "clearRunning" },
              { actions: "remove" },
            ],
          },
        },
      },
      on: {
        ENQUEUE: { actions: "enqueue" },
        REMOVE: { actions: "remove" },
        PAUSE: { actions: "touch" },
      },
    },
  },
});

export type LaneMachine = typeof laneMachine;
