/**
 * The engine's command and query interface: what the API layer and the CLI may ask
 * of the engine. Everything here is plain data; no actor, store or bus leaks out.
 */

import type { TaskAction } from "../protocol/messages";
import type { JobQuery } from "../store/store";
import type { Workflow } from "./workflows";

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
  /**
   * Claimed by external executors from this queue instead of sent to an agent (the
   * executor API's tasks; the queue is the task definition).
   */
  readonly pull?: string;
}

/** The agent id of pulled tasks: not a valid agent id, so no agent can take it. */
export const PULL_AGENT = "@executor";

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
  /** The queue of a pulled task (see SubmitTask.pull), else null. */
  readonly pull: string | null;
  /** When the running attempt is lost without a heartbeat (epoch ms), else null. */
  readonly heartbeatDeadline: number | null;
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

/** A state change from the journal: a stored event row, or the same one live. */
export interface EngineEvent {
  /** The journal's sequence number: increasing, one per change, never reused. */
  readonly seq: number;
  /** task, lane, batch, job, schedule or agent. */
  readonly kind: string;
  readonly id: string;
  readonly event: string;
  readonly state: string;
  /** Whose entity it is; "" for agents (everyone may see those). */
  readonly tenant: string;
  readonly at: number;
  readonly data: unknown;
}

/** A piece of a running action's output, as its agent sends it live. */
export interface OutputChunk {
  readonly taskId: number;
  readonly agentId: string;
  readonly execId: string;
  readonly stream: "stdout" | "stderr";
  readonly chunk: string;
}

export interface EventSubscription {
  unsubscribe(): void;
}

/**
 * The event stream (GET /events, GET /tasks/{id}/output). A tenant sees its own
 * entities' events and the agents' (tenant ""), nobody else's.
 */
export interface EngineEvents {
  /**
   * Stored events after `seq` that `tenant` may see, oldest first, at most `limit`:
   * fewer only when there are no more (yet).
   */
  eventsAfter(tenant: string, seq: number, limit: number): Promise<EngineEvent[]>;
  /**
   * Events that `tenant` may see whose subject (`fw.events.<kind>.<id>.<event>`)
   * matches `pattern`, live, as each is published after its commit.
   */
  subscribeEvents(
    tenant: string,
    pattern: string,
    handler: (event: EngineEvent) => void,
  ): EventSubscription;
  /** A task's live output from its agents (the caller checks the task is the tenant's). */
  subscribeOutput(taskId: number, handler: (chunk: OutputChunk) => void): EventSubscription;
}

export type EngineApi = EngineCommands & EngineQueries & EngineEvents;

// ---- executor tasks (pulled work; seed-spec section 1) ------------------------

/** A task definition as given (config file or `awf.task/define`); defaults per 1.15. */
export interface TaskDefinitionInput {
  readonly name: string;
  readonly description?: string;
  /** JSON Schemas that `params`, `result` and `error` must match. */
  readonly params?: Record<string, unknown>;
  readonly result?: Record<string, unknown>;
  readonly error?: Record<string, unknown>;
  /** ms @default 10000 */
  readonly requestedToStartTimeout?: number;
  /** ms @default 120000 */
  readonly inProgressTimeout?: number;
  /** @default 2 */
  readonly allowedRetryCount?: number;
  /** ms @default 10000 */
  readonly retryDelay?: number;
  /** At most this many tasks of the definition in progress at once. @default none */
  readonly concurrencyLimit?: number;
  /** Counts the limit per value at this path of the task, e.g. ["params", "resourceType"]. */
  readonly concurrencyPath?: readonly string[];
}

export interface TaskDefinition {
  readonly name: string;
  readonly description: string | null;
  readonly params: Record<string, unknown> | null;
  readonly result: Record<string, unknown> | null;
  readonly error: Record<string, unknown> | null;
  readonly requestedToStartTimeout: number;
  readonly inProgressTimeout: number;
  readonly allowedRetryCount: number;
  readonly retryDelay: number;
  readonly concurrencyLimit: number | null;
  readonly concurrencyPath: readonly string[] | null;
  /** `config` (every tenant) or `api` (this tenant's, made by `define`). */
  readonly source: "config" | "api";
}

