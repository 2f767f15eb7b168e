/**
 * Executor tasks (seed-spec section 1): tasks external workers claim over HTTP
 * instead of the engine sending them to an agent. Each is an ordinary task actor with
 * `pull` set to its definition; this module maps the executor API onto it:
 *
 *   created → waiting (scheduled) → ready → requested (dispatched)
 *           → in-progress (running) → done (done | failed | cancelled | timedOut)
 *
 * Timeouts are the task's own: requestedToStartTimeout is its delivery limit (a lapsed
 * claim goes back to ready, its execId dead), inProgressTimeout its heartbeat limit
 * (renewed by notify), and the retry policy is allowedRetryCount × retryDelay. It also
 * counts concurrency per definition and keeps each task's log.
 */
import type { TaskContext, TaskEvent } from "../../machines";
import type { Clock } from "../clock";
import { IllegalTransitionError, InvalidInputError, NotFoundError } from "../errors";
import type { Logger } from "../log";
import type { GroupCommitWriter } from "../store/group-commit";
import type { Store } from "../store/store";
import {
  type ExecutorApi,
  type ExecutorListQuery,
  type ExecutorLogEntry,
  type ExecutorNotification,
  type ExecutorStatus,
  type ExecutorTask,
  PULL_AGENT,
  type SubmitTask,
  type TaskDefinition,
  type TaskDefinitionInput,
  type TaskView,
} from "./commands";
import { ExecutorDefinitions } from "./executor-definitions";
import { topLevel } from "./task-records";

/** What the engine tells its one watcher of pulled tasks. */
export type PullObserver = (previous: string, path: string, context: TaskContext) => void;

