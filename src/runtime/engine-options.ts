/** What the engine is told at construction; every default lives in src/config.ts. */
import type { InspectionEvent, Observer } from "xstate";
import type { RetryPolicy, TaskTimeouts } from "../../machines";
import type { TaskDefinitionInput } from "./commands";

/** What XState's `inspect` actor option takes: an observer or a plain callback. */
export type Inspect = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

export interface EngineOptions {
  /** Tasks due further ahead than this are kept on disk, not as actors. @default 60000 */
  readonly passivateAfterMs: number;
  /** Wake a passivated task this long before it is due, so loading it costs no lateness. @default 1000 */
  readonly wakeLeadMs: number;
  readonly defaultTimeouts: TaskTimeouts;
  readonly defaultRetry: RetryPolicy;
  /** The agent tasks go to when they name none (the embedded agent). */
  readonly defaultAgentId: string | null;
  readonly commandTimeoutMs: number;
  /** Journal entries older than this are compacted away. @default 86400000 */
  readonly eventRetentionMs: number;
  /**
   * Agents that start fresh with this engine (the embedded agent): an attempt they
   * had before a restart died with them, so it is settled as lost (retried or timed
   * out per its task's policy) instead of being waited for.
   */
  readonly restartedAgents?: readonly string[];
  /** An agent silent for this long is offline. @default 15000 (3 × 5 s heartbeats) */
  readonly agentHeartbeatTimeoutMs?: number;
  /** Executor task definitions every tenant has (from the config file). */
  readonly taskDefinitions?: readonly TaskDefinitionInput[];
  /** Job workflows from files (FW_WORKFLOWS_DIR), each with the file it came from. */
  readonly workflowFiles?: readonly { readonly source: string; readonly value: unknown }[];
  /** When queue_scheduled_jobs first runs after start. @default 5000 (seed-spec 4.13) */
  readonly jobSchedulerFirstInMs?: number;
  /** The first retry of a failed job callback waits this long, doubling. @default 1000 */
  readonly jobCallbackBackoffMs?: number;
  /**
   * Receives XState inspection events (`@xstate.actor`, `@xstate.event`,
   * `@xstate.snapshot`) of every actor the engine creates: tasks, lanes, batches,
   * schedules, jobs and agents (e.g. a Stately inspector's `.inspect`, FW_INSPECT).
   * @default none: no actor is inspected
   */
  readonly inspect?: Inspect;
}