/** An executor task: the engine task, its executor id and what it was created with. */
export interface ExecutorTask {
  /** The executor API's id (a UUID unless the creator gave one). */
  readonly id: string;
  readonly definition: TaskDefinition;
  readonly params: unknown;
  readonly label: string | null;
  /** Who created it (the client). */
  readonly requester: string;
  /** created, waiting, ready, requested, in-progress or done. */
  readonly status: ExecutorStatus;
  /** succeeded, failed or canceled once done, else null. */
  readonly outcome: "succeeded" | "failed" | "canceled" | null;
  /** Why it failed: awf.task/failed-by-executor or awf.task/failed-due-to-in-progress-timeout. */
  readonly outcomeReason: string | null;
  /** Starts so far: 1 once the first attempt has started. */
  readonly retryCount: number;
  readonly task: TaskView;
}

export type ExecutorStatus = "created" | "waiting" | "ready" | "requested" | "in-progress" | "done";

export interface ExecutorLogEntry {
  readonly at: number;
  readonly action: string;
  readonly statusBefore: string | null;
  readonly statusAfter: string | null;
  readonly params: unknown;
}

export type ExecutorNotification =
  | { readonly type: "heartbeat"; readonly message?: string }
  | {
      readonly type: "progress";
      readonly current: number;
      readonly total?: number;
      readonly unit?: string;
    };

export interface ExecutorListQuery {
  readonly includeDefinitions?: readonly string[];
  readonly excludeDefinitions?: readonly string[];
  /** Executor statuses: created, waiting, ready, requested, in-progress, done. */
  readonly status?: readonly string[];
  readonly outcome?: readonly string[];
  /** Case-insensitive substring of the id, label or definition. */
  readonly ilike?: string;
  readonly sort?: { readonly field: "createdAt" | "lastUpdated"; readonly order: "asc" | "desc" };
  /** @default 100, at most 1000 */
  readonly limit?: number;
}

/**
 * The executor API's interface (src/api/executor). Wrong state or execId →
 * IllegalTransitionError; unknown id → NotFoundError; bad input → InvalidInputError.
 */
