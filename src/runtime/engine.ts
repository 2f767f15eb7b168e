/**
 * The engine: every live task is an actor here; everything else is in the store.
 *
 * A task scheduled further ahead than `passivateAfterMs` and a finished task are not
 * actors: the first is one entry in the timer heap, the second one row on disk. A
 * command that targets either brings it back (hydrate). Every change is marked in the
 * group-commit writer, and commands are answered only once their change is durable.
 */
import { type Actor, createActor, type SnapshotFrom } from "xstate";
import {
  initialTaskContext,
  TASK_COMMANDS,
  type TaskContext,
  type TaskEvent,
  type TaskInput,
  TimeoutReason,
  taskMachine,
} from "../../machines";
import type { Bus } from "../bus/bus";
import type { Clock } from "../clock";
import {
  IllegalTransitionError,
  InvalidInputError,
  NotFoundError,
  UnavailableError,
} from "../errors";
import type { Logger } from "../log";
import {
  type AgentHeartbeat,
  type AgentReport,
  type EntityEvent,
  EntityKind,
  FINAL_TASK_STATES,
  patterns,
  type ReportAck,
  subjects,
} from "../protocol";
import { GroupCommitWriter } from "../store/group-commit";
import type { EventRow, Store, TaskRow } from "../store/store";
import { AgentLink } from "./agent-link";
import { Agents } from "./agents";
import { Batches, parseBatchRow } from "./batches";
import type {
  AgentView,
  BatchTask,
  BatchView,
  EngineApi,
  EngineEvent,
  EngineStats,
  EventSubscription,
  ListTasks,
  OutputChunk,
  SubmitTask,
  TaskView,
} from "./commands";
import { PULL_AGENT } from "./commands";
import type { EngineOptions } from "./engine-options";
import { ExecutorTasks, type PullObserver } from "./executor-tasks";
import { JobSettings } from "./job-settings";
import { Jobs } from "./jobs";
import { Journal } from "./journal";
import { Lanes } from "./lanes";
import { PullQueues } from "./pull-queues";
import { MAX_HISTORY, scheduleRef } from "./schedule-records";
import { Schedules } from "./schedules";
import {
  parseTaskRow,
  statePath,
  stateValue,
  TASK_STATE_PATHS,
  taskRow,
  taskView,
  topLevel,
} from "./task-records";
import { TimerService } from "./timer-service";
import { type ValidSubmit, validateSubmit } from "./validate-submit";
import { Workflows } from "./workflows";

export type { EngineOptions };

export interface EngineDeps {
  readonly store: Store;
  readonly bus: Bus;
  readonly clock: Clock;
  readonly log: Logger;
  readonly options: EngineOptions;
}

type TaskActor = Actor<typeof taskMachine>;
type TaskSnapshot = SnapshotFrom<typeof taskMachine>;

interface LiveTask {
  readonly actor: TaskActor;
  path: string;
  readonly serialize: () => TaskRow;
}

const FINAL = new Set<string>(FINAL_TASK_STATES);

/** The tenant name shared lanes are kept under: no client can be called this. */
const SHARED_LANE_OWNER = "*";

/** How many journal rows one read of the store takes when the events are filtered. */
const EVENT_PAGE = 500;

/** `fw.events.`: what every event subject starts with. */
const EVENT_SUBJECT_PREFIX = patterns.allEvents.slice(0, -1);

/** A tenant sees its own entities' events and the agents' (tenant ""). */
function maySee(tenant: string, owner: string): boolean {
  return owner === tenant || owner === "";
}

function eventOfRow(row: EventRow): EngineEvent {
  return {
    seq: row.seq,
    kind: row.kind,
    id: row.entityId,
    event: row.event,
    state: row.state,
    tenant: row.tenant,
    at: row.at,
    data: row.data === null ? null : (JSON.parse(row.data) as unknown),
  };
}

/** Whose lane a task's lane is: its tenant's own, or the one every tenant shares. */
function laneOwner(context: TaskContext): string {
  return context.laneShared === true ? SHARED_LANE_OWNER : context.tenant;
}

export class Engine implements EngineApi {
  private readonly live = new Map<number, LiveTask>();
  private readonly hydrating = new Map<number, Promise<LiveTask | undefined>>();
  private readonly timers: TimerService;
  private readonly writer: GroupCommitWriter;
  private readonly agentLink: AgentLink;
  private readonly taskLogic;
  private journal!: Journal;
  private lanes!: Lanes;
  private agentRegistry!: Agents;
  private batches!: Batches;
  private schedules!: Schedules;
  private executorTasks!: ExecutorTasks;
  private jobList?: Jobs;
  private readonly pullQueues: PullQueues;
  private pullObserver: PullObserver | null = null;
  private readonly acceptsByState = new Map<string, readonly string[]>();
  private lastTaskId = 0;
  private submitted = 0;
  private readonly finished: Record<string, number> = {};
  private compaction: ReturnType<Clock["setTimeout"]> | null = null;
  private stopped = false;

