/**
 * Every NATS subject the engine and its agents use (DESIGN.md section 5), built in
 * one place so a typo cannot split a conversation in two.
 */

export const SUBJECT_PREFIX = "fw";

export const subjects = {
  /** agent → engine (request): register. */
  hello: () => `${SUBJECT_PREFIX}.agent.hello`,
  /** agent → engine: running execIds and load, every few seconds. */
  heartbeat: (agentId: string) => `${SUBJECT_PREFIX}.agent.${agentId}.heartbeat`,
  /** engine → agent (request/reply): run, cancel, pause, resume an attempt. */
  command: (agentId: string) => `${SUBJECT_PREFIX}.agent.${agentId}.cmd`,
  /** agent → engine (request/reply): progress and results; answered once durable. */
  report: (agentId: string) => `${SUBJECT_PREFIX}.report.${agentId}`,
  /** agent → subscribers: live output chunks. */
  output: (taskId: number | string, agentId: string) =>
    `${SUBJECT_PREFIX}.out.${taskId}.${agentId}`,
  /** engine → subscribers: a state change of an entity. */
  event: (kind: EntityKind, id: number | string, event: string) =>
    `${SUBJECT_PREFIX}.events.${kind}.${id}.${event}`,
} as const;

/** Patterns the engine subscribes to. */
export const patterns = {
  heartbeats: `${SUBJECT_PREFIX}.agent.*.heartbeat`,
  reports: `${SUBJECT_PREFIX}.report.*`,
  allEvents: `${SUBJECT_PREFIX}.events.>`,
} as const;

export const EntityKind = {
  Task: "task",
  Lane: "lane",
  Batch: "batch",
  Job: "job",
  Schedule: "schedule",
  Agent: "agent",
} as const;
export type EntityKind = (typeof EntityKind)[keyof typeof EntityKind];

/** Agent ids and lane names become subject tokens: keep them to a safe alphabet. */
export const SUBJECT_TOKEN_PATTERN = "^[A-Za-z0-9_-]{1,128}$";