export interface ExecutorApi {
  define(tenant: string, definition: TaskDefinitionInput): Promise<TaskDefinition>;
  definitions(tenant: string): TaskDefinition[];
  create(
    tenant: string,
    request: {
      readonly definition: string;
      readonly params: unknown;
      readonly id?: string;
      readonly label?: string;
      readonly executeAt?: number;
      /** The job whose step this task runs (the job engine's own tasks). */
      readonly jobId?: number;
    },
  ): Promise<ExecutorTask>;
  /** Claims at once; none claimable → []. */
  poll(tenant: string, definitions: readonly string[], max: number): Promise<ExecutorTask[]>;
  /** Claims as soon as something is claimable, or [] after `timeoutMs`. */
  longPoll(
    tenant: string,
    definitions: readonly string[],
    max: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ExecutorTask[]>;
  start(tenant: string, id: string, execId: string): Promise<ExecutorTask>;
  /** Resolves with the new in-progress deadline (epoch ms). */
  notify(
    tenant: string,
    id: string,
    execId: string,
    notification: ExecutorNotification,
  ): Promise<number>;
  success(tenant: string, id: string, execId: string, result?: unknown): Promise<ExecutorTask>;
  fail(tenant: string, id: string, execId: string, error?: unknown): Promise<ExecutorTask>;
  get(tenant: string, id: string): Promise<ExecutorTask>;
  log(tenant: string, id: string): Promise<ExecutorLogEntry[]>;
  cancel(tenant: string, id: string): Promise<ExecutorTask>;
  list(tenant: string, query: ExecutorListQuery): Promise<ExecutorTask[]>;
}

// ---- jobs (the job engine API; seed-spec section 4) ---------------------------

export interface JobView {
  readonly id: number;
  readonly client: string;
  readonly workflow: string;
  /** Lower is more urgent. */
  readonly priority: number;
  /** The job machine's state: scheduled, pending, queued, started, paused, broken, completed. */
  readonly state: string;
  /** The seed's queue_state id: 0 queued, 1 started, 2 completed, 3 pending, 4 broken, 5 scheduled, 6 paused. */
  readonly queueState: number;
  readonly failed: boolean;
  readonly runAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The step running (or last run); -1 before the first. */
  readonly currentStep: number;
  readonly data: {
    readonly parameters: Record<string, unknown>;
    readonly semaphoreUrl: string | null;
    /** Failed attempts per step. */
    readonly failures: readonly number[];
    readonly taskId: number | null;
    readonly retryAt: number | null;
  };
}

export interface JobLogEntry {
  readonly id: number;
  readonly jobId: number;
  /** 0 for a job-level line. */
  readonly taskId: number;
  /** Ruby Logger: 0 DEBUG, 1 INFO, 2 WARN, 3 ERROR, 4 FATAL, 5 UNKNOWN. */
  readonly severity: number;
  readonly progname: "api" | "worker" | "controller" | "callback";
  readonly message: string;
  readonly createdAt: number;
}

/** A job listing (GET /jobs): the store's query, filtered and ordered there. */
export type JobListQuery = JobQuery;

export interface JobChanges {
  readonly queueState?: "paused" | "broken" | "queued";
  readonly runAt?: number;
  readonly priority?: number;
  /** null clears it. */
  readonly semaphoreUrl?: string | null;
}

export interface JobScheduleInfo {
  readonly name: string;
  readonly className: string;
  readonly everySeconds: number;
  readonly firstInSeconds: number;
  readonly queue: string;
  readonly description: string;
  readonly active: boolean;
}

export interface JobsHealth {
  /** sqlite or postgres, and "OK" or what is wrong. */
  readonly storeKind: string;
  readonly store: "OK" | string;
  /** nats or embedded, and "OK" or what is wrong. */
  readonly busKind: string;
  readonly bus: "OK" | string;
  readonly queues: Readonly<
    Record<string, { readonly workers: number; readonly working: number; readonly pending: number }>
  >;
  readonly tasks: { readonly failed: number; readonly pending: number; readonly processed: number };
  /** Job counts by state name; a completed job that failed counts as `failed`. */
  readonly jobs: Readonly<Record<string, number>>;
  readonly maxJobs: number;
  readonly prioritySlots: number;
}

/** The job API's interface (src/api/jobs). Errors: InvalidInputError, NotFoundError. */
export interface JobsApi {
  create(
    client: string,
    request: {
      readonly workflow: string;
      readonly parameters: Record<string, unknown>;
      readonly priority?: number;
      readonly runAt?: number;
      readonly semaphoreUrl?: string;
      /** The first `api` log line: path and masked headers, as JSON text (4.16). */
      readonly requestLog?: string;
    },
  ): Promise<JobView>;
  /** Any client's job when `client` is null (the unauthenticated GET /jobs). */
  find(client: string | null, id: number): Promise<JobView | undefined>;
  list(query: JobListQuery): Promise<JobView[]>;
  /** Returns the job and a sentence per change made ("queue_state to paused", ...). */
  update(
    client: string,
    id: number,
    changes: JobChanges,
  ): Promise<{ job: JobView; performed: string[] }>;
  /** A new job with the same parameters; the original becomes broken (4.9). */
  rerun(client: string, id: number): Promise<JobView>;
  logs(client: string, id: number): Promise<JobLogEntry[]>;
  health(): Promise<JobsHealth>;
  /** Live jobs by state: started, queued, scheduled (the dashboard). */
  views(): JobView[];
  schedules(): JobScheduleInfo[];
  setScheduleActive(name: string, active: boolean): Promise<JobScheduleInfo[]>;
  settings(): Record<string, string | number>;
  setSetting(name: string, setting: string): Promise<{ created: boolean }>;
  workflows(): readonly Workflow[];
  /** Adds or replaces a workflow (an extension: PUT /workflows/{name}). */
  putWorkflow(input: unknown): Promise<Workflow>;
}

export type { Workflow, WorkflowStep } from "./workflows";