  constructor(private readonly deps: EngineDeps) {
    const { clock, log, store, bus, options } = deps;
    this.timers = new TimerService(clock, (id) => this.wake(id));
    this.pullQueues = new PullQueues(clock);
    this.writer = new GroupCommitWriter(store, {
      log: log.child({ scope: "store" }),
      onCommitted: (set) => {
        this.journal.publishCommitted(set.events);
        for (const row of set.tasks) if (FINAL.has(row.state)) this.passivateFinished(row.id);
        for (const row of set.batches) this.batches.committed(row.id, row.state);
      },
    });
    this.agentLink = new AgentLink(bus, log.child({ scope: "agents" }), {
      commandTimeoutMs: options.commandTimeoutMs,
    });
    this.taskLogic = taskMachine.provide({
      actions: {
        requestDispatch: ({ context }) => this.requestDispatch(context),
        // A pulled task's executor talks to the engine, not the other way round: its
        // next call finds out what changed.
        sendRun: ({ context }) => context.pull === undefined && this.runWhenDurable(context),
        sendCancel: ({ context }) =>
          context.pull === undefined && this.agentLink.control("cancel", context),
        sendPause: ({ context }) =>
          context.pull === undefined && this.agentLink.control("pause", context),
        sendResume: ({ context }) =>
          context.pull === undefined && this.agentLink.control("resume", context),
      },
    });
  }

  /** Restores state from the store, re-arms timers and starts listening to agents. */
  async start(): Promise<void> {
    const { store, clock, log } = this.deps;
    await store.migrate();
    const counters = await store.counters();
    this.lastTaskId = counters.taskId;
    this.journal = new Journal(this.writer, this.deps.bus, counters.eventSeq);
    this.lanes = new Lanes(
      this.timers,
      clock,
      this.writer,
      this.journal,
      {
        grant: (_tenant, taskId) => queueMicrotask(() => this.dispatch(taskId)),
        continueLocked: (_laneTenant, taskId) => {
          // The task's own tenant: a shared lane's is not anybody's.
          const tenant = this.live.get(taskId)?.actor.getSnapshot().context.tenant ?? "";
          void this.resume(tenant, taskId).catch((error: unknown) =>
            log.warn({ taskId, err: error }, "could not continue the locked task"),
          );
        },
      },
      this.deps.options.inspect,
    );
    this.agentRegistry = new Agents(
      this.timers,
      clock,
      this.journal,
      this.deps.options.agentHeartbeatTimeoutMs ?? 15_000,
      {
        lost: (agentId) => this.settleAttempts(agentId, TimeoutReason.AgentOffline, () => true),
        reconcile: (agentId) => this.reconcile(agentId),
        unknown: (agentId) => this.agentLink.askHello(agentId),
      },
      this.deps.options.inspect,
    );
    this.batches = new Batches(
      this.timers,
      clock,
      this.writer,
      this.journal,
      counters.batchId,
      (tenant, taskIds) => {
        for (const id of taskIds) {
          this.cancel(tenant, id).catch((error: unknown) =>
            log.debug({ taskId: id, err: error }, "batch cancel skipped a task"),
          );
        }
      },
      this.deps.options.inspect,
    );
    this.schedules = new Schedules({
      timers: this.timers,
      clock,
      writer: this.writer,
      journal: this.journal,
      store,
      log: log.child({ scope: "schedules" }),
      inspect: this.deps.options.inspect,
      callbacks: {
        onlineAgents: () => this.agentRegistry.list().filter((agent) => agent.status === "online"),
        runOn: async (schedule, agentId) => {
          const task = await this.submit({
            tenant: schedule.tenant,
            name: "periodic",
            agentId,
            actions: [{ type: "exec", params: { command: schedule.command } }],
            // How taskFinished recognises the run.
            refId: scheduleRef(schedule.id),
            // The next tick is the retry.
            retry: { limit: 0 },
            ...(schedule.timeoutMs === null
              ? {}
              : { timeouts: { executionMs: schedule.timeoutMs } }),
          });
          return task.id;
        },
      },
    });
    const started = performance.now();
    this.batches.restore(await store.openBatches());
    this.lanes.restore(await store.lanes());
    const horizon = clock.now() + this.deps.options.passivateAfterMs;
    const rows = await store.liveTasks(horizon);
    const restored: LiveTask[] = [];
    for (const row of rows) restored.push(this.hydrateRow(row));
    const wakeups = await store.forEachScheduled(horizon, (id, executeAt) =>
      this.timers.wakeAt(executeAt - this.deps.options.wakeLeadMs, id),
    );
    this.watchBusConnection();
    this.agentLink.start({
      report: (agentId, report) => this.onReport(agentId, report),
      heartbeat: (heartbeat) => this.onHeartbeat(heartbeat),
      hello: (hello) => this.agentRegistry.hello(hello),
    });
    // Re-arm after everything is loaded, so lanes see every task they hold.
    const restartedAgents = new Set(this.deps.options.restartedAgents ?? []);
    for (const task of restored) {
      const { attemptActive, agentId } = task.actor.getSnapshot().context;
      const lost = attemptActive && agentId !== null && restartedAgents.has(agentId);
      task.actor.send(
        lost
          ? { type: "TIMEOUT", reason: TimeoutReason.AgentLost, at: clock.now() }
          : { type: "REARM", at: clock.now() },
      );
    }
    for (const { tenant, key, taskId } of this.lanes.holders()) {
      const task = this.live.get(taskId);
      if (!task || FINAL.has(task.path)) this.lanes.remove(tenant, key, taskId);
    }
    this.schedules.restore(await store.schedules());
    this.executorTasks = await ExecutorTasks.start({
      engine: this,
      store,
      writer: this.writer,
      clock,
      log: log.child({ scope: "executor" }),
      definitions: this.deps.options.taskDefinitions ?? [],
    });
    this.jobList = await Jobs.start({
      engine: this,
      store,
      writer: this.writer,
      timers: this.timers,
      clock,
      journal: this.journal,
      log: log.child({ scope: "jobs" }),
      workflows: Workflows.load(
        this.deps.options.workflowFiles ?? [],
        await store.getMeta("workflows"),
        this.writer,
      ),
      settings: await JobSettings.load(store, this.writer),
      schedulerFirstInMs: this.deps.options.jobSchedulerFirstInMs,
      callbacks: { backoffMs: this.deps.options.jobCallbackBackoffMs },
      inspect: this.deps.options.inspect,
    });
    this.scheduleCompaction();
    log.info(
      { live: restored.length, passivated: wakeups, ms: Math.round(performance.now() - started) },
      "engine restored",
    );
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.agentLink.stop();
    this.pullQueues.wakeAll();
    this.agentRegistry?.stop();
    this.timers.stop();
    this.schedules?.stop();
    this.jobList?.stop();
    if (this.compaction !== null) this.deps.clock.clearTimeout(this.compaction);
    await this.writer.close();
    for (const task of this.live.values()) task.actor.stop();
    this.live.clear();
  }

