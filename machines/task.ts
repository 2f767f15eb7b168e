/**
 * The task: one unit of remote work, an ordered list of actions run on one agent.
 *
 *   scheduled → ready → dispatched → running ⇄ paused → done | failed | cancelled | timedOut
 *                                   running → cancelling → cancelled (the action finishes first)
 *
 * Side effects (talking to agents, asking for a dispatch slot) are named actions whose
 * implementations here do nothing; the runtime binds the real ones with
 * `machine.provide()`. Time comes in on events (`at`), never from a clock.
 */
import { and, assign, not, setup } from "xstate";
import type { ActionOutcome, TaskAction } from "../src/protocol/messages";
import { deadlineAfter, eventTime, remaining, type Timed } from "./time";

export interface TaskTimeouts {
  /** From dispatch until the agent says the attempt started; 0 = no limit. */
  readonly deliveryMs: number;
  /** How long one action attempt may run; 0 = no limit. */
  readonly executionMs: number;
  /** Longest silence from a running attempt (no progress, no agent heartbeat); 0 = no limit. */
  readonly heartbeatMs: number;
}

export interface RetryPolicy {
  /** Retries after the first attempt of an action; 0 = never retry. */
  readonly limit: number;
  /** Wait before the first retry. */
  readonly backoffMs: number;
  /** Each further retry waits this many times longer. */
  readonly factor: number;
  readonly maxBackoffMs: number;
}

export const TaskOutcome = {
  Succeeded: "succeeded",
  Failed: "failed",
  Cancelled: "cancelled",
  TimedOut: "timedOut",
} as const;
export type TaskOutcome = (typeof TaskOutcome)[keyof typeof TaskOutcome];

export const TimeoutReason = {
  Delivery: "delivery",
  Execution: "execution",
  Heartbeat: "heartbeat",
  AgentOffline: "agentOffline",
  /** The agent restarted and no longer has the attempt. */
  AgentLost: "agentLost",
} as const;
export type TimeoutReason = (typeof TimeoutReason)[keyof typeof TimeoutReason];

export interface TaskInput {
  readonly id: number;
  readonly tenant: string;
  readonly name: string;
  readonly lane: string | null;
  /** The lane is shared by every tenant (a host's instance), not the tenant's own. */
  readonly laneShared?: boolean;
  /**
   * Claimed by external executors from this queue (a task definition) instead of
   * sent to an agent. A claim nobody starts in time goes back to `ready` without
   * using a retry.
   */
  readonly pull?: string;
  readonly agentId: string | null;
  readonly actions: readonly TaskAction[];
  readonly priority: number;
  readonly executeAt: number;
  readonly timeouts: TaskTimeouts;
  readonly retry: RetryPolicy;
  readonly open: boolean;
  readonly archive: boolean;
  readonly refId: string | null;
  readonly parentId: number | null;
  readonly batchId: number | null;
  readonly jobId: number | null;
  /** The engine's time at creation. */
  readonly now: number;
}

export interface TaskContext extends Omit<TaskInput, "now"> {
  /** -1 before the first action starts. */
  readonly currentActionIdx: number;
  /** Attempts made at the current action (1 for the first). */
  readonly attempt: number;
  /** The current attempt's id; reports for any other execId are ignored. */
  readonly execId: string | null;
  /** True while an attempt may be running on the agent. */
  readonly attemptActive: boolean;
  readonly deliveryDeadline: number | null;
  readonly executionDeadline: number | null;
  readonly heartbeatDeadline: number | null;
  readonly concludeAt: number | null;
  readonly pausedAt: number | null;
  /** Pause once the current action finishes instead of suspending it. */
  readonly pauseAfterAction: boolean;
  /** When a client cancelled the task while letting its running action finish. */
  readonly cancelRequestedAt: number | null;
  readonly progress: number | null;
  readonly results: readonly (ActionOutcome | null)[];
  readonly outcome: TaskOutcome | null;
  readonly error: string | null;
  readonly timeoutReason: TimeoutReason | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly lastActivityAt: number;
  readonly finishedAt: number | null;
  readonly updatedAt: number;
}

