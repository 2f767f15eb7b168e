/**
 * The agent as the engine sees it: online while its heartbeats keep coming, offline
 * when they stop for longer than the heartbeat timeout.
 */
import { assign, setup } from "xstate";
import { deadlineAfter, eventTime, remaining, type Timed } from "./time";

export interface AgentInput {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly capabilities: readonly string[];
  readonly version: string;
  /** Missing heartbeats for this long puts the agent offline. */
  readonly heartbeatTimeoutMs: number;
  readonly now: number;
}

export interface AgentContext extends Omit<AgentInput, "now"> {
  readonly lastSeenAt: number;
  readonly offlineDeadline: number | null;
  readonly running: readonly string[];
  readonly updatedAt: number;
}

export type AgentEvent =
  | ({
      type: "HELLO";
      labels: Readonly<Record<string, string>>;
      capabilities: readonly string[];
      version: string;
      running: readonly string[];
    } & Timed)
  | ({ type: "HEARTBEAT"; running: readonly string[] } & Timed)
  | ({ type: "GOODBYE" } & Timed)
  | ({ type: "REARM" } & Timed);

function seen(context: AgentContext, at: number) {
  return {
    lastSeenAt: at,
    offlineDeadline: deadlineAfter(at, context.heartbeatTimeoutMs),
    updatedAt: at,
  };
}

export const agentMachine = setup({
  types: {
    context: {} as AgentContext,
    events: {} as AgentEvent,
    input: {} as AgentInput,
  },
  actions: {
    // Bound by the runtime: settle the attempts of an agent that went away.
    agentLost: () => {},
    // Bound by the runtime: reconcile attempts the agent says it has.
    reconcile: () => {},
    greet: assign(({ context, event }) => {
      if (event.type !== "HELLO") return {};
      return {
        ...seen(context, event.at),
        labels: event.labels,
        capabilities: event.capabilities,
        version: event.version,
        running: event.running,
      };
    }),
    beat: assign(({ context, event }) => {
      if (event.type !== "HEARTBEAT") return {};
      return { ...seen(context, event.at), running: event.running };
    }),
    leave: assign(({ context, event }) => ({
      offlineDeadline: null,
      running: [],
      updatedAt: eventTime(event, context.updatedAt),
    })),
  },
  delays: {
    heartbeatTimeout: ({ context, event }) =>
      remaining(context.offlineDeadline, eventTime(event, context.updatedAt)),
  },
}).createMachine({
  id: "agent",
  description: "A host agent: online while it heartbeats.",
  context: ({ input }) => {
    const { now, ...rest } = input;
    return {
      ...rest,
      lastSeenAt: now,
      offlineDeadline: deadlineAfter(now, input.heartbeatTimeoutMs),
      running: [],
      updatedAt: now,
    };
  },
  initial: "online",
  states: {
    online: {
      description: "Heartbeats arrive in time; commands go to it.",
      after: {
        heartbeatTimeout: {
          target: "offline",
          // The timer's event carries no time: it fires at the deadline.
          actions: [
            assign(({ context }) => ({ updatedAt: context.offlineDeadline ?? context.updatedAt })),
            "leave",
          ],
        },
      },
      on: {
        HEARTBEAT: { target: "online", reenter: true, actions: "beat" },
        HELLO: { target: "online", reenter: true, actions: ["greet", "reconcile"] },
        GOODBYE: { target: "offline", actions: "leave" },
        REARM: { target: "online", reenter: true },
      },
    },
    offline: {
      description: "Silent past its heartbeat timeout, or said goodbye.",
      entry: "agentLost",
      on: {
        HELLO: { target: "online", actions: ["greet", "reconcile"] },
        HEARTBEAT: { target: "online", actions: "beat" },
      },
    },
  },
});

export type AgentMachine = typeof agentMachine;
