/**
 * Schedule actors: one per periodic command. On each tick a schedule starts a run on
 * every online agent it selects whose previous run has finished; the engine runs each
 * as an exec task (marked with refId `schedule:<id>`) and hands the finished task
 * back, which becomes a run row. Agents are read on every tick, so one that comes
 * online later gets the next ticks.
 */
import { type Actor, createActor, type SnapshotFrom } from "xstate";
import { SCHEDULE_COMMANDS, type ScheduleEvent, type ScheduleInput } from "../../machines";
import type { Clock } from "../clock";
import {
  IllegalTransitionError,
  InvalidInputError,
  NotFoundError,
  UnavailableError,
} from "../errors";
import type { Logger } from "../log";
import { EntityKind } from "../protocol";
import type { GroupCommitWriter } from "../store/group-commit";
import type { ScheduleRow, Store } from "../store/store";
import { nextCronTime } from "./cron";
import type { Inspect } from "./engine-options";
import type { Journal } from "./journal";
import { type ScheduleLogic, scheduleLogic } from "./schedule-logic";
import {
  type CompletedRun,
  type CreateSchedule,
  type FinishedTask,
  type LatestOutput,
  latestOutputOf,
  MAX_HISTORY,
  type PersistedSchedule,
  type RunInFlight,
  type RunRequest,
  runOfRow,
  runOfTask,
  type ScheduleHost,
  type ScheduleRun,
  type ScheduleView,
  scheduleOfRef,
  scheduleRow,
  scheduleView,
  selects,
  validateCreate,
} from "./schedule-records";
import { statePath, stateValue } from "./task-records";
import type { TimerService } from "./timer-service";

export interface ScheduleCallbacks {
  /** The agents online now, with their labels (the engine's AgentView fits). */
  onlineAgents(): readonly {
    readonly id: string;
    readonly labels: Readonly<Record<string, string>>;
  }[];
  /**
   * Submits the run as an exec task on `agentId` with refId `schedule:<id>`; resolves
   * with its task id once the task is durable.
   */
  runOn(schedule: RunRequest, agentId: string): Promise<number>;
}

export interface ScheduleDeps {
  readonly timers: TimerService;
  readonly clock: Clock;
  readonly writer: GroupCommitWriter;
  readonly journal: Journal;
  /** Reads of run history; writes go through the writer. */
  readonly store: Pick<Store, "latestRuns" | "runs">;
  readonly log: Logger;
  readonly callbacks: ScheduleCallbacks;
  /** XState inspection of the schedule actors (EngineOptions.inspect). */
  readonly inspect?: Inspect;
}

type ScheduleActor = Actor<ScheduleLogic>;
type ScheduleSnapshot = SnapshotFrom<ScheduleLogic>;

interface LiveSchedule extends ScheduleHost {
  readonly actor: ScheduleActor;
}

export class Schedules {
  private readonly live = new Map<string, LiveSchedule>();
  private readonly logic: ScheduleLogic;
  private stopped = false;

  constructor(private readonly deps: ScheduleDeps) {
    // Deferred: the runs are new events for this same actor, not part of the tick.
    this.logic = scheduleLogic((id) => queueMicrotask(() => this.startRuns(id)));
  }

  /** Brings back the stored schedules (on start) and re-arms their ticks. */
  restore(rows: readonly ScheduleRow[]): void {
    const at = this.deps.clock.now();
    for (const row of rows) {
      const persisted = JSON.parse(row.snapshot) as PersistedSchedule;
      const snapshot = this.logic.resolveState({
        value: stateValue(persisted.state),
        context: persisted.context,
      });
      // `input` is required by the type but unused when a snapshot is given.
      const { context } = persisted;
      const input: ScheduleInput = { ...context, firstAt: context.nextAt ?? at, now: at };
      const actor = createActor(this.logic, {
        snapshot,
        input,
        clock: this.deps.timers,
        inspect: this.deps.inspect,
      });
      const live = this.start(actor, persisted, persisted.state);
      // A run whose task id never reached the disk may have no task at all, and would
      // keep its agent busy for good: let the agent run again on the next tick.
      for (const [agentId, run] of live.runs) {
        if (run.taskId === null) this.finishRun(live, agentId);
      }
      if (actor.getSnapshot().value === "active") actor.send({ type: "REARM", at });
    }
  }

  stop(): void {
    this.stopped = true;
    for (const { actor } of this.live.values()) actor.stop();
    this.live.clear();
  }

  // ---- commands -------------------------------------------------------------

  async create(tenant: string, spec: CreateSchedule): Promise<string> {
    this.assertWritable();
    const now = this.deps.clock.now();
    validateCreate(spec, now);
    const id = crypto.randomUUID();
    const cron = spec.cron ?? null;
    // The first run is one interval after creation (seed 5.4), or the next cron time.
    const firstAt = cron === null ? now + (spec.everyMs ?? 0) : nextCronTime(cron, now);
    const input: ScheduleInput = {
      id,
      tenant,
      command: spec.command,
      everyMs: spec.everyMs ?? null,
      cron,
      firstAt: firstAt ?? now,
      now,
    };
    const actor = createActor(this.logic, {
      input,
      clock: this.deps.timers,
      inspect: this.deps.inspect,
    });
    const agents =
      spec.agents && (spec.agents.ids !== undefined || spec.agents.labels !== undefined)
        ? { ids: spec.agents.ids, labels: spec.agents.labels }
        : null;
    this.start(actor, { agents, timeoutMs: spec.timeoutMs ?? null, createdAt: now, runs: {} });
    await this.deps.writer.barrier();
    return id;
  }