/** The engine's side, as this module uses it. */
export interface PullEngine {
  submit(spec: SubmitTask): Promise<TaskView>;
  get(tenant: string, id: number): Promise<TaskView>;
  list(
    tenant: string,
    query: { refIds?: readonly string[]; agentId?: string; limit?: number },
  ): Promise<TaskView[]>;
  cancel(tenant: string, id: number): Promise<TaskView>;
  observePulled(observer: PullObserver): void;
  livePulled(): { path: string; context: TaskContext }[];
  claimPulled(
    tenant: string,
    queues: readonly string[],
    max: number,
    admit: (context: TaskContext) => boolean,
  ): Promise<TaskView[]>;
  waitForPulled(
    tenant: string,
    queues: readonly string[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void>;
  wakePulled(tenant: string, queue: string): void;
  reportPulled(tenant: string, id: number, name: string, event: TaskEvent): Promise<TaskView>;
}

export interface ExecutorDeps {
  readonly engine: PullEngine;
  readonly store: Pick<Store, "getMeta" | "taskLog">;
  readonly writer: GroupCommitWriter;
  readonly clock: Clock;
  readonly log: Logger;
  readonly definitions: readonly TaskDefinitionInput[];
}

/** What a pulled task's one action carries. */
interface PulledAction {
  readonly id: string;
  readonly params: unknown;
  readonly label: string | null;
}

const ACTION_TYPE = "executor";
/** FHIR's id rule: what an AidboxTask id may be. */
const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const MAX_BATCH = 1_000;
const MAX_LIST = 1_000;

/** The executor status of a task state path (seed-spec 1.4). */
export function executorStatus(path: string): ExecutorStatus {
  switch (topLevel(path)) {
    case "created":
    case "":
      return "created";
    case "scheduled":
      return "waiting";
    case "ready":
      return "ready";
    case "dispatched":
      return "requested";
    case "paused":
      return path === "paused.suspended" ? "in-progress" : "waiting";
    case "running":
    case "cancelling":
      return "in-progress";
    default:
      return "done";
  }
}

/** Holds a slot of its definition's concurrency limit. */
const occupies = (status: ExecutorStatus) => status === "requested" || status === "in-progress";

function outcomeOf(view: TaskView): Pick<ExecutorTask, "outcome" | "outcomeReason"> {
  switch (view.status) {
    case "done":
      return { outcome: "succeeded", outcomeReason: null };
    case "failed":
      return { outcome: "failed", outcomeReason: "awf.task/failed-by-executor" };
    case "timedOut":
      return { outcome: "failed", outcomeReason: "awf.task/failed-due-to-in-progress-timeout" };
    case "cancelled":
      return { outcome: "canceled", outcomeReason: null };
    default:
      return { outcome: null, outcomeReason: null };
  }
}

/** A timer-driven transition's log action. */
function timerAction(previous: string, path: string): string {
  const from = topLevel(previous);
  const to = topLevel(path);
  if (from === "dispatched" && to === "ready") return "awf.task/requested-to-start-timeout";
  if (from === "running") return "awf.task/in-progress-timeout";
  if (from === "scheduled" && to === "ready") return "awf.task/execute-at-reached";
  return "awf.task/transition";
}

export class ExecutorTasks implements ExecutorApi {
  /** tenant \0 executor id → task id, for the tasks this process has seen. */
  private readonly ids = new Map<string, number>();
  /** Ids being created now: a second create of the same id must not race the first. */
  private readonly creating = new Set<string>();
  /** Requested + in-progress tasks per tenant \0 definition \0 concurrency key. */
  private readonly occupancy = new Map<string, number>();
  /** The API call behind the transition a task is about to make. */
  private readonly causes = new Map<number, { action: string; params: unknown }>();
  private claimCause: { action: string; params: unknown } | null = null;

  private constructor(
    private readonly deps: ExecutorDeps,
    private readonly definitionsOf: ExecutorDefinitions,
  ) {
    deps.engine.observePulled((previous, path, context) =>
      this.onTransition(previous, path, context),
    );
    // Restored in place, their states are not changes: only counted.
    for (const { path, context } of deps.engine.livePulled()) {
      if (occupies(executorStatus(path))) this.adjust(context, 1);
    }
  }

  static async start(deps: ExecutorDeps): Promise<ExecutorTasks> {
    const definitions = await ExecutorDefinitions.load(deps.definitions, deps.store, deps.writer);
    return new ExecutorTasks(deps, definitions);
  }

  // ---- definitions ----------------------------------------------------------

  async define(tenant: string, input: TaskDefinitionInput): Promise<TaskDefinition> {
    const definition = this.definitionsOf.define(tenant, input);
    await this.deps.writer.barrier();
    return definition;
  }

  definitions(tenant: string): TaskDefinition[] {
    return this.definitionsOf.list(tenant);
  }

  // ---- the user API -----------------------------------------------------------

  async create(
    tenant: string,
    request: Parameters<ExecutorApi["create"]>[1],
  ): Promise<ExecutorTask> {
    const definition = this.definitionsOf.get(tenant, request.definition);
    this.definitionsOf.check(tenant, definition.name, "params", request.params);
    if (request.label !== undefined && typeof request.label !== "string") {
      throw new InvalidInputError("label must be a string", "label");
    }
    const id = request.id ?? crypto.randomUUID();
    if (typeof id !== "string" || !ID.test(id)) {
      throw new InvalidInputError("id must be 1 to 64 letters, digits, - and .", "id");
    }
    const k = idKey(tenant, id);
    // A generated UUID is new; only a creator's own id needs looking up.
    const taken = request.id !== undefined && (await this.find(tenant, id)) !== undefined;
    if (this.creating.has(k) || taken) {
      throw new InvalidInputError(`a task with id ${id} already exists`, "id");
    }
    this.creating.add(k);
    try {
      const action: PulledAction = { id, params: request.params, label: request.label ?? null };
      const view = await this.submit(tenant, definition, action, request.executeAt, request.jobId);
      return this.present(view, definition);
    } finally {
      this.creating.delete(k);
    }
  }

  async get(tenant: string, id: string): Promise<ExecutorTask> {
    const view = await this.require(tenant, id);
    return this.present(view, this.definitionOf(tenant, view));
  }

  async log(tenant: string, id: string): Promise<ExecutorLogEntry[]> {
    const view = await this.require(tenant, id);
    await this.deps.writer.barrier();
    const rows = await this.deps.store.taskLog(view.id, 1_000);
    return rows.map((row) => ({
      at: row.at,
      action: row.action,
      statusBefore: row.statusBefore,
      statusAfter: row.statusAfter,
      params: row.params === null ? null : JSON.parse(row.params),
    }));
  }

  async cancel(tenant: string, id: string): Promise<ExecutorTask> {
    const view = await this.require(tenant, id);
    if (executorStatus(view.state) === "done") {
      throw new IllegalTransitionError("task", id, "cancel", "done", []);
    }
    this.causes.set(view.id, { action: "awf.task/cancel", params: { id } });
    try {
      const cancelled = await this.deps.engine.cancel(tenant, view.id);
      return this.present(cancelled, this.definitionOf(tenant, cancelled));
    } finally {
      this.causes.delete(view.id);
    }
  }

  async list(tenant: string, query: ExecutorListQuery): Promise<ExecutorTask[]> {
    const limit = query.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST) {
      throw new InvalidInputError(`limit must be from 1 to ${MAX_LIST}`, "limit");
    }
    // The newest MAX_LIST executor tasks are the ones filtered and sorted.
    const views = await this.deps.engine.list(tenant, { agentId: PULL_AGENT, limit: MAX_LIST });
    const include = query.includeDefinitions && new Set(query.includeDefinitions);
    const exclude = new Set(query.excludeDefinitions ?? []);
    const statuses = query.status && new Set(query.status);
    const outcomes = query.outcome && new Set(query.outcome);
    const needle = query.ilike?.toLowerCase();
    const tasks = views
      .filter((view) => view.pull !== null)
      .map((view) => this.present(view, this.definitionOf(tenant, view)))
      .filter(
        (task) =>
          (!include || include.has(task.definition.name)) &&
          !exclude.has(task.definition.name) &&
          (!statuses || statuses.has(task.status)) &&
          (!outcomes || (task.outcome !== null && outcomes.has(task.outcome))) &&
          (needle === undefined ||
            [task.id, task.label ?? "", task.definition.name].some((text) =>
              text.toLowerCase().includes(needle),
            )),
      );
    const sort = query.sort ?? { field: "createdAt", order: "desc" };
    const at = (task: ExecutorTask) =>
      sort.field === "createdAt" ? task.task.createdAt : task.task.updatedAt;
    const sign = sort.order === "asc" ? 1 : -1;
    tasks.sort((a, b) => sign * (at(a) - at(b) || a.task.id - b.task.id));
    return tasks.slice(0, limit);
  }

  // ---- the executor API -------------------------------------------------------

  async poll(tenant: string, definitions: readonly string[], max: number): Promise<ExecutorTask[]> {
    this.checkClaim(tenant, definitions, max);
    return this.claim(tenant, definitions, max, "awf.task/poll");
  }

  async longPoll(
    tenant: string,
    definitions: readonly string[],
    max: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ExecutorTask[]> {
    this.checkClaim(tenant, definitions, max);
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 600_000) {
      throw new InvalidInputError(
        "timeout must be a whole number of ms from 0 to 600000",
        "timeout",
      );
    }
    const deadline = this.deps.clock.now() + timeoutMs;
    for (;;) {
      const claimed = await this.claim(tenant, definitions, max, "awf.task/long-poll");
      const left = deadline - this.deps.clock.now();
      if (claimed.length > 0 || left <= 0 || signal?.aborted) return claimed;
      await this.deps.engine.waitForPulled(tenant, definitions, left, signal);
    }
  }

  async start(tenant: string, id: string, execId: string): Promise<ExecutorTask> {
    const view = await this.report(
      tenant,
      id,
      "start",
      "awf.task/start",
      { id, execId },
      {
        type: "STARTED",
        execId,
        at: this.deps.clock.now(),
      },
    );
    return this.present(view, this.definitionOf(tenant, view));
  }

  async notify(
    tenant: string,
    id: string,
    execId: string,
    notification: ExecutorNotification,
  ): Promise<number> {
    const progress =
      notification.type === "progress"
        ? notification.total
          ? (100 * notification.current) / notification.total
          : notification.current
        : undefined;
    const { type, ...details } = notification;
    // The call as it was sent, for the log.
    const params = { id, execId, notification: type, ...details };
    const view = await this.report(tenant, id, "notify", "awf.task/notify", params, {
      type: "PROGRESS",
      execId,
      progress,
      at: this.deps.clock.now(),
    });
    // A notification changes no state, so no transition logs it.
    const status = executorStatus(view.state);
    this.appendLog(view, this.deps.clock.now(), "awf.task/notify", status, status, params);
    const deadline = view.heartbeatDeadline;
    if (deadline === null) throw new Error("an in-progress executor task has no deadline");
    return deadline;
  }

  async success(
    tenant: string,
    id: string,
    execId: string,
    result?: unknown,
  ): Promise<ExecutorTask> {
    const view = await this.require(tenant, id);
    const definition = this.definitionOf(tenant, view);
    if (result !== undefined) this.definitionsOf.check(tenant, definition.name, "result", result);
    return this.finish(tenant, id, view, definition, "awf.task/success", execId, {
      ok: true,
      ...(result === undefined ? {} : { value: result }),
    });
  }

  async fail(tenant: string, id: string, execId: string, error?: unknown): Promise<ExecutorTask> {
    const view = await this.require(tenant, id);
    const definition = this.definitionOf(tenant, view);
    if (error !== undefined) this.definitionsOf.check(tenant, definition.name, "error", error);
    // Seed-spec 1.14: an executor's own fail is final; only a timeout retries.
    return this.finish(tenant, id, view, definition, "awf.task/fail", execId, {
      ok: false,
      retry: false,
      message: "Failed by executor",
      ...(error === undefined ? {} : { value: error }),
    });
  }

  // ---- internals ----------------------------------------------------------------

  private async finish(
    tenant: string,
    id: string,
    view: TaskView,
    definition: TaskDefinition,
    action: string,
    execId: string,
    outcome: { ok: boolean; retry?: boolean; message?: string; value?: unknown },
  ): Promise<ExecutorTask> {
    const done = await this.report(
      tenant,
      id,
      action === "awf.task/success" ? "complete" : "fail",
      action,
      { id, execId },
      {
        type: "ACTION_DONE",
        execId,
        outcome,
        at: this.deps.clock.now(),
      },
      view,
    );
    return this.present(done, definition);
  }

  /**
   * Sends an executor's report, refused unless the task is in a state that takes it
   * with this execId as its current attempt (seed-spec 1.11–1.13).
   */
  private async report(
    tenant: string,
    id: string,
    name: string,
    action: string,
    params: unknown,
    event: TaskEvent,
    known?: TaskView,
  ): Promise<TaskView> {
    const view = known ?? (await this.require(tenant, id));
    const status = executorStatus(view.state);
    const wanted = event.type === "STARTED" ? "requested" : "in-progress";
    const execId = "execId" in event ? event.execId : undefined;
    if (status !== wanted || view.execId !== execId) {
      const why = status === wanted ? `${status} under another execId` : describe(view);
      throw new IllegalTransitionError("task", id, name, why, []);
    }
    this.causes.set(view.id, { action, params });
    try {
      return await this.deps.engine.reportPulled(tenant, view.id, name, event);
    } catch (error) {
      if (error instanceof IllegalTransitionError) {
        // It changed under the call (a timeout, a cancel): say so in executor terms.
        const now = await this.deps.engine.get(tenant, view.id);
        throw new IllegalTransitionError("task", id, name, describe(now), []);
      }
      throw error;
    } finally {
      this.causes.delete(view.id);
    }
  }

  private checkClaim(tenant: string, definitions: readonly string[], max: number) {
    if (!Array.isArray(definitions) || definitions.length === 0) {
      throw new InvalidInputError(
        "taskDefinitions must list at least one definition",
        "taskDefinitions",
      );
    }
    for (const name of definitions) this.definitionsOf.get(tenant, name);
    if (!Number.isSafeInteger(max) || max < 1 || max > MAX_BATCH) {
      throw new InvalidInputError(`maxBatchSize must be from 1 to ${MAX_BATCH}`, "maxBatchSize");
    }
  }

  private async claim(
    tenant: string,
    definitions: readonly string[],
    max: number,
    action: string,
  ): Promise<ExecutorTask[]> {
    // The claims happen synchronously inside claimPulled, before its first await.
    this.claimCause = { action, params: { taskDefinitions: definitions, maxBatchSize: max } };
    let pending: Promise<TaskView[]>;
    try {
      pending = this.deps.engine.claimPulled(tenant, definitions, max, (context) =>
        this.admits(context),
      );
    } finally {
      this.claimCause = null;
    }
    const views = await pending;
    return views.map((view) => this.present(view, this.definitionOf(tenant, view)));
  }

  /** Under its definition's concurrency limit (seed-spec 1.16). */
  private admits(context: TaskContext): boolean {
    const definition = this.definitionsOf.find(context.tenant, context.pull ?? "");
    if (!definition || definition.concurrencyLimit === null) return true;
    return (
      (this.occupancy.get(this.slotKey(context, definition)) ?? 0) < definition.concurrencyLimit
    );
  }

  private onTransition(previous: string, path: string, context: TaskContext) {
    const before = previous === "" ? null : executorStatus(previous);
    const after = executorStatus(path);
    const was = before !== null && occupies(before);
    const is = occupies(after);
    if (was !== is) {
      this.adjust(context, is ? 1 : -1);
      // A slot freed up: a long-poll may claim what the limit held back.
      if (was && context.pull !== undefined)
        this.deps.engine.wakePulled(context.tenant, context.pull);
    }
    if (after === "done") this.ids.delete(idKey(context.tenant, actionOf(context).id));
    const cause =
      this.causes.get(context.id) ??
      (previous === "ready" ? this.claimCause : null) ??
      (previous === "" ? { action: "awf.task/create-and-execute", params: null } : null);
    const action = cause ? cause.action : timerAction(previous, path);
    if (before === after && cause === null) return;
    this.appendLog(context, context.updatedAt, action, before, after, cause?.params ?? null);
  }

  private adjust(context: TaskContext, by: number) {
    const definition = this.definitionsOf.find(context.tenant, context.pull ?? "");
    if (!definition || definition.concurrencyLimit === null) return;
    const k = this.slotKey(context, definition);
    const n = (this.occupancy.get(k) ?? 0) + by;
    if (n <= 0) this.occupancy.delete(k);
    else this.occupancy.set(k, n);
  }

  private slotKey(context: TaskContext, definition: TaskDefinition): string {
    // Without a path the limit is the definition's as a whole: one count for all.
    if (definition.concurrencyPath === null) return `${context.tenant}\u0000${definition.name}`;
    const action = actionOf(context);
    let value: unknown = { params: action.params, label: action.label, id: action.id };
    for (const part of definition.concurrencyPath) {
      value =
        value !== null && typeof value === "object"
          ? (value as Record<string, unknown>)[part]
          : undefined;
    }
    return `${context.tenant}\u0000${definition.name}\u0000${JSON.stringify(value ?? null)}`;
  }

  /** Appends one entry to a task's log (the transition or notification at `at`). */
  private appendLog(
    task: { readonly id: number; readonly tenant: string },
    at: number,
    action: string,
    before: string | null,
    after: string | null,
    params: unknown,
  ) {
    this.deps.writer.appendTaskLog({
      taskId: task.id,
      tenant: task.tenant,
      at,
      action,
      statusBefore: before,
      statusAfter: after,
      params: params === null || params === undefined ? null : JSON.stringify(params),
    });
  }

  private async submit(
    tenant: string,
    definition: TaskDefinition,
    action: PulledAction,
    executeAt: number | undefined,
    jobId: number | undefined,
  ): Promise<TaskView> {
    const view = await this.deps.engine.submit({
      tenant,
      ...(jobId === undefined ? {} : { jobId }),
      name: definition.name,
      pull: definition.name,
      refId: action.id,
      actions: [{ type: ACTION_TYPE, params: { ...action } }],
      executeAt,
      timeouts: {
        deliveryMs: definition.requestedToStartTimeout,
        // The in-progress limit is renewed by every notify: a heartbeat limit.
        executionMs: 0,
        heartbeatMs: definition.inProgressTimeout,
      },
      retry: {
        limit: definition.allowedRetryCount,
        backoffMs: definition.retryDelay,
        factor: 1,
        maxBackoffMs: definition.retryDelay,
      },
    });
    this.ids.set(idKey(tenant, action.id), view.id);
    return view;
  }

  /** The task with this executor id, or undefined. */
  private async find(tenant: string, id: string): Promise<TaskView | undefined> {
    const known = this.ids.get(idKey(tenant, id));
    if (known !== undefined) {
      const view = await this.deps.engine.get(tenant, known).catch(() => undefined);
      if (view) return view;
    }
    const [found] = await this.deps.engine.list(tenant, {
      refIds: [id],
      agentId: PULL_AGENT,
      limit: 1,
    });
    return found?.pull === null ? undefined : found;
  }

  private async require(tenant: string, id: string): Promise<TaskView> {
    if (typeof id !== "string" || !ID.test(id)) {
      throw new InvalidInputError("id must be 1 to 64 letters, digits, - and .", "id");
    }
    const view = await this.find(tenant, id);
    if (!view) throw new NotFoundError("task", id);
    return view;
  }

  private definitionOf(tenant: string, view: TaskView): TaskDefinition {
    const name = view.pull ?? view.name;
    // A definition removed from the config file since: its tasks still show.
    return (
      this.definitionsOf.find(tenant, name) ?? {
        name,
        description: null,
        params: null,
        result: null,
        error: null,
        requestedToStartTimeout: 0,
        inProgressTimeout: 0,
        allowedRetryCount: 0,
        retryDelay: 0,
        concurrencyLimit: null,
        concurrencyPath: null,
        source: "config",
      }
    );
  }

  private present(view: TaskView, definition: TaskDefinition): ExecutorTask {
    const action = (view.actions[0]?.params ?? {}) as Partial<PulledAction>;
    const status = executorStatus(view.state);
    return {
      id: action.id ?? view.refId ?? String(view.id),
      definition,
      params: action.params ?? null,
      label: action.label ?? null,
      requester: view.tenant,
      status,
      ...outcomeOf(view),
      // The attempt counter counts claims; a claim not yet started is not a start.
      retryCount: status === "requested" ? Math.max(0, view.attempt - 1) : view.attempt,
      task: view,
    };
  }
}

/** "in-progress", or "done (canceled)": what an executor needs to hear when refused. */
function describe(view: TaskView): string {
  const status = executorStatus(view.state);
  const { outcome } = outcomeOf(view);
  return outcome === null ? status : `${status} (${outcome})`;
}

function idKey(tenant: string, id: string): string {
  return `${tenant}\u0000${id}`;
}

function actionOf(context: TaskContext): PulledAction {
  return (context.actions[0]?.params ?? {}) as unknown as PulledAction;
}