  // ---- commands -------------------------------------------------------------

  async submit(spec: SubmitTask): Promise<TaskView> {
    this.assertWritable();
    const view = this.createTask(spec, validateSubmit(spec, this.deps.options));
    await this.createdDurably([view.id]);
    return view;
  }

  async submitBatch(
    tenant: string,
    tasks: readonly BatchTask[],
    options: { executeAt?: number; kind?: string } = {},
  ): Promise<{ batch: BatchView; tasks: TaskView[] }> {
    this.assertWritable();
    if (tasks.length === 0) throw new InvalidInputError("a batch needs at least one task", "tasks");
    const specs = tasks.map((task) => ({ ...task, tenant, executeAt: options.executeAt }));
    // All or nothing: every task is checked before the first one is created.
    const valid = specs.map((spec, i) => {
      try {
        return validateSubmit(spec, this.deps.options);
      } catch (error) {
        if (error instanceof InvalidInputError) {
          const field = error.field ? `tasks[${i}].${error.field}` : `tasks[${i}]`;
          throw new InvalidInputError(`tasks[${i}]: ${error.message}`, field);
        }
        throw error;
      }
    });
    const batchId = this.batches.nextId();
    const views = specs.map((spec, i) =>
      this.createTask({ ...spec, batchId }, valid[i] as ValidSubmit),
    );
    const now = this.deps.clock.now();
    const batch = this.batches.create(
      batchId,
      tenant,
      options.kind ?? "",
      views.map((view) => view.id),
      Math.max(now, options.executeAt ?? now),
    );
    await this.createdDurably(
      views.map((view) => view.id),
      batchId,
    );
    return { batch, tasks: views };
  }

  /**
   * Waits for new tasks (and their batch) to be durable. When the store refuses the
   * commit, the caller is refused (503), so the tasks are taken back: left in memory
   * they would be written and run once the store works again, though their client
   * was told they were not taken. Nothing else can have seen them: no answer, no
   * event and no run (see runWhenDurable) leaves before their commit.
   */
  private async createdDurably(taskIds: readonly number[], batchId?: number): Promise<void> {
    try {
      await this.writer.barrier();
    } catch (error) {
      for (const id of taskIds) this.withdrawTask(id);
      if (batchId !== undefined) this.batches.withdraw(batchId);
      throw error;
    }
  }

  /** Takes back a task whose creation was never committed (see createdDurably). */
  private withdrawTask(id: number) {
    const task = this.live.get(id);
    if (task) {
      const { context } = task.actor.getSnapshot();
      this.live.delete(id);
      task.actor.stop();
      if (context.pull !== undefined) this.pullQueues.forget(id);
      if (context.lane !== null) this.lanes.remove(laneOwner(context), context.lane, id);
    }
    this.writer.forgetTask(id);
    this.journal.forget(EntityKind.Task, id);
    this.submitted--;
  }

  /** Creates the task (an actor, or a row and a wake-up when it is far ahead). */
  private createTask(spec: SubmitTask, valid: ValidSubmit): TaskView {
    const { clock, options } = this.deps;
    const now = clock.now();
    const input: TaskInput = {
      id: ++this.lastTaskId,
      tenant: spec.tenant,
      name: valid.name,
      lane: spec.lane ?? null,
      laneShared: spec.sharedLane === true && spec.lane !== undefined,
      agentId: valid.agentId,
      actions: spec.actions,
      priority: spec.priority ?? 0,
      executeAt: Math.max(now, spec.executeAt ?? now),
      timeouts: valid.timeouts,
      retry: valid.retry,
      open: spec.open ?? false,
      archive: spec.archive ?? false,
      refId: spec.refId ?? null,
      parentId: spec.parentId ?? null,
      batchId: spec.batchId ?? null,
      jobId: spec.jobId ?? null,
      ...(spec.pull === undefined ? {} : { pull: spec.pull }),
      now,
    };
    this.submitted++;
    if (input.executeAt - now > options.passivateAfterMs) {
      // Far ahead: straight to disk and the timer heap, no actor.
      const context = initialTaskContext(input);
      const row = taskRow("scheduled", context);
      this.writer.markTask(input.id, () => row);
      this.journal.record(EntityKind.Task, input.id, "scheduled", "scheduled", input.tenant, now);
      this.timers.wakeAt(input.executeAt - options.wakeLeadMs, input.id);
      return taskView("scheduled", context, ["PAUSE", "CANCEL"]);
    }
    return this.view(
      this.startTask(
        createActor(this.taskLogic, { input, clock: this.timers, inspect: options.inspect }),
      ),
    );
  }

