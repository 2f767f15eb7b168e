export {
  ActionOutcome,
  AgentCommand,
  AgentHeartbeat,
  AgentHello,
  AgentId,
  AgentReport,
  AttemptState,
  CommandReply,
  type EntityEvent,
  InstanceExit,
  ReportAck,
  type RunCommand,
  TaskAction,
} from "./messages";
export {
  agentIdOfSubject,
  EntityKind,
  patterns,
  SUBJECT_PREFIX,
  SUBJECT_TOKEN_PATTERN,
  subjects,
} from "./subjects";
export { FINAL_TASK_STATES, type FinalTaskState } from "./task-states";
