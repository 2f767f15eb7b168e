/**
 * Wire contracts between the engine and its agents, as TypeBox schemas so both sides
 * can validate what they receive. Times are milliseconds since the Unix epoch.
 */
import { type Static, Type as T } from "@sinclair/typebox";
import { SUBJECT_TOKEN_PATTERN } from "./subjects";

export const AgentId = T.String({ pattern: SUBJECT_TOKEN_PATTERN, description: "agent id" });

/** One step of a task: an action type the agent knows, and its parameters. */
export const TaskAction = T.Object(
  {
    type: T.String({ minLength: 1, maxLength: 64, description: "action type, e.g. exec" }),
    params: T.Optional(T.Record(T.String(), T.Unknown(), { description: "action parameters" })),
  },
  { additionalProperties: false },
);
export type TaskAction = Static<typeof TaskAction>;

/** engine → agent on `fw.agent.<id>.cmd`. */
export const AgentCommand = T.Union([
  T.Object({
    kind: T.Literal("run"),
    execId: T.String(),
    taskId: T.Number(),
    actionIdx: T.Number(),
    action: TaskAction,
    /** The agent kills the attempt after this long; 0 means no limit. */
    timeoutMs: T.Number(),
  }),
  T.Object({ kind: T.Literal("cancel"), execId: T.String(), taskId: T.Number() }),
  T.Object({ kind: T.Literal("pause"), execId: T.String(), taskId: T.Number() }),
  T.Object({ kind: T.Literal("resume"), execId: T.String(), taskId: T.Number() }),
  /**
   * Sent after a hello, on the same subject as runs so it arrives after every run sent
   * before it: which of these attempts does the agent not know?
   */
  T.Object({ kind: T.Literal("reconcile"), execIds: T.Array(T.String()) }),
  /**
   * Say hello again: the engine heard a heartbeat from an agent it does not know
   * (it restarted), and needs its labels, capabilities and instances.
   */
  T.Object({ kind: T.Literal("hello") }),
]);
export type AgentCommand = Static<typeof AgentCommand>;
export type RunCommand = Extract<AgentCommand, { kind: "run" }>;

export const AttemptState = {
  Running: "running",
  Paused: "paused",
  Succeeded: "succeeded",
  Failed: "failed",
  Cancelled: "cancelled",
  Unknown: "unknown",
} as const;
export type AttemptState = (typeof AttemptState)[keyof typeof AttemptState];

/** The agent's answer to a command. */
export const CommandReply = T.Object({
  ok: T.Boolean(),
  state: T.Enum(AttemptState),
  message: T.Optional(T.String()),
  /** For `reconcile`: the execIds the agent has never seen. */
  unknown: T.Optional(T.Array(T.String())),
});
export type CommandReply = Static<typeof CommandReply>;

/** The end of one action attempt. */
export const ActionOutcome = T.Object({
  ok: T.Boolean(),
  exitCode: T.Optional(T.Number()),
  /** Bounded tails of the output, kept with the result. */
  stdout: T.Optional(T.String()),
  stderr: T.Optional(T.String()),
  message: T.Optional(T.String()),
  /** False: this failure is final, whatever retries the task has left. */
  retry: T.Optional(T.Boolean()),
});
export type ActionOutcome = Static<typeof ActionOutcome>;

/** agent → engine on `fw.report.<agentId>`. */
export const AgentReport = T.Union([
  T.Object({ kind: T.Literal("started"), execId: T.String(), taskId: T.Number(), at: T.Number() }),
  T.Object({
    kind: T.Literal("progress"),
    execId: T.String(),
    taskId: T.Number(),
    at: T.Number(),
    progress: T.Optional(T.Number()),
    message: T.Optional(T.String()),
  }),
  T.Object({
    kind: T.Literal("result"),
    execId: T.String(),
    taskId: T.Number(),
    at: T.Number(),
    outcome: ActionOutcome,
  }),
]);
export type AgentReport = Static<typeof AgentReport>;

/** The engine's answer to a report: `durable` once the report is on disk. */
export const ReportAck = T.Object({ durable: T.Boolean(), ignored: T.Optional(T.Boolean()) });
export type ReportAck = Static<typeof ReportAck>;

export const AgentHello = T.Object({
  agentId: AgentId,
  version: T.String(),
  labels: T.Record(T.String(), T.String()),
  capabilities: T.Array(T.String()),
  instances: T.Array(T.Record(T.String(), T.Unknown())),
  /** Attempts the agent is running or has results for, so the engine can reconcile. */
  running: T.Array(T.String()),
});
export type AgentHello = Static<typeof AgentHello>;

export const AgentHeartbeat = T.Object({
  agentId: AgentId,
  at: T.Number(),
  running: T.Array(T.String()),
  load: T.Optional(T.Number()),
});
export type AgentHeartbeat = Static<typeof AgentHeartbeat>;

/**
 * agent → engine on `fw.agent.<id>.instance-exit`: an application instance exited on
 * its own. The engine relays it as the event `fw.events.agent.<id>.instanceExited`
 * (agents may not publish events themselves).
 */
export const InstanceExit = T.Object({
  agentId: AgentId,
  instanceId: T.String(),
  code: T.Union([T.Integer(), T.Null()]),
  signal: T.Union([T.String(), T.Null()]),
  at: T.Number(),
});
export type InstanceExit = Static<typeof InstanceExit>;

/** engine → subscribers on `fw.events.<kind>.<id>.<event>`. */
export interface EntityEvent {
  readonly seq: number;
  readonly kind: string;
  readonly id: number | string;
  readonly event: string;
  readonly state: string;
  /** Whose entity it is ("" for agents): who may see the event (GET /events). */
  readonly tenant?: string;
  readonly at: number;
  readonly data?: unknown;
}