export type TaskEvent =
  | ({ type: "DISPATCH"; execId: string; agentId: string } & Timed)
  | ({ type: "STARTED"; execId: string } & Timed)
  | ({ type: "PROGRESS"; execId: string; progress?: number } & Timed)
  | ({ type: "ACTION_DONE"; execId: string; outcome: ActionOutcome } & Timed)
  | ({ type: "PAUSE"; mode?: PauseMode } & Timed)
  | ({ type: "RESUME" } & Timed)
  | ({ type: "CANCEL"; reason?: string; mode?: CancelMode } & Timed)
  | ({ type: "CONCLUDE"; delayMs: number } & Timed)
  | ({ type: "TIMEOUT"; reason: TimeoutReason } & Timed)
  | ({ type: "REARM" } & Timed);

export const PauseMode = {
  /** Stop the running attempt's processes where they are (SIGSTOP). */
  Suspend: "suspend",
  /** Let the current action finish; start no further action until resumed. */
  AfterAction: "afterAction",
} as const;
export type PauseMode = (typeof PauseMode)[keyof typeof PauseMode];

export const CancelMode = {
  /** Stop the running attempt's processes (SIGTERM, then SIGKILL). */
  Now: "now",
  /** Let the running action finish; start no later action. */
  AfterAction: "afterAction",
} as const;
export type CancelMode = (typeof CancelMode)[keyof typeof CancelMode];

/** Events a client may send; the rest come from the engine and its agents. */
export const TASK_COMMANDS = ["PAUSE", "RESUME", "CANCEL", "CONCLUDE"] as const;

type EventOf<T extends TaskEvent["type"]> = Extract<TaskEvent, { type: T }>;

function now(context: TaskContext, event: { type: string }): number {
  return eventTime(event, context.updatedAt);
}

/** The earlier of the execution and heartbeat deadlines, or null when neither is set. */
function attemptDeadline(context: TaskContext): number | null {
  const { executionDeadline: e, heartbeatDeadline: h } = context;
  if (e === null) return h;
  if (h === null) return e;
  return Math.min(e, h);
}

function backoff(retry: RetryPolicy, attempt: number): number {
  const wait = retry.backoffMs * retry.factor ** Math.max(0, attempt - 1);
  return Math.min(retry.maxBackoffMs, wait);
}

function isCurrentAttempt(context: TaskContext, event: TaskEvent): boolean {
  return "execId" in event && event.execId === context.execId;
}

function lastAction(context: TaskContext): boolean {
  return context.currentActionIdx >= context.actions.length - 1;
}

function succeeded(event: TaskEvent): boolean {
  return event.type === "ACTION_DONE" && event.outcome.ok;
}

/**
 * The context a task starts with. Exported so the runtime can write a task that is
 * scheduled far ahead straight to the store, without creating an actor for it.
 */
export function initialTaskContext(input: TaskInput): TaskContext {
  const { now: createdAt, ...rest } = input;
  return {
    ...rest,
    currentActionIdx: -1,
    attempt: 0,
    execId: null,
    attemptActive: false,
    deliveryDeadline: null,
    executionDeadline: null,
    heartbeatDeadline: null,
    concludeAt: null,
    pausedAt: null,
    pauseAfterAction: false,
    cancelRequestedAt: null,
    progress: null,
    results: input.actions.map(() => null),
    outcome: null,
    error: null,
    timeoutReason: null,
    createdAt,
    startedAt: null,
    lastActivityAt: createdAt,
    finishedAt: null,
    updatedAt: createdAt,
  };
}

