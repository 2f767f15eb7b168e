/**
 * Every NATS subject the engine and its agents use (DESIGN.md section 5), built in
 * one place so a typo cannot split a conversation in two.
 */

export const SUBJECT_PREFIX = "fw";

export const subjects = {
  /**
   * agent → engine (request): register. Per agent, like every subject an agent sends
   * on, so NATS permissions can keep one agent from speaking for another.
   */
  hello: (agentId: string) => `${SUBJECT_PREFIX}.agent.${agentId}.hello`,
  /** agent → engine: running execIds and load, every few seconds. */
  heartbeat: (agentId: string) => `${SUBJECT_PREFIX}.agent.${agentId}.heartbeat`,
  /** engine → agent (request/reply): run, cancel, pause, resume an attempt. */
  command: (agentId: string) => `${SUBJECT_PREFIX}.agent.${agentId}.cmd`,
  /** agent → engine (request/reply): progress and results; answered once durable. */
  report: (agentId: string) => `${SUBJECT_PREFIX}.report.${agentId}`,
  /** agent → engine: an application instance exited on its own; the engine relays it. */
  instanceExit: (agentId: string) => `${SUBJECT_PREFIX}.agent.${agentId}.instance-exit`,
  /**
   * Where an agent's requests get their replies (its NATS inbox prefix). Per agent, so
   * its permissions can let it read its own replies and no one else's.
   */
  agentInbox: (agentId: string) => `_INBOX.agent.${agentId}`,
  /** agent → subscribers: live output chunks. */
  output: (taskId: number | string, agentId: string) =>
    `${SUBJECT_PREFIX}.out.${taskId}.${agentId}`,
  /** engine → subscribers: a state change of an entity. */
  event: (kind: EntityKind, id: number | string, event: string) =>
    `${SUBJECT_PREFIX}.events.${kind}.${id}.${event}`,
} as const;

/** Patterns the engine subscribes to. */
export const patterns = {
  hellos: `${SUBJECT_PREFIX}.agent.*.hello`,
  instanceExits: `${SUBJECT_PREFIX}.agent.*.instance-exit`,
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

/**
 * The agent id a subject of `subjects` names (`fw.agent.<id>.…`, `fw.report.<id>`): the
 * only id the engine trusts, since NATS permissions decide who may publish there.
 */
export function agentIdOfSubject(subject: string): string {
  // Both shapes carry it as the third token.
  return subject.split(".")[2] ?? "";
}

/** Agent ids and lane names become subject tokens: keep them to a safe alphabet. */
export const SUBJECT_TOKEN_PATTERN = "^[A-Za-z0-9_-]{1,128}$";