  pause(tenant: string, id: string): Promise<ScheduleView> {
    return this.command(tenant, id, "pause", { type: "PAUSE", at: this.deps.clock.now() });
  }

  resume(tenant: string, id: string): Promise<ScheduleView> {
    return this.command(tenant, id, "resume", { type: "RESUME", at: this.deps.clock.now() });
  }

  /** Stops the schedule for good; runs already going finish on their agents. */
  async delete(tenant: string, id: string): Promise<void> {
    await this.command(tenant, id, "delete", { type: "DELETE", at: this.deps.clock.now() });
  }

  /** Records a run reported from outside the engine's agents (seed 5.5). */
  async complete(tenant: string, id: string, report: CompletedRun): Promise<void> {
    this.assertWritable();
    this.find(tenant, id);
    if (report.serverId === "") {
      throw new InvalidInputError("server_id must not be empty", "server_id");
    }
    const at = this.deps.clock.now();
    this.deps.writer.appendScheduleRun({
      scheduleId: id,
      tenant,
      agentId: report.serverId,
      taskId: null,
      startedAt: at,
      completedAt: at,
      stdout: report.stdout ?? "",
      stderr: report.stderr ?? "",
      exitCode: null,
      // The reporter says the run completed; it gives no exit status to say otherwise.
      ok: true,
    });
    this.journalRun(tenant, id, "runFinished", at, { agentId: report.serverId, reported: true });
    await this.deps.writer.barrier();
  }

  /**
   * A task finished. When it is a schedule's run (refId `schedule:<id>`), records the
   * run and frees its agent for the next tick; other tasks are ignored.
   */
  taskFinished(taskId: number, task: FinishedTask): void {
    const id = scheduleOfRef(task.refId);
    const live = id === null ? undefined : this.live.get(id);
    if (!live) return;
    const agentId = this.runAgent(live, taskId, task.agentId);
    const run = agentId === undefined ? undefined : live.runs.get(agentId);
    if (agentId === undefined || run === undefined) return;
    const { context } = live.actor.getSnapshot();
    const now = this.deps.clock.now();
    this.deps.writer.appendScheduleRun({
      scheduleId: context.id,
      tenant: context.tenant,
      agentId,
      taskId,
      ...runOfTask(task, run, now),
    });
    this.finishRun(live, agentId, { taskId, ok: task.outcome === "succeeded" });
  }

  // ---- queries --------------------------------------------------------------

  async get(tenant: string, id: string): Promise<ScheduleView> {
    return this.view(this.find(tenant, id));
  }

  /** The tenant's schedules, oldest first. */
  async list(tenant: string): Promise<ScheduleView[]> {
    const views: ScheduleView[] = [];
    for (const live of this.live.values()) {
      if (live.actor.getSnapshot().context.tenant === tenant) views.push(this.view(live));
    }
    return views.sort((a, b) => a.createdAt - b.createdAt);
  }

  async latestOutput(tenant: string, id: string): Promise<LatestOutput> {
    this.find(tenant, id);
    // The store lags memory by at most one commit; wait so an answered run shows.
    await this.deps.writer.barrier();
    return latestOutputOf(await this.deps.store.latestRuns(id));
  }