  cancel(tenant: string, id: number, mode?: "now" | "afterAction"): Promise<TaskView> {
    return this.command(tenant, id, "cancel", { type: "CANCEL", mode, at: this.deps.clock.now() });
  }

  pause(tenant: string, id: number, mode?: "suspend" | "afterAction"): Promise<TaskView> {
    return this.command(tenant, id, "pause", { type: "PAUSE", mode, at: this.deps.clock.now() });
  }

  resume(tenant: string, id: number): Promise<TaskView> {
    return this.command(tenant, id, "resume", { type: "RESUME", at: this.deps.clock.now() });
  }

  conclude(tenant: string, id: number, delayMs: number): Promise<TaskView> {
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new InvalidInputError("delayMs must be a number ≥ 0", "delayMs");
    }
    return this.command(tenant, id, "conclude", {
      type: "CONCLUDE",
      delayMs,
      at: this.deps.clock.now(),
    });
  }

  async clean(tenant: string, id: number): Promise<void> {
    this.assertWritable();
    const view = await this.get(tenant, id);
    if (!FINAL.has(view.status)) {
      throw new IllegalTransitionError("task", id, "clean", view.state, view.accepts);
    }
    this.live.delete(id);
    this.writer.deleteTask(id);
    // Ids are never handed out twice, even when the newest task is deleted.
    this.writer.setMeta("taskId", String(this.lastTaskId));
    this.journal.record(EntityKind.Task, id, "cleaned", view.state, tenant, this.deps.clock.now());
    await this.writer.barrier();
  }

  async destroy(tenant: string, id: number): Promise<void> {
    const view = await this.get(tenant, id);
    if (!FINAL.has(view.status)) await this.cancel(tenant, id);
    await this.clean(tenant, id);
  }

  /** A client's lanes (threads) and the shared ones (application instances), in memory. */
  laneViews(tenant: string): {
    key: string;
    shared: boolean;
    state: string;
    running: number | null;
    queued: number;
    updatedAt: number;
  }[] {
    return this.lanes.list([tenant, SHARED_LANE_OWNER]).map(({ state, context }) => ({
      key: context.key,
      shared: context.tenant === SHARED_LANE_OWNER,
      state,
      running: context.running,
      queued: context.queue.length,
      updatedAt: context.updatedAt,
    }));
  }

  async pauseLane(tenant: string, lane: string): Promise<void> {
    this.assertWritable();
    this.lanes.pause(tenant, lane);
    await this.writer.barrier();
  }

  async resumeLane(tenant: string, lane: string, continueLocked: boolean): Promise<void> {
    this.assertWritable();
    this.lanes.resume(tenant, lane, continueLocked);
    await this.writer.barrier();
  }

  // ---- queries --------------------------------------------------------------

  async get(tenant: string, id: number): Promise<TaskView> {
    const task = this.live.get(id);
    if (task) {
      if (task.actor.getSnapshot().context.tenant !== tenant) throw new NotFoundError("task", id);
      return this.view(task);
    }
    const row = await this.deps.store.getTask(id);
    // Another tenant's task does not exist for this one.
    if (!row || row.tenant !== tenant) throw new NotFoundError("task", id);
    return this.viewOfRow(row);
  }

  async list(tenant: string, query: ListTasks): Promise<TaskView[]> {
    // The store lags memory by at most one commit; wait for it so a list shows
    // every change already answered.
    await this.writer.barrier();
    const rows = await this.deps.store.listTasks({
      tenant,
      // Filtered in the query, so `limit` counts only matching tasks.
      states: query.status?.flatMap((status) => TASK_STATE_PATHS[status] ?? []),
      lane: query.lane,
      batchId: query.batchId,
      refIds: query.refIds,
      agentId: query.agentId,
      beforeId: query.beforeId,
      limit: query.limit ?? 100,
    });
    return rows.map((row) => {
      const task = this.live.get(row.id);
      return task ? this.view(task) : this.viewOfRow(row);
    });
  }

  async getBatch(tenant: string, id: number): Promise<BatchView> {
    const live = this.batches.get(id);
    if (live) {
      if (live.tenant !== tenant) throw new NotFoundError("batch", id);
      return live;
    }
    const row = await this.deps.store.getBatch(id);
    if (!row || row.tenant !== tenant) throw new NotFoundError("batch", id);
    return parseBatchRow(row);
  }

  async listBatches(
    tenant: string,
    query: { kind?: string; limit?: number } = {},
  ): Promise<BatchView[]> {
    await this.writer.barrier();
    const rows = await this.deps.store.listBatches(tenant, query.kind ?? "", query.limit ?? 100);
    return rows.map((row) => this.batches.get(row.id) ?? parseBatchRow(row));
  }

  stats(): EngineStats {
    const commits = this.writer.statistics;
    return {
      liveTasks: this.live.size,
      passivatedWakeups: this.timers.size.wakeups,
      timers: this.timers.size.timers,
      submitted: this.submitted,
      finished: { ...this.finished },
      commits: commits.commits,
      lastCommitBatch: commits.lastBatchSize,
      storeFailure: this.writer.failure?.message ?? null,
    };
  }

  /** The executor API's tasks and definitions (pulled work). */
  get executor(): ExecutorTasks {
    return this.executorTasks;
  }

  // ---- pulled work (the executor module's primitives) ----------------------

  /** Watches every state change of pulled tasks (one watcher: the executor module). */
  observePulled(observer: PullObserver): void {
    this.pullObserver = observer;
  }

  /** The contexts of the pulled tasks in memory (to rebuild counts after a restart). */
  livePulled(): { path: string; context: TaskContext }[] {
    const out: { path: string; context: TaskContext }[] = [];
    for (const task of this.live.values()) {
      const { context } = task.actor.getSnapshot();
      if (context.pull !== undefined) out.push({ path: task.path, context });
    }
    return out;
  }

  /**
   * Claims up to `max` ready tasks of `queues`, oldest executeAt first, that `admit`
   * accepts: each gets a fresh `execId` and is `dispatched` to the executor. Resolves
   * once the claims are durable.
   */
  async claimPulled(
    tenant: string,
    queues: readonly string[],
    max: number,
    admit: (context: TaskContext) => boolean,
  ): Promise<TaskView[]> {
    this.assertWritable();
    const at = this.deps.clock.now();
    const claimed: TaskView[] = [];
    this.pullQueues.claim(tenant, queues, max, (id) => {
      const task = this.live.get(id);
      if (task?.path !== "ready") {
        this.pullQueues.forget(id);
        return false;
      }
      const snapshot = task.actor.getSnapshot();
      if (!admit(snapshot.context)) return false;
      task.actor.send({ type: "DISPATCH", execId: crypto.randomUUID(), agentId: PULL_AGENT, at });
      claimed.push(this.view(task));
      return true;
    });
    if (claimed.length > 0) await this.writer.barrier();
    return claimed;
  }

  /**
   * Resolves when a task of `queues` may have become claimable (or capacity freed
   * up), after `timeoutMs`, or when `signal` aborts.
   */
  waitForPulled(
    tenant: string,
    queues: readonly string[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.pullQueues.wait(tenant, queues, timeoutMs, signal);
  }

  /** Wakes one long-poll of the queue: capacity freed up. */
  wakePulled(tenant: string, queue: string): void {
    this.pullQueues.wake(tenant, queue);
  }

  /**
   * Sends an executor's report (STARTED, PROGRESS, ACTION_DONE) to a pulled task.
   * Refused with IllegalTransitionError when the task is not in a state that takes it
   * or the execId is not its current attempt's. Resolves once it is durable.
   */
  async reportPulled(
    tenant: string,
    id: number,
    name: string,
    event: TaskEvent,
  ): Promise<TaskView> {
    return this.command(tenant, id, name, event);
  }

  /** The periodic commands (schedule actors): the periodic API's interface. */
  get jobs(): Jobs {
    if (!this.jobList) throw new Error("the engine has not started");
    return this.jobList;
  }

  get periodic(): Schedules {
    return this.schedules;
  }

  agents(): AgentView[] {
    return this.agentRegistry.list();
  }

  unavailable(): string | null {
    if (this.stopped) return "the engine is shutting down";
    return this.writer.failure?.message ?? null;
  }

  backends(): { store: string; bus: string } {
    return { store: this.deps.store.kind, bus: this.deps.bus.kind };
  }

  /** "OK" when a round trip over the bus (NATS or embedded) answers within 2 s. */
  async busHealth(): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("no answer within 2 s"), 2_000);
    });
    try {
      return await Promise.race([this.deps.bus.flush().then(() => "OK"), late]);
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once every change so far is durable. */
  flush(): Promise<void> {
    return this.writer.barrier();
  }

  // ---- event stream ---------------------------------------------------------

  async eventsAfter(tenant: string, seq: number, limit: number): Promise<EngineEvent[]> {
    const found: EngineEvent[] = [];
    if (limit <= 0) return found;
    // Other tenants' rows are skipped, so a page of the store may hold fewer than
    // `limit` of this tenant's: read on until there are enough or no more.
    const pageSize = Math.max(limit, EVENT_PAGE);
    let cursor = seq;
    for (;;) {
      const rows = await this.deps.store.eventsAfter(cursor, pageSize);
      for (const row of rows) {
        cursor = row.seq;
        if (!maySee(tenant, row.tenant)) continue;
        found.push(eventOfRow(row));
        if (found.length === limit) return found;
      }
      if (rows.length < pageSize) return found;
    }
  }

  subscribeEvents(
    tenant: string,
    pattern: string,
    handler: (event: EngineEvent) => void,
  ): EventSubscription {
    if (!pattern.startsWith(EVENT_SUBJECT_PREFIX)) {
      throw new InvalidInputError(
        `an event subject starts with ${EVENT_SUBJECT_PREFIX}, got "${pattern}"`,
        "subject",
      );
    }
    return this.deps.bus.subscribe<EntityEvent>(pattern, ({ data }) => {
      // Only the journal's events: they have a seq and say whose they are.
      if (typeof data?.seq !== "number" || typeof data.tenant !== "string") return;
      if (!maySee(tenant, data.tenant)) return;
      handler({
        seq: data.seq,
        kind: data.kind,
        id: String(data.id),
        event: data.event,
        state: data.state,
        tenant: data.tenant,
        at: data.at,
        data: data.data ?? null,
      });
    });
  }

  subscribeOutput(taskId: number, handler: (chunk: OutputChunk) => void): EventSubscription {
    const prefix = subjects.output(taskId, "");
    return this.deps.bus.subscribe<Partial<OutputChunk>>(
      subjects.output(taskId, "*"),
      ({ subject, data }) => {
        const { execId, stream, chunk } = data ?? {};
        if (typeof execId !== "string" || typeof chunk !== "string") return;
        if (stream !== "stdout" && stream !== "stderr") return;
        handler({ taskId, agentId: subject.slice(prefix.length), execId, stream, chunk });
      },
    );
  }

  // ---- actors ---------------------------------------------------------------

  /**
   * Registers and starts a task actor. `restoredPath` is the state a restored actor
   * was persisted in: it is not a change, so it is neither journaled nor written again.
   */
  private startTask(actor: TaskActor, restoredPath = ""): LiveTask {
    const task: LiveTask = {
      actor,
      path: restoredPath,
      serialize: () => {
        const snapshot = actor.getSnapshot();
        return taskRow(task.path, snapshot.context);
      },
    };
    const id = actor.getSnapshot().context.id;
    this.live.set(id, task);
    actor.subscribe({
      next: (snapshot) => this.onTaskSnapshot(task, snapshot),
      error: (error: unknown) =>
        this.deps.log.error({ taskId: id, err: error }, "task actor failed"),
    });
    actor.start();
    if (task.path === "") this.onTaskSnapshot(task, actor.getSnapshot());
    return task;
  }

  private onTaskSnapshot(task: LiveTask, snapshot: TaskSnapshot) {
    const { context } = snapshot;
    const path = statePath(snapshot.value);
    this.writer.markTask(context.id, task.serialize);
    if (path === task.path) return;
    const previous = task.path;
    task.path = path;
    // A task paused before it was due takes its place in its lane now: when its turn
    // comes it holds the lane, so a paused task blocks the tasks behind it (a host-task
    // instance's other tasks, say) until it is resumed and finished.
    if (path === "paused.holding" && previous === "scheduled" && context.lane !== null) {
      this.lanes.enqueue(laneOwner(context), context.lane, context.id, context.priority);
    }
    if (context.pull !== undefined) {
      if (previous === "ready") this.pullQueues.forget(context.id);
      this.pullObserver?.(previous, path, context);
    }
    const event = topLevel(path);
    this.journal.record(
      EntityKind.Task,
      context.id,
      event,
      path,
      context.tenant,
      context.updatedAt,
      {
        execId: context.execId,
        actionIdx: context.currentActionIdx,
        // What kind of work it is (metrics count transitions by it).
        actionType: context.actions[Math.max(0, context.currentActionIdx)]?.type,
        outcome: context.outcome ?? undefined,
      },
    );
    if (FINAL.has(path)) {
      this.finished[path] = (this.finished[path] ?? 0) + 1;
      if (context.lane !== null) this.lanes.remove(laneOwner(context), context.lane, context.id);
      if (context.batchId !== null && context.outcome !== null) {
        this.batches.taskFinished(context.batchId, context.id, context.outcome);
      }
      // Synchronous, so a schedule's run row and its task's final state share a commit.
      this.schedules.taskFinished(context.id, context);
      if (context.outcome !== null)
        this.jobList?.taskFinished({ ...context, outcome: context.outcome });
    }
  }

  /** A finished task leaves memory once its final state is on disk. */
  private passivateFinished(id: number) {
    const task = this.live.get(id);
    if (task && FINAL.has(task.path)) this.live.delete(id);
  }

  private hydrateRow(row: TaskRow): LiveTask {
    const persisted = parseTaskRow(row);
    const snapshot = this.taskLogic.resolveState({
      value: stateValue(persisted.state),
      context: persisted.context,
    });
    const input = { ...persisted.context, now: persisted.context.createdAt };
    return this.startTask(
      createActor(this.taskLogic, {
        snapshot,
        input,
        clock: this.timers,
        inspect: this.deps.options.inspect,
      }),
      persisted.state,
    );
  }

  /** The live task, loading it from the store if it was passivated. */
  private async hydrate(id: number): Promise<LiveTask | undefined> {
    const live = this.live.get(id);
    if (live) return live;
    const pending = this.hydrating.get(id);
    if (pending) return pending;
    const loading = (async () => {
      const row = await this.deps.store.getTask(id);
      const already = this.live.get(id);
      if (already) return already;
      if (!row || FINAL.has(row.state)) return undefined;
      const task = this.hydrateRow(row);
      task.actor.send({ type: "REARM", at: this.deps.clock.now() });
      return task;
    })();
    this.hydrating.set(id, loading);
    try {
      return await loading;
    } finally {
      this.hydrating.delete(id);
    }
  }

  /** A passivated task's wake-up time came. */
  private wake(id: number) {
    if (this.live.has(id) || this.stopped) return;
    this.hydrate(id).catch((error: unknown) =>
      this.deps.log.error({ taskId: id, err: error }, "could not wake a scheduled task"),
    );
  }

  private async command(
    tenant: string,
    id: number,
    name: string,
    event: TaskEvent,
  ): Promise<TaskView> {
    this.assertWritable();
    const task = await this.hydrate(id);
    if (!task) {
      const view = await this.get(tenant, id);
      throw new IllegalTransitionError("task", id, name, view.state, view.accepts);
    }
    const snapshot = task.actor.getSnapshot();
    if (snapshot.context.tenant !== tenant) throw new NotFoundError("task", id);
    if (!snapshot.can(event)) {
      throw new IllegalTransitionError("task", id, name, task.path, this.accepts(snapshot));
    }
    task.actor.send(event);
    const view = this.view(task);
    await this.writer.barrier();
    return view;
  }

  // ---- dispatch -------------------------------------------------------------

  private requestDispatch(context: TaskContext) {
    const { lane, id, priority } = context;
    if (context.pull !== undefined) {
      this.pullQueues.offer(context.tenant, context.pull, id, context.executeAt);
      return;
    }
    // Deferred: this runs inside the task's own transition, and the lane and the
    // DISPATCH that follow must be new events, not nested in it.
    queueMicrotask(() => {
      const owner = laneOwner(context);
      if (lane === null || this.lanes.holder(owner, lane) === id) this.dispatch(id);
      else this.lanes.enqueue(owner, lane, id, priority);
    });
  }

  private dispatch(id: number) {
    const snapshot = this.live.get(id)?.actor.getSnapshot();
    if (snapshot?.status !== "active") {
      // Finished while it waited for its slot: free the lane.
      const context = snapshot?.context;
      if (context?.lane) this.lanes.remove(laneOwner(context), context.lane, id);
      return;
    }
    const task = this.live.get(id) as LiveTask;
    const { context } = snapshot;
    const agentId = context.agentId ?? this.deps.options.defaultAgentId;
    if (agentId === null) return;
    const actionIdx = Math.max(0, context.currentActionIdx);
    // Unique per attempt and stable across restarts: a re-sent run is recognisable.
    const execId = `${id}-${actionIdx}-${context.attempt + 1}`;
    task.actor.send({ type: "DISPATCH", execId, agentId, at: this.deps.clock.now() });
  }

  // ---- agents ---------------------------------------------------------------

  private async onReport(agentId: string, report: AgentReport): Promise<ReportAck> {
    const task = await this.hydrate(report.taskId);
    // An ignored report is answered only once memory is durable too: the state that
    // makes it stale may be this very report's first delivery, applied in memory but
    // not yet committed (the store failed). Answered now, the agent would drop a
    // result a restart could still need.
    const ignored = async (): Promise<ReportAck> => {
      await this.writer.barrier();
      return { durable: true, ignored: true };
    };
    if (!task) return ignored();
    const snapshot = task.actor.getSnapshot();
    const context = snapshot.context;
    // A finished task stays in memory until its final state is on disk; reports for
    // it (the result of a cancelled attempt, say) change nothing.
    if (snapshot.status !== "active") return ignored();
    if (context.execId !== report.execId || context.agentId !== agentId) return ignored();
    const at = this.deps.clock.now();
    switch (report.kind) {
      case "started":
        task.actor.send({ type: "STARTED", execId: report.execId, at });
        break;
      case "progress":
        task.actor.send({ type: "PROGRESS", execId: report.execId, progress: report.progress, at });
        break;
      case "result":
        task.actor.send({
          type: "ACTION_DONE",
          execId: report.execId,
          outcome: report.outcome,
          at,
        });
        break;
    }
    await this.writer.barrier();
    return { durable: true };
  }

  /**
   * After a hello, asks the agent which of the attempts the engine thinks it has it
   * has never seen. An unseen attempt that was only dispatched is sent again (it
   * cannot run twice: the agent's ledger fences it), one that had started was lost
   * with a restarted agent and is settled. "Had started" is judged when the question
   * is asked: a dispatched attempt's run may still be on its way (it waits for its
   * commit), reach the agent just after the question, and be running by the time the
   * answer comes; the crash harness caught such a live attempt settled as lost.
   */
  private reconcile(agentId: string) {
    const active: string[] = [];
    const startedWhenAsked = new Set<string>();
    for (const task of this.live.values()) {
      const snapshot = task.actor.getSnapshot();
      const { context } = snapshot;
      if (context.agentId === agentId && context.attemptActive && context.execId !== null) {
        active.push(context.execId);
        if (snapshot.value !== "dispatched") startedWhenAsked.add(context.execId);
      }
    }
    if (active.length === 0) return;
    this.agentLink.unknownAttempts(agentId, active).then(
      (unknown) => {
        const unseen = new Set(unknown);
        const at = this.deps.clock.now();
        for (const execId of unseen) {
          const task = this.live.get(Number(execId.slice(0, execId.indexOf("-"))));
          const snapshot = task?.actor.getSnapshot();
          if (snapshot?.value === "dispatched" && snapshot.context.execId === execId) {
            task?.actor.send({ type: "REARM", at });
          }
        }
        this.settleAttempts(
          agentId,
          TimeoutReason.AgentLost,
          (execId) => unseen.has(execId) && startedWhenAsked.has(execId),
          (snapshot) => snapshot.value !== "dispatched",
        );
      },
      (error: unknown) => this.deps.log.warn({ agentId, err: error }, "could not reconcile agent"),
    );
  }

  /**
   * Write-ahead: an attempt goes to its agent only once the dispatch is on disk. Sent
   * earlier, a crash or a refused commit could leave an action running for a task
   * the store never had (or whose id a restarted engine hands out again, whose run
   * the agent's ledger would then take for this one). While the store fails, the
   * run waits; a task taken back meanwhile no longer waits for it.
   */
  private runWhenDurable(context: TaskContext) {
    const waiting = () => this.waitsForStart(context.id, context.execId);
    // This runs inside the DISPATCH transition, before the actor's subscriber marks the
    // task dirty; one microtask later the dispatch itself is among the pending writes
    // that durable() waits for (a retry has nothing else pending to wait on).
    void Promise.resolve()
      .then(() => this.writer.durable())
      .then(() => {
        if (waiting()) this.agentLink.run(context, waiting);
      });
  }

  /**
   * While the engine's own link to its agents is down (NATS unreachable), silence
   * proves nothing about them: every timer is held, so no agent goes offline and no
   * attempt times out for a deadline that passed meanwhile. Once the link is back,
   * held deadlines get one agent heartbeat timeout of grace, in which heartbeats,
   * outboxed reports and re-sent runs come through and move them on.
   */
  private watchBusConnection() {
    const { bus, log, options } = this.deps;
    const graceMs = options.agentHeartbeatTimeoutMs ?? 15_000;
    bus.onConnectionChange?.((connected) => {
      if (this.stopped) return;
      if (connected) {
        this.timers.release(graceMs);
        log.info({ graceMs }, "bus back: held deadlines resume after the grace");
      } else {
        this.timers.hold();
        log.warn("bus down: deadlines held until it is back");
      }
    });
  }

  /** Is the task still dispatched with this attempt, waiting for its agent to start it? */
  private waitsForStart(id: number, execId: string | null): boolean {
    const snapshot = this.live.get(id)?.actor.getSnapshot();
    return snapshot?.value === "dispatched" && snapshot.context.execId === execId;
  }

  /**
   * Times out the active attempts on `agentId` whose execId `lost` says the agent no
   * longer has; each task then retries or ends per its own policy.
   */
  private settleAttempts(
    agentId: string,
    reason: TimeoutReason,
    lost: (execId: string) => boolean,
    eligible: (snapshot: TaskSnapshot) => boolean = () => true,
  ) {
    const at = this.deps.clock.now();
    for (const task of this.live.values()) {
      const snapshot = task.actor.getSnapshot();
      const { context } = snapshot;
      if (snapshot.status !== "active" || context.agentId !== agentId) continue;
      if (!eligible(snapshot)) continue;
      if (!context.attemptActive || context.execId === null || !lost(context.execId)) continue;
      const timeout: TaskEvent = { type: "TIMEOUT", reason, at };
      if (snapshot.can(timeout)) task.actor.send(timeout);
    }
  }

  private onHeartbeat(heartbeat: AgentHeartbeat) {
    this.agentRegistry.heartbeat(heartbeat);
    const at = this.deps.clock.now();
    for (const execId of heartbeat.running) {
      const taskId = Number(execId.slice(0, execId.indexOf("-")));
      const task = this.live.get(taskId);
      if (task?.actor.getSnapshot().context.execId === execId) {
        task.actor.send({ type: "PROGRESS", execId, at });
      }
    }
  }

  // ---- helpers --------------------------------------------------------------

  private assertWritable() {
    if (this.stopped) throw new UnavailableError("the engine is shutting down");
    this.writer.assertWritable();
  }

  private view(task: LiveTask): TaskView {
    const snapshot = task.actor.getSnapshot();
    return taskView(task.path, snapshot.context, this.accepts(snapshot));
  }

  private viewOfRow(row: TaskRow): TaskView {
    const persisted = parseTaskRow(row);
    if (FINAL.has(persisted.state)) return taskView(persisted.state, persisted.context, []);
    const snapshot = this.taskLogic.resolveState({
      value: stateValue(persisted.state),
      context: persisted.context,
    });
    return taskView(persisted.state, persisted.context, this.accepts(snapshot));
  }

  /**
   * The client commands the task accepts in this snapshot. Asking the machine takes a
   * transition computation per command, and every view asks: the answer is kept per
   * state and `open`, the only context a client command's guards read (see the task
   * machine: PAUSE and CANCEL guards read the event, CONCLUDE's reads `open`).
   */
  private accepts(snapshot: TaskSnapshot): readonly string[] {
    const key = `${statePath(snapshot.value)}|${snapshot.context.open}`;
    let accepted = this.acceptsByState.get(key);
    if (accepted === undefined) {
      const at = this.deps.clock.now();
      accepted = TASK_COMMANDS.filter((type) =>
        snapshot.can(type === "CONCLUDE" ? { type, delayMs: 0, at } : ({ type, at } as TaskEvent)),
      );
      this.acceptsByState.set(key, accepted);
    }
    return accepted;
  }

  private scheduleCompaction() {
    const { clock, options, store, log } = this.deps;
    const every = Math.min(options.eventRetentionMs, 3_600_000);
    this.compaction = clock.setTimeout(() => {
      store
        .compactEvents(clock.now() - options.eventRetentionMs)
        .then((deleted) => deleted > 0 && log.info({ deleted }, "journal compacted"))
        .catch((error: unknown) => log.warn({ err: error }, "journal compaction failed"))
        // A schedule's history is bounded per agent: what the history route can show.
        .then(() => store.trimScheduleRuns(MAX_HISTORY))
        .then((deleted) => deleted > 0 && log.info({ deleted }, "schedule history trimmed"))
        .catch((error: unknown) => log.warn({ err: error }, "schedule history trim failed"))
        .finally(() => {
          if (!this.stopped) this.scheduleCompaction();
        });
    }, every);
  }
}