export const taskMachine = setup({
  types: {
    context: {} as TaskContext,
    events: {} as TaskEvent,
    input: {} as TaskInput,
  },
  actions: {
    // Bound by the runtime: ask the lane (or the dispatcher) for a slot.
    requestDispatch: () => {},
    // Bound by the runtime: send the current attempt to its agent.
    sendRun: () => {},
    sendCancel: () => {},
    sendPause: () => {},
    sendResume: () => {},
    // Delayed events carry no time: a timer fires at its deadline, so the deadline is
    // "now" for whatever the transition records (retry backoff, finishedAt, ...).
    reachedExecuteAt: assign(({ context }) => ({ updatedAt: context.executeAt })),
    reachedDeliveryDeadline: assign(({ context }) => ({
      timeoutReason: TimeoutReason.Delivery,
      updatedAt: context.deliveryDeadline ?? context.updatedAt,
    })),
    reachedAttemptDeadline: assign(({ context }) => {
      const deadline = attemptDeadline(context) ?? context.updatedAt;
      const reason =
        context.executionDeadline !== null && context.executionDeadline <= deadline
          ? TimeoutReason.Execution
          : TimeoutReason.Heartbeat;
      return { timeoutReason: reason, updatedAt: deadline };
    }),
    // A pulled task's claim lapsed: the claim did not count as an attempt.
    requeueClaim: assign(({ context }) => ({
      attempt: Math.max(0, context.attempt - 1),
      execId: null,
      attemptActive: false,
      deliveryDeadline: null,
      updatedAt: context.deliveryDeadline ?? context.updatedAt,
    })),
    reachedDrainDeadline: assign(({ context }) => ({
      updatedAt: attemptDeadline(context) ?? context.deliveryDeadline ?? context.updatedAt,
    })),
    reachedConcludeTime: assign(({ context }) => ({
      updatedAt: context.concludeAt ?? context.updatedAt,
    })),
    touch: assign(({ context, event }) => {
      const at = now(context, event);
      return { updatedAt: at, lastActivityAt: at };
    }),
    assignDispatch: assign(({ context, event }) => {
      const e = event as EventOf<"DISPATCH">;
      return {
        execId: e.execId,
        agentId: e.agentId,
        attemptActive: true,
        currentActionIdx: Math.max(0, context.currentActionIdx),
        attempt: context.attempt + 1,
        deliveryDeadline: deadlineAfter(e.at, context.timeouts.deliveryMs),
        updatedAt: e.at,
        lastActivityAt: e.at,
      };
    }),
    assignStarted: assign(({ context, event }) => {
      const at = now(context, event);
      return {
        startedAt: context.startedAt ?? at,
        deliveryDeadline: null,
        executionDeadline: deadlineAfter(at, context.timeouts.executionMs),
        heartbeatDeadline: deadlineAfter(at, context.timeouts.heartbeatMs),
        updatedAt: at,
        lastActivityAt: at,
      };
    }),
    assignProgress: assign(({ context, event }) => {
      const e = event as EventOf<"PROGRESS">;
      return {
        progress: e.progress ?? context.progress,
        heartbeatDeadline: deadlineAfter(e.at, context.timeouts.heartbeatMs),
        updatedAt: e.at,
        lastActivityAt: e.at,
      };
    }),
    // A restarted engine heard nothing while it was down, which is no silence of the
    // agent's: the attempt gets a whole heartbeat window from the restore. Its
    // execution limit keeps only the time it had left.
    restartHeartbeatWindow: assign(({ context, event }) => ({
      heartbeatDeadline: deadlineAfter(now(context, event), context.timeouts.heartbeatMs),
    })),
    recordResult: assign(({ context, event }) => {
      const e = event as EventOf<"ACTION_DONE">;
      const results = context.results.slice();
      results[context.currentActionIdx] = e.outcome;
      return {
        results,
        attemptActive: false,
        startedAt: context.startedAt ?? e.at,
        error: e.outcome.ok ? context.error : (e.outcome.message ?? "action failed"),
        executionDeadline: null,
        heartbeatDeadline: null,
        deliveryDeadline: null,
        updatedAt: e.at,
        lastActivityAt: e.at,
      };
    }),
    advanceAction: assign(({ context }) => ({
      currentActionIdx: context.currentActionIdx + 1,
      attempt: 0,
      execId: null,
    })),
    scheduleRetry: assign(({ context, event }) => {
      const at = now(context, event);
      return {
        executeAt: at + backoff(context.retry, context.attempt),
        attemptActive: false,
        execId: null,
        deliveryDeadline: null,
        executionDeadline: null,
        heartbeatDeadline: null,
        updatedAt: at,
      };
    }),
    recordTimeout: assign(({ context, event }) => {
      const reason =
        event.type === "TIMEOUT" ? event.reason : (context.timeoutReason ?? TimeoutReason.Delivery);
      return { timeoutReason: reason, error: `${reason} timeout` };
    }),
    markPaused: assign(({ context, event }) => ({
      pausedAt: now(context, event),
      pauseAfterAction: false,
      updatedAt: now(context, event),
    })),
    requestPauseAfterAction: assign({ pauseAfterAction: true }),
    requestCancelAfterAction: assign(({ context, event }) => ({
      cancelRequestedAt: now(context, event),
      pauseAfterAction: false,
      updatedAt: now(context, event),
    })),
    markResumed: assign(({ context, event }) => {
      const at = now(context, event);
      // The attempt was frozen while paused: the time it spent paused does not count
      // against its execution limit.
      const pausedFor = context.pausedAt === null ? 0 : at - context.pausedAt;
      return {
        pausedAt: null,
        // An attempt paused before it reported its start gets its full limit now.
        executionDeadline:
          context.executionDeadline === null
            ? deadlineAfter(at, context.timeouts.executionMs)
            : context.executionDeadline + pausedFor,
        heartbeatDeadline: deadlineAfter(at, context.timeouts.heartbeatMs),
        updatedAt: at,
        lastActivityAt: at,
      };
    }),
    scheduleConclusion: assign(({ event }) => {
      const e = event as EventOf<"CONCLUDE">;
      return { concludeAt: e.at + e.delayMs, updatedAt: e.at };
    }),
    finish: assign(({ context, event }, params: { outcome: TaskOutcome }) => {
      const at = now(context, event);
      return {
        outcome: params.outcome,
        finishedAt: at,
        attemptActive: false,
        updatedAt: at,
        lastActivityAt: at,
        deliveryDeadline: null,
        executionDeadline: null,
        heartbeatDeadline: null,
        concludeAt: null,
      };
    }),
  },
  guards: {
    isDue: ({ context, event }) => context.executeAt <= now(context, event),
    isCurrentAttempt: ({ context, event }) => isCurrentAttempt(context, event),
    succeededWithMoreActions: ({ context, event }) =>
      isCurrentAttempt(context, event) && succeeded(event) && !lastAction(context),
    succeededLast: ({ context, event }) =>
      isCurrentAttempt(context, event) && succeeded(event) && lastAction(context),
    failedRetryable: ({ context, event }) =>
      isCurrentAttempt(context, event) &&
      !succeeded(event) &&
      !(event.type === "ACTION_DONE" && event.outcome.retry === false) &&
      context.attempt <= context.retry.limit,
    canRetry: ({ context }) => context.attempt <= context.retry.limit,
    isOpen: ({ context }) => context.open,
    isPulled: ({ context }) => context.pull !== undefined,
    pauseAfterActionRequested: ({ context }) => context.pauseAfterAction,
    wantsPauseAfterAction: ({ event }) =>
      event.type === "PAUSE" && event.mode === PauseMode.AfterAction,
    wantsCancelAfterAction: ({ event }) =>
      event.type === "CANCEL" && event.mode === CancelMode.AfterAction,
    validConcludeDelay: ({ event }) =>
      event.type === "CONCLUDE" && event.delayMs >= 0 && Number.isFinite(event.delayMs),
    hasActiveAttempt: ({ context }) => context.attemptActive,
  },
  delays: {
    untilExecuteAt: ({ context, event }) => remaining(context.executeAt, now(context, event)),
    deliveryTimeout: ({ context, event }) =>
      remaining(context.deliveryDeadline, now(context, event)),
    // One timer for both limits of a running attempt: it fires at the earlier one.
    attemptTimeout: ({ context, event }) =>
      remaining(attemptDeadline(context), now(context, event)),
    concludeDelay: ({ context, event }) => remaining(context.concludeAt, now(context, event)),
    // A draining attempt that has not reported its start is bounded by delivery.
    drainTimeout: ({ context, event }) =>
      remaining(attemptDeadline(context) ?? context.deliveryDeadline, now(context, event)),
  },
}).createMachine({
  id: "task",
  description: "A unit of remote work: an ordered list of actions run on one agent.",
  context: ({ input }) => initialTaskContext(input),
  initial: "created",
  states: {
    created: {
      description: "Just submitted: goes straight to ready when due, else waits.",
      always: [{ guard: "isDue", target: "ready" }, { target: "scheduled" }],
    },
    scheduled: {
      description: "Waits for executeAt (first run or retry backoff).",
      always: { guard: "isDue", target: "ready" },
      after: { untilExecuteAt: { target: "ready", actions: "reachedExecuteAt" } },
      on: {
        PAUSE: { target: "paused.holding", actions: "markPaused" },
        CANCEL: { target: "cancelled" },
        REARM: { target: "scheduled", reenter: true },
      },
    },
    ready: {
      description: "Due; waits for its lane slot and agent.",
      entry: "requestDispatch",
      on: {
        DISPATCH: { target: "dispatched", actions: "assignDispatch" },
        PAUSE: { target: "paused.holding", actions: "markPaused" },
        CANCEL: { target: "cancelled" },
        REARM: { target: "ready", reenter: true },
      },
    },
    dispatched: {
      description: "Action currentActionIdx sent to the agent; waits for it to start.",
      entry: "sendRun",
      after: {
        deliveryTimeout: [
          { guard: "isPulled", target: "ready", actions: "requeueClaim" },
          {
            guard: "canRetry",
            target: "scheduled",
            actions: ["reachedDeliveryDeadline", "sendCancel", "scheduleRetry"],
          },
          { target: "timedOut", actions: ["reachedDeliveryDeadline", "sendCancel"] },
        ],
      },
      on: {
        STARTED: { guard: "isCurrentAttempt", target: "running", actions: "assignStarted" },
        // A quick action can finish before its start report is handled.
        ACTION_DONE: [
          {
            guard: and(["succeededWithMoreActions", "pauseAfterActionRequested"]),
            target: "#task.paused.holding",
            actions: ["recordResult", "advanceAction", "markPaused"],
          },
          {
            guard: "succeededWithMoreActions",
            target: "ready",
            actions: ["recordResult", "advanceAction"],
          },
          {
            guard: and(["succeededLast", "isOpen"]),
            target: "#task.running.waitingForConclude",
            actions: "recordResult",
          },
          { guard: "succeededLast", target: "done", actions: "recordResult" },
          {
            guard: "failedRetryable",
            target: "scheduled",
            actions: ["recordResult", "scheduleRetry"],
          },
          { guard: "isCurrentAttempt", target: "failed", actions: "recordResult" },
        ],
        PAUSE: [
          { guard: "wantsPauseAfterAction", actions: "requestPauseAfterAction" },
          { target: "paused.suspended", actions: ["markPaused", "sendPause"] },
        ],
        CANCEL: [
          {
            guard: "wantsCancelAfterAction",
            target: "cancelling",
            actions: "requestCancelAfterAction",
          },
          { target: "cancelled", actions: "sendCancel" },
        ],
        TIMEOUT: [
          {
            guard: "canRetry",
            target: "scheduled",
            actions: ["recordTimeout", "sendCancel", "scheduleRetry"],
          },
          { target: "timedOut", actions: ["recordTimeout", "sendCancel"] },
        ],
        REARM: { target: "dispatched", reenter: true },
      },
    },
    running: {
      description: "An action attempt runs on the agent.",
      initial: "executing",
      on: {
        CANCEL: { target: "cancelled", actions: "sendCancel" },
      },
      states: {
        executing: {
          description: "Action currentActionIdx runs; heartbeats keep it alive.",
          after: {
            attemptTimeout: [
              {
                guard: "canRetry",
                target: "#task.scheduled",
                actions: ["reachedAttemptDeadline", "sendCancel", "scheduleRetry"],
              },
              { target: "#task.timedOut", actions: ["reachedAttemptDeadline", "sendCancel"] },
            ],
          },
          on: {
            PROGRESS: {
              guard: "isCurrentAttempt",
              target: "executing",
              reenter: true,
              actions: "assignProgress",
            },
            ACTION_DONE: [
              {
                // The pause asked for "after this action" takes effect now.
                guard: and(["succeededWithMoreActions", "pauseAfterActionRequested"]),
                target: "#task.paused.holding",
                actions: ["recordResult", "advanceAction", "markPaused"],
              },
              {
                guard: "succeededWithMoreActions",
                target: "#task.ready",
                actions: ["recordResult", "advanceAction"],
              },
              {
                guard: and(["succeededLast", "isOpen"]),
                target: "waitingForConclude",
                actions: "recordResult",
              },
              { guard: "succeededLast", target: "#task.done", actions: "recordResult" },
              {
                guard: "failedRetryable",
                target: "#task.scheduled",
                actions: ["recordResult", "scheduleRetry"],
              },
              { guard: "isCurrentAttempt", target: "#task.failed", actions: "recordResult" },
            ],
            PAUSE: [
              { guard: "wantsPauseAfterAction", actions: "requestPauseAfterAction" },
              { target: "#task.paused.suspended", actions: ["markPaused", "sendPause"] },
            ],
            CANCEL: [
              {
                guard: "wantsCancelAfterAction",
                target: "#task.cancelling",
                actions: "requestCancelAfterAction",
              },
              { target: "#task.cancelled", actions: "sendCancel" },
            ],
            CONCLUDE: {
              guard: and(["isOpen", "validConcludeDelay"]),
              target: "concluding",
              actions: "scheduleConclusion",
            },
            TIMEOUT: [
              {
                guard: "canRetry",
                target: "#task.scheduled",
                actions: ["recordTimeout", "sendCancel", "scheduleRetry"],
              },
              { target: "#task.timedOut", actions: ["recordTimeout", "sendCancel"] },
            ],
            REARM: { target: "executing", reenter: true, actions: "restartHeartbeatWindow" },
          },
        },
        waitingForConclude: {
          description: "An open task whose actions are done, kept until concluded.",
          on: {
            CONCLUDE: {
              guard: "validConcludeDelay",
              target: "concluding",
              actions: "scheduleConclusion",
            },
          },
        },
        concluding: {
          description: "CONCLUDE received; ends after its delay.",
          after: {
            concludeDelay: [
              {
                guard: "hasActiveAttempt",
                target: "#task.done",
                actions: ["reachedConcludeTime", "sendCancel"],
              },
              { target: "#task.done", actions: "reachedConcludeTime" },
            ],
          },
          on: {
            ACTION_DONE: { guard: "isCurrentAttempt", actions: "recordResult" },
            REARM: { target: "concluding", reenter: true },
          },
        },
      },
    },
    paused: {
      description: "Held by a client; resumes where it stopped.",
      initial: "holding",
      on: {
        CANCEL: { target: "cancelled", actions: "sendCancel" },
      },
      states: {
        holding: {
          description: "No attempt runs; the next action waits for RESUME.",
          on: {
            RESUME: { target: "#task.scheduled", actions: "markResumed" },
          },
        },
        suspended: {
          description: "The running attempt is frozen on the agent (SIGSTOP).",
          on: {
            RESUME: {
              target: "#task.running.executing",
              actions: ["markResumed", "sendResume"],
            },
            STARTED: { guard: "isCurrentAttempt", actions: "assignStarted" },
            // The attempt finished before the pause reached it.
            ACTION_DONE: [
              {
                guard: "succeededWithMoreActions",
                target: "holding",
                actions: ["recordResult", "advanceAction"],
              },
              {
                guard: and(["succeededLast", "isOpen"]),
                target: "#task.running.waitingForConclude",
                actions: "recordResult",
              },
              { guard: "succeededLast", target: "#task.done", actions: "recordResult" },
              {
                guard: "failedRetryable",
                target: "holding",
                actions: ["recordResult", "scheduleRetry"],
              },
              { guard: "isCurrentAttempt", target: "#task.failed", actions: "recordResult" },
            ],
            TIMEOUT: [
              {
                guard: "canRetry",
                target: "holding",
                actions: ["recordTimeout", "sendCancel", "scheduleRetry"],
              },
              { target: "#task.timedOut", actions: ["recordTimeout", "sendCancel"] },
            ],
          },
        },
      },
    },
    cancelling: {
      description:
        "Cancelled by a client while an action ran: that action finishes, no later one starts.",
      after: {
        drainTimeout: { target: "cancelled", actions: ["reachedDrainDeadline", "sendCancel"] },
      },
      on: {
        STARTED: {
          guard: "isCurrentAttempt",
          target: "cancelling",
          reenter: true,
          actions: "assignStarted",
        },
        PROGRESS: {
          guard: "isCurrentAttempt",
          target: "cancelling",
          reenter: true,
          actions: "assignProgress",
        },
        ACTION_DONE: { guard: "isCurrentAttempt", target: "cancelled", actions: "recordResult" },
        // Cancel asked again without waiting: stop the action now.
        CANCEL: {
          guard: not("wantsCancelAfterAction"),
          target: "cancelled",
          actions: "sendCancel",
        },
        TIMEOUT: { target: "cancelled", actions: ["touch", "sendCancel"] },
        REARM: { target: "cancelling", reenter: true },
      },
    },
    done: {
      description: "Every action succeeded (or an open task was concluded).",
      type: "final",
      entry: { type: "finish", params: { outcome: TaskOutcome.Succeeded } },
    },
    failed: {
      description: "An action failed with no retry left.",
      type: "final",
      entry: { type: "finish", params: { outcome: TaskOutcome.Failed } },
    },
    cancelled: {
      description: "Cancelled by a client; a running attempt was stopped.",
      type: "final",
      entry: { type: "finish", params: { outcome: TaskOutcome.Cancelled } },
    },
    timedOut: {
      description: "Delivery, execution or heartbeat limit passed with no retry left.",
      type: "final",
      entry: [
        assign(({ context }) => ({ error: context.error ?? `${context.timeoutReason} timeout` })),
        { type: "finish", params: { outcome: TaskOutcome.TimedOut } },
      ],
    },
  },
});

export type TaskMachine = typeof taskMachine;