  /** The schedule's runs, newest first. */
  async history(tenant: string, id: string, limit: number): Promise<ScheduleRun[]> {
    this.find(tenant, id);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HISTORY) {
      throw new InvalidInputError(`limit must be between 1 and ${MAX_HISTORY}`, "limit");
    }
    await this.deps.writer.barrier();
    return (await this.deps.store.runs(id, limit)).map(runOfRow);
  }

  // ---- actors ---------------------------------------------------------------

  /**
   * Registers and starts a schedule actor. `restoredState` is the state a restored
   * actor was persisted in: not a change, so it is neither journaled nor written again.
   */
  private start(
    actor: ScheduleActor,
    host: Omit<PersistedSchedule, "state" | "context">,
    restoredState = "",
  ): LiveSchedule {
    const live: LiveSchedule = {
      actor,
      agents: host.agents,
      timeoutMs: host.timeoutMs,
      createdAt: host.createdAt,
      runs: new Map(Object.entries(host.runs).map(([agent, run]) => [agent, { ...run }])),
    };
    const { id } = actor.getSnapshot().context;
    this.live.set(id, live);
    let last = restoredState;
    const onSnapshot = (snapshot: ScheduleSnapshot) => {
      this.mark(live);
      const state = statePath(snapshot.value);
      if (state === last) return;
      const event = last === "" ? "created" : state === "active" ? "resumed" : state;
      last = state;
      const { tenant, updatedAt } = snapshot.context;
      this.deps.journal.record(EntityKind.Schedule, id, event, state, tenant, updatedAt);
      // Once the deleted row is marked the schedule is gone; its serializer still
      // reads the stopped actor's final snapshot when the commit runs.
      if (snapshot.status === "done") this.live.delete(id);
    };
    actor.subscribe({
      next: onSnapshot,
      error: (error: unknown) =>
        this.deps.log.error({ scheduleId: id, err: error }, "schedule actor failed"),
    });
    actor.start();
    // Starting emits no snapshot; a new schedule's first one is its creation.
    if (restoredState === "") onSnapshot(actor.getSnapshot());
    return live;
  }

  private mark(live: LiveSchedule) {
    const { actor } = live;
    const { id } = actor.getSnapshot().context;
    this.deps.writer.markSchedule(id, () => {
      const snapshot = actor.getSnapshot();
      return scheduleRow(statePath(snapshot.value), snapshot.context, live);
    });
  }

  /** A tick: a run on every selected online agent whose previous run has finished. */
  private startRuns(id: string) {
    const live = this.live.get(id);
    if (!live || this.stopped) return;
    const { actor } = live;
    const context = actor.getSnapshot().context;
    const request: RunRequest = {
      id,
      tenant: context.tenant,
      command: context.command,
      timeoutMs: live.timeoutMs,
    };
    for (const agent of this.deps.callbacks.onlineAgents()) {
      if (!selects(live.agents, agent)) continue;
      const at = this.deps.clock.now();
      const started: ScheduleEvent = { type: "RUN_STARTED", target: agent.id, at };
      // Refused while the agent's previous run is going (and once paused or deleted).
      if (!actor.getSnapshot().can(started)) continue;
      const run: RunInFlight = { taskId: null, startedAt: at };
      live.runs.set(agent.id, run);
      actor.send(started);
      this.journalRun(context.tenant, id, "runStarted", at, { agentId: agent.id });
      this.deps.callbacks.runOn(request, agent.id).then(
        (taskId) => {
          if (live.runs.get(agent.id) !== run) return; // finished already
          run.taskId = taskId;
          this.mark(live);
        },
        (error: unknown) => {
          this.deps.log.warn(
            { scheduleId: id, agentId: agent.id, err: error },
            "could not start a scheduled run",
          );
          if (live.runs.get(agent.id) === run) this.finishRun(live, agent.id);
        },
      );
    }
  }

  /** The agent whose run is this task: by task id, else by the task's agent. */
  private runAgent(live: LiveSchedule, taskId: number, agentId: string | null) {
    for (const [agent, run] of live.runs) if (run.taskId === taskId) return agent;
    // The task can finish before `runOn` has answered with its id.
    if (agentId !== null && live.runs.get(agentId)?.taskId === null) return agentId;
    return undefined;
  }

  private finishRun(live: LiveSchedule, agentId: string, data: Record<string, unknown> = {}) {
    live.runs.delete(agentId);
    const at = this.deps.clock.now();
    const { id, tenant } = live.actor.getSnapshot().context;
    live.actor.send({ type: "RUN_FINISHED", target: agentId, at });
    this.journalRun(tenant, id, "runFinished", at, { agentId, ...data });
    this.mark(live);
  }

  private journalRun(tenant: string, id: string, event: string, at: number, data: unknown) {
    const state = statePath(this.live.get(id)?.actor.getSnapshot().value ?? "active");
    this.deps.journal.record(EntityKind.Schedule, id, event, state, tenant, at, data);
  }

  // ---- helpers --------------------------------------------------------------

  private async command(
    tenant: string,
    id: string,
    name: string,
    event: ScheduleEvent,
  ): Promise<ScheduleView> {
    this.assertWritable();
    const live = this.find(tenant, id);
    const snapshot = live.actor.getSnapshot();
    if (!snapshot.can(event)) {
      const state = statePath(snapshot.value);
      throw new IllegalTransitionError("schedule", id, name, state, this.accepts(snapshot));
    }
    live.actor.send(event);
    const view = this.view(live);
    await this.deps.writer.barrier();
    return view;
  }

  /** The live schedule; another tenant's, or a deleted one, does not exist. */
  private find(tenant: string, id: string): LiveSchedule {
    const live = this.live.get(id);
    if (!live || live.actor.getSnapshot().context.tenant !== tenant) {
      throw new NotFoundError("schedule", id);
    }
    return live;
  }

  private view(live: LiveSchedule): ScheduleView {
    const snapshot = live.actor.getSnapshot();
    return scheduleView(statePath(snapshot.value), snapshot.context, live, this.accepts(snapshot));
  }

  private accepts(snapshot: ScheduleSnapshot): string[] {
    const at = this.deps.clock.now();
    return SCHEDULE_COMMANDS.filter((type) => snapshot.can({ type, at }));
  }

  private assertWritable() {
    if (this.stopped) throw new UnavailableError("the engine is shutting down");
    this.deps.writer.assertWritable();
  }
}
