export {
  type AgentContext,
  type AgentEvent,
  type AgentInput,
  type AgentMachine,
  agentMachine,
} from "./agent";
export {
  BATCH_COMMANDS,
  type BatchContext,
  type BatchCounts,
  type BatchEvent,
  type BatchInput,
  type BatchMachine,
  batchMachine,
} from "./batch";
export {
  JOB_COMMANDS,
  type JobContext,
  type JobEvent,
  type JobInput,
  type JobMachine,
  jobMachine,
  QueueState,
  type QueueStateName,
} from "./job";
export {
  LANE_COMMANDS,
  type LaneContext,
  type LaneEntry,
  type LaneEvent,
  type LaneInput,
  type LaneMachine,
  laneMachine,
} from "./lane";
export {
  parseFrequency,
  SCHEDULE_COMMANDS,
  type ScheduleContext,
  type ScheduleEvent,
  type ScheduleInput,
  type ScheduleMachine,
  scheduleMachine,
} from "./schedule";
export {
  CancelMode,
  initialTaskContext,
  PauseMode,
  type RetryPolicy,
  TASK_COMMANDS,
  type TaskContext,
  type TaskEvent,
  type TaskInput,
  type TaskMachine,
  TaskOutcome,
  type TaskTimeouts,
  TimeoutReason,
  taskMachine,
} from "./task";
export type { Timed } from "./time";
