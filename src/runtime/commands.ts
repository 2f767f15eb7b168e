/**
 * The engine's command and query interface: what the API layer and the CLI may ask
 * of the engine. Everything here is plain data; no actor, store or bus leaks out.
 */
import type { TaskAction } from "../protocol/messages";

export interface TaskTimeoutsSpec {
  readonly deliveryMs?: number;
  readonly executionMs?: number;
  readonly heartbeatMs?: number;
}

export interface RetrySpec {
  readonly limit?: number;
  readonly backoffMs?: number;
  readonly factor?: number;
  readonly maxBackoffMs?: number;
}

/** What a client asks for; the engine fills every default. */
export interface SubmitTask {
  readonly tenant: string;
  readonly name?: string;
  readonly actions: readonly TaskAction[];
  /** The agent to run on; the embedded agent when absent in embedded mode. */
  readonly agentId?: string;
  /** Tasks with the same lane run one at a time, in (priority, id) order. */
  readonly lane?: string;
  /**
   * The lane is shared by every tenant instead of being the tenant's own: for things
   * outside any one client, like an application instance on a host. @default false
   */
  readonly sharedLane?: boolean;
  /** Lower runs first within a lane. @default 0 */
  readonly priority?: number;
  /** Epoch ms; absent or past means now. */
  readonly executeAt?: number;
  readonly timeouts?: TaskTimeoutsSpec;
  readonly retry?: RetrySpec;
  /** Not concluded when its actions end, only by `conclude`. @default false */
  readonly open?: boolean;
  /** Keep the attempt's workspace on the agent. @default false */
  readonly archive?: boolean;
  readonly refId?: string;
  readonly parentId?: number;
  readonly batchId?: number;
  readonly jobId?: number;
}

export interface TaskView {
  readonly id: number;
  readonly tenant: string;
  readonly name: string;
  /** The full state path, e.g. `running.executing`. */
  readonly state: string;
  /** The top-level state: scheduled, ready, dispatched, running, paused, done, ... */
  readonly status: string;
  readonly outcome: string | null;
  readonly agentId: string | null;
  readonly lane: string | null;
  readonly actions: readonly TaskAction[];
  readonly currentActionIdx: number;
  readonly priority: number;
  readonly executeAt: number;
  readonly attempt: number;
  readonly execId: string | null;
  readonly progress: number | null;
  readonly results: readonly unknown[];
  readonly error: string | null;
  readonly timeoutReason: string | null;
  readonly open: boolean;
  readonly archive: boolean;
  readonly refId: string | null;
  readonly parentId: number | null;
  readonly batchId: number | null;
  readonly jobId: number | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly lastActivityAt: number;
  readonly finishedAt: number | null;
  readonly updatedAt: number;
  /** A pause waits for the running action to finish. */
  readonly pauseRequested: boolean;
  /** Set when a cancel waits for the running action to finish (status `cancelling`). */
  readonly cancelRequestedAt: number | null;
  /** Client commands the task accepts now. */
  readonly accepts: readonly string[];
}

/** A batch: one task per target, created together. */
export interface BatchView {
  readonly id: number;
  readonly tenant: string;
  /** Which API made it (`hostTask`, `xina`; "" for the native one). */
  readonly kind: string;
  readonly status: "running" | "finished";
  readonly taskIds: readonly number[];
  /** Outcome per finished task id. */
  readonly outcomes: Readonly<Record<number, string>>;
  readonly counts: {
    readonly succeeded: number;
    readonly failed: number;
    readonly cancelled: number;
    readonly timedOut: number;
  };
  readonly createdAt: number;
  readonly executeAt: number;
  readonly finishedAt: number | null;
}

/** A task of a batch: everything but what the batch decides for all of them. */
export type BatchTask = Omit<SubmitTask, "tenant" | "batchId" | "executeAt">;

export interface ListTasks {
  readonly status?: readonly string[];
  readonly lane?: string;
  readonly batchId?: number;
  /** Tasks with any of these ref ids (ref ids need not be unique). */
  readonly refIds?: readonly string[];
  readonly agentId?: string;
  readonly beforeId?: number;
  /** @default 100 */
  readonly limit?: number;
}

export interface EngineStats {
  readonly liveTasks: number;
  readonly passivatedWakeups: number;
  readonly timers: number;
  readonly submitted: number;
  readonly finished: Readonly<Record<string, number>>;
  readonly commits: number;
  readonly lastCommitBatch: number;
  readonly storeFailure: string | null;
}

/** An agent as the engine sees it. */
export interface AgentView {
  readonly id: string;
  readonly status: "online" | "offline";
  readonly labels: Readonly<Record<string, string>>;
  readonly capabilities: readonly string[];
  readonly instances: readonly Record<string, unknown>[];
  readonly version: string;
  readonly running: readonly string[];
  readonly lastSeenAt: number;
}

export interface EngineCommands {
  submit(task: SubmitTask): Promise<TaskView>;
  /**
   * `afterAction`: the task stops at once for clients (`cancelRequestedAt`), but a
   * running action finishes and keeps the task's lane until it has; no later action
   * starts. `now` (the default) stops the running action.
   */
  cancel(tenant: string, id: number, mode?: "now" | "afterAction"): Promise<TaskView>;
  /** `afterAction`: let the running action finish, start no further one. */
  pause(tenant: string, id: number, mode?: "suspend" | "afterAction"): Promise<TaskView>;
  resume(tenant: string, id: number): Promise<TaskView>;
  conclude(tenant: string, id: number, delayMs: number): Promise<TaskView>;
  /** Deletes a finished task for good. */
  clean(tenant: string, id: number): Promise<void>;
  /** Cancels (when not finished) and cleans. */
  destroy(tenant: string, id: number): Promise<void>;
  /**
   * Creates one task per entry and a batch of them, all or nothing: one bad entry
   * creates nothing.
   */
  submitBatch(
    tenant: string,
    tasks: readonly BatchTask[],
    options?: { executeAt?: number; kind?: string },
  ): Promise<{ batch: BatchView; tasks: TaskView[] }>;
  pauseLane(tenant: string, lane: string): Promise<void>;
  resumeLane(tenant: string, lane: string, continueLocked: boolean): Promise<void>;
}

export interface EngineQueries {
  get(tenant: string, id: number): Promise<TaskView>;
  list(tenant: string, query: ListTasks): Promise<TaskView[]>;
  getBatch(tenant: string, id: number): Promise<BatchView>;
  /** The tenant's batches of one kind, newest first. @default kind "", limit 100 */
  listBatches(tenant: string, query?: { kind?: string; limit?: number }): Promise<BatchView[]>;
  stats(): EngineStats;
  /** Every agent that has said hello or sent a heartbeat since the engine started. */
  agents(): AgentView[];
  /** Null while the engine accepts work; otherwise why it refuses. */
  unavailable(): string | null;
}

export type EngineApi = EngineCommands & EngineQueries;
