/**
 * Jobs (seed-spec section 4): workflow runs as job actors under the engine-wide slot,
 * priority and retry rules.
 *
 * - Slots (4.10–4.12): at most `max_jobs` jobs are started; a job is a priority job
 *   when its priority is below `priority_threshold`, and only those may take the last
 *   `priority_slots` slots. Queued jobs start by priority, then creation.
 * - Steps: a started job runs its workflow's steps one after another, each as a task
 *   (an agent action, or pulled work of an executor definition) whose refId
 *   `job:<id>:<step>:<attempt>` names it: after a crash, a step whose task exists is
 *   waited for, never submitted again.
 * - Retries (4.14): a failed step runs again after `retry_delay` s, up to
 *   `retry_limit` times; then the job ends completed with `failed`.
 */
import { type Actor, createActor, type SnapshotFrom, transition } from "xstate";
import { type JobContext, type JobEvent, jobMachine, QueueState } from "../../machines";
import type { Clock } from "../clock";
import { InvalidInputError, NotFoundError } from "../errors";
import type { Logger } from "../log";
import { EntityKind } from "../protocol";
import type { GroupCommitWriter } from "../store/group-commit";
import type { JobRow, Store } from "../store/store";
import type {
  AgentView,
  ExecutorApi,
  JobChanges,
  JobListQuery,
  JobLogEntry,
  JobScheduleInfo,
  JobsApi,
  JobsHealth,
  JobView,
  SubmitTask,
  TaskView,
  Workflow,
} from "./commands";
import type { Inspect } from "./engine-options";
import { type Callback, type CallbackOutcome, JobCallbacks } from "./job-callbacks";
import type { JobSettings } from "./job-settings";
import type { Journal } from "./journal";
import { statePath, stateValue } from "./task-records";
import type { TimerService } from "./timer-service";
import { renderStep, type Workflows } from "./workflows";

/** What a job keeps beside its machine context. */
export interface JobData {
  readonly parameters: Record<string, unknown>;
  readonly semaphoreUrl: string | null;
  /** Failed attempts per step. */
  readonly failures: number[];
  /** The task running the current step, once submitted. */
  readonly taskId: number | null;
  /** When the current step runs again after a failure (epoch ms). */
  readonly retryAt: number | null;
}

interface PersistedJob {
  readonly state: string;
  readonly context: JobContext;
  readonly data: JobData;
}

/** The engine's side, as jobs use it. */
export interface JobEngine {
  submit(spec: SubmitTask): Promise<TaskView>;
  list(tenant: string, query: { refIds?: readonly string[]; limit?: number }): Promise<TaskView[]>;
  agents(): AgentView[];
  readonly executor: Pick<ExecutorApi, "create">;
  unavailable(): string | null;
  busHealth(): Promise<string>;
  /** What the store and the bus are (sqlite or postgres, nats or embedded). */
  backends(): { readonly store: string; readonly bus: string };
  cancel(tenant: string, id: number): Promise<TaskView>;
}

export interface JobDeps {
  readonly engine: JobEngine;
  readonly store: Pick<
    Store,
    "openJobs" | "getJob" | "maxJobId" | "listJobs" | "jobLog" | "jobCounts" | "getMeta"
  >;
  readonly writer: GroupCommitWriter;
  /** Every job state change is an event (fw.events.job.<id>.<state>) after its commit. */
  readonly journal: Journal;
  readonly timers: TimerService;
  readonly clock: Clock;
  readonly log: Logger;
  readonly workflows: Workflows;
  readonly settings: JobSettings;
  /** When queue_scheduled_jobs first runs after start (4.13). @default 5000 */
  readonly schedulerFirstInMs?: number;
  readonly callbacks?: { readonly backoffMs?: number; readonly attempts?: number };
  /** XState inspection of the job actors (EngineOptions.inspect). */
  readonly inspect?: Inspect;
}

/** The one schedule of the job engine (4.13, 4.18). */
const QUEUE_SCHEDULED_JOBS = "queue_scheduled_jobs";
const SCHEDULES_META = "jobs.schedules";
const SEMAPHORE_TIMEOUT_MS = 5_000;

/** Ruby Logger severities (4.16). */
const INFO = 1;
const WARN = 2;
const ERROR = 3;

type JobActor = Actor<typeof jobMachine>;
type JobSnapshot = SnapshotFrom<typeof jobMachine>;

interface LiveJob {
  readonly actor: JobActor;
  data: JobData;
  path: string;
}

const FINAL = new Set(["completed", "broken"]);
const MAX_PARAMETERS_BYTES = 256 * 1024;

/** A job's callback URLs: `parameters.rest_endpoints`, a list of http(s) URLs. */
function endpointsOf(parameters: Record<string, unknown>): string[] {
  const endpoints = parameters.rest_endpoints;
  if (endpoints === undefined || endpoints === null) return [];
  if (!Array.isArray(endpoints) || endpoints.length > 20) {
    throw new InvalidInputError(
      "parameters.rest_endpoints must be a list of at most 20 URLs",
      "parameters.rest_endpoints",
    );
  }
  endpoints.forEach((url, i) => {
    checkUrl(url, `parameters.rest_endpoints[${i}]`);
  });
  return endpoints as string[];
}

function checkUrl(url: unknown, field: string): void {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === "string" ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    throw new InvalidInputError(`${field} must be an http(s) URL`, field);
  }
}

function checkPriority(priority: number): void {
  if (!Number.isSafeInteger(priority) || Math.abs(priority) > 1_000_000) {
    throw new InvalidInputError("priority must be a whole number", "priority");
  }
}

/** The API field a change sentence ("queue_state to paused") is about. */
function fieldOf(why: string): string {
  return why.slice(0, why.indexOf(" "));
}

/** No online agent has the step's labels now: the step waits, it has not failed. */
class NoAgentYet extends Error {
  constructor(labels: Readonly<Record<string, string>>) {
    super(`no online agent has the labels ${JSON.stringify(labels)}`);
  }
}

/** How often a step waiting for an agent looks again. */
const AGENT_WAIT_MS = 1_000;

export function stepRef(jobId: number, step: number, attempt: number): string {
  return `job:${jobId}:${step}:${attempt}`;
}

/** The job, step and attempt a task's refId names; an executor task's id uses dots. */
export function parseStepRef(
  ref: string | null,
): { jobId: number; step: number; attempt: number } | undefined {
  const match = ref === null ? null : /^job[:.](\d+)[:.](\d+)[:.](\d+)$/.exec(ref);
  if (!match) return undefined;
  return { jobId: Number(match[1]), step: Number(match[2]), attempt: Number(match[3]) };
}

function jobRow(path: string, context: JobContext, data: JobData): JobRow {
  const persisted: PersistedJob = { state: path, context, data };
  return {
    id: context.id,
    client: context.client,
    workflow: context.workflow,
    state: path,
    priority: context.priority,
    failed: context.failed,
    runAt: context.runAt,
    createdAt: context.createdAt,
    updatedAt: context.updatedAt,
    parameters: JSON.stringify(data.parameters),
    snapshot: JSON.stringify(persisted),
  };
}

export function parseJobRow(row: JobRow): JobView {
  const persisted = JSON.parse(row.snapshot) as PersistedJob;
  return view(persisted.state, persisted.context, persisted.data);
}

function view(path: string, context: JobContext, data: JobData): JobView {
  return {
    id: context.id,
    client: context.client,
    workflow: context.workflow,
    priority: context.priority,
    state: path,
    queueState: QueueState[path as keyof typeof QueueState] ?? QueueState.queued,
    failed: context.failed,
    runAt: context.runAt,
    createdAt: context.createdAt,
    updatedAt: context.updatedAt,
    currentStep: context.currentStep,
    data,
  };
}

export class Jobs implements JobsApi {
  private readonly live = new Map<number, LiveJob>();
  private readonly logic;
  private lastId = 0;
  private pumping = false;
  private stopped = false;
  private readonly callbackQueue: JobCallbacks;
  private schedulerActive = true;
  private schedulerTimer: unknown = null;
  private ticking = false;
  /** Steps since start, for /health. */
  private readonly steps = { processed: 0, failed: 0 };
  /** Step attempts (by refId) whose wait for an agent is logged. */
  private readonly waitingForAgent = new Set<string>();
  /** Step attempts (by refId) whose start is logged: logged once, before their end. */
  private readonly startsLogged = new Set<string>();

  private constructor(private readonly deps: JobDeps) {
    this.callbackQueue = new JobCallbacks(
      deps.timers,
      (callback, outcome) => this.callbackDone(callback, outcome),
      deps.callbacks,
    );
    this.logic = jobMachine.provide({
      actions: {
        requestSlot: () => this.schedulePump(),
        releaseSlot: () => this.schedulePump(),
        stopStep: ({ context }) => this.stopStep(context.id),
      },
    });
  }

  /** Restores the open jobs and re-arms what they were waiting for. */
  static async start(deps: JobDeps): Promise<Jobs> {
    const jobs = new Jobs(deps);
    jobs.lastId = await deps.store.maxJobId();
    const schedules = await deps.store.getMeta(SCHEDULES_META);
    if (schedules) {
      const active = (JSON.parse(schedules) as Record<string, boolean>)[QUEUE_SCHEDULED_JOBS];
      jobs.schedulerActive = active !== false;
    }
    for (const row of await deps.store.openJobs()) jobs.restore(row);
    jobs.schedulePump();
    jobs.armScheduler(deps.schedulerFirstInMs ?? 5_000);
    return jobs;
  }

  stop(): void {
    this.stopped = true;
    this.callbackQueue.stop();
    for (const job of this.live.values()) job.actor.stop();
    this.live.clear();
  }

  // ---- commands ---------------------------------------------------------------

  async create(client: string, request: Parameters<JobsApi["create"]>[1]): Promise<JobView> {
    // Refused before anything changes: a job made in memory while the store fails
    // would be written and run once it works again, though its client got a 503.
    this.deps.writer.assertWritable();
    const workflow = this.deps.workflows.get(request.workflow);
    const parameters = request.parameters;
    if (typeof parameters !== "object" || parameters === null || Array.isArray(parameters)) {
      throw new InvalidInputError("parameters must be an object", "parameters");
    }
    if (JSON.stringify(parameters).length > MAX_PARAMETERS_BYTES) {
      throw new InvalidInputError(
        `parameters may hold at most ${MAX_PARAMETERS_BYTES} bytes`,
        "parameters",
      );
    }
    endpointsOf(parameters);
    const priority = request.priority ?? 1;
    checkPriority(priority);
    if (request.semaphoreUrl !== undefined) checkUrl(request.semaphoreUrl, "semaphore_url");
    // Every step must render now, so a job that cannot run is refused, not failed.
    for (let i = 0; i < workflow.steps.length; i++) renderStep(workflow, i, parameters);
    const now = this.deps.clock.now();
    const id = ++this.lastId;
    const data: JobData = {
      parameters,
      semaphoreUrl: request.semaphoreUrl ?? null,
      failures: workflow.steps.map(() => 0),
      taskId: null,
      retryAt: null,
    };
    const actor = createActor(this.logic, {
      input: {
        id,
        client,
        workflow: workflow.name,
        priority,
        runAt: request.runAt ?? now,
        stepCount: workflow.steps.length,
        gated: data.semaphoreUrl !== null,
        now,
      },
      clock: this.deps.timers,
      inspect: this.deps.inspect,
    });
    if (request.requestLog !== undefined) this.log(id, 0, INFO, "api", request.requestLog);
    const job = this.track(actor, data, "");
    await this.deps.writer.barrier();
    return this.viewOf(job);
  }

  /** PUT /jobs/<id> (4.8): every change is checked before any is made. */
  async update(
    client: string,
    id: number,
    changes: JobChanges,
  ): Promise<{ job: JobView; performed: string[] }> {
    if (!this.live.has(id)) {
      const finished = await this.find(client, id);
      if (finished) {
        throw new InvalidInputError(`job ${id} is ${finished.state}: it cannot change`, "id");
      }
    }
    const job = this.require(client, id);
    const at = this.deps.clock.now();
    const events: { event: JobEvent; why: string }[] = [];
    if (changes.priority !== undefined) {
      checkPriority(changes.priority);
      events.push({
        event: { type: "PRIORITIZE", priority: changes.priority, at },
        why: `priority to ${changes.priority}`,
      });
    }
    if (changes.semaphoreUrl !== undefined && changes.semaphoreUrl !== null) {
      checkUrl(changes.semaphoreUrl, "semaphore_url");
    }
    if (changes.runAt !== undefined) {
      events.push({
        event: { type: "RESCHEDULE", runAt: changes.runAt, at },
        why: `run_at to ${new Date(changes.runAt).toISOString()}`,
      });
    }
    if (changes.queueState !== undefined) {
      const to = changes.queueState;
      events.push({
        event:
          to === "paused"
            ? { type: "PAUSE", at }
            : to === "broken"
              ? { type: "BREAK", at }
              : { type: "QUEUE", at },
        why: `queue_state to ${to}`,
      });
    }
    if (changes.semaphoreUrl !== undefined) {
      events.push({
        event: { type: "SET_GATE", gated: changes.semaphoreUrl !== null, at },
        why: `semaphore_url to ${changes.semaphoreUrl ?? "none"}`,
      });
    }
    // All or nothing: the first change the job would refuse stops them all.
    let probe = job.actor.getSnapshot();
    for (const { event, why } of events) {
      if (!probe.can(event)) {
        throw new InvalidInputError(`cannot change ${why}: the job is ${job.path}`, fieldOf(why));
      }
      // Pure: computes the next snapshot without running any action.
      [probe] = transition(this.logic, probe, event);
    }
    if (changes.semaphoreUrl !== undefined) {
      job.data = { ...job.data, semaphoreUrl: changes.semaphoreUrl };
    }
    for (const { event } of events) job.actor.send(event);
    this.mark(job);
    const performed = events.map((e) => e.why);
    this.log(id, 0, INFO, "api", `Performed updates: ${performed.join(", ")}`);
    await this.deps.writer.barrier();
    return { job: this.viewOf(job), performed };
  }

  /** POST /jobs/<id>/rerun (4.9): a new job like it; the original, if open, breaks. */
  async rerun(client: string, id: number): Promise<JobView> {
    const original = await this.find(client, id);
    if (!original) throw new NotFoundError("job", id);
    const job = await this.create(client, {
      workflow: original.workflow,
      parameters: original.data.parameters,
      priority: original.priority,
      ...(original.data.semaphoreUrl === null ? {} : { semaphoreUrl: original.data.semaphoreUrl }),
    });
    this.log(job.id, 0, INFO, "api", `Rerun of job ${id}`);
    const live = this.live.get(id);
    if (live && !FINAL.has(live.path)) {
      live.actor.send({ type: "BREAK", at: this.deps.clock.now() });
      this.log(id, 0, INFO, "api", `Broken: rerun as job ${job.id}`);
    }
    await this.deps.writer.barrier();
    return job;
  }

  /** `POST /settings` (4.18): durable once answered; a new limit applies at once. */
  async setSetting(name: string, setting: string): Promise<{ created: boolean }> {
    const result = this.deps.settings.set(name, setting);
    await this.deps.writer.barrier();
    this.schedulePump();
    if (name === "schedule_interval") this.armScheduler(this.intervalMs());
    return result;
  }

  settings(): Record<string, string | number> {
    return this.deps.settings.all();
  }

  workflows(): readonly Workflow[] {
    return this.deps.workflows.list();
  }

  async putWorkflow(input: unknown): Promise<Workflow> {
    const workflow = this.deps.workflows.put(input);
    await this.deps.writer.barrier();
    return workflow;
  }

  schedules(): JobScheduleInfo[] {
    return [
      {
        name: QUEUE_SCHEDULED_JOBS,
        className: "QueueJobs",
        everySeconds: this.deps.settings.number("schedule_interval"),
        firstInSeconds: Math.round((this.deps.schedulerFirstInMs ?? 5_000) / 1000),
        queue: "scheduler",
        description: "Queues scheduled jobs whose run_at has come (after their semaphore)",
        active: this.schedulerActive,
      },
    ];
  }

  async setScheduleActive(name: string, active: boolean): Promise<JobScheduleInfo[]> {
    if (name !== QUEUE_SCHEDULED_JOBS) {
      throw new InvalidInputError(`no schedule named ${name}`, "schedule");
    }
    this.schedulerActive = active;
    this.deps.writer.setMeta(SCHEDULES_META, JSON.stringify({ [name]: active }));
    await this.deps.writer.barrier();
    return this.schedules();
  }

  get(client: string, id: number): JobView | undefined {
    const job = this.live.get(id);
    if (!job || job.actor.getSnapshot().context.client !== client) return undefined;
    return this.viewOf(job);
  }

  /** The job, live or finished (from the store); another client's is undefined. */
  async find(client: string | null, id: number): Promise<JobView | undefined> {
    const live = this.live.get(id);
    if (live) {
      const owner = live.actor.getSnapshot().context.client;
      return client === null || owner === client ? this.viewOf(live) : undefined;
    }
    await this.deps.writer.barrier();
    const row = await this.deps.store.getJob(id);
    return row && (client === null || row.client === client) ? parseJobRow(row) : undefined;
  }

  async list(query: JobListQuery): Promise<JobView[]> {
    await this.deps.writer.barrier();
    const rows = await this.deps.store.listJobs(query);
    return rows.map((row) => {
      const live = this.live.get(row.id);
      return live ? this.viewOf(live) : parseJobRow(row);
    });
  }

  async logs(client: string, id: number): Promise<JobLogEntry[]> {
    if (!(await this.find(client, id))) throw new NotFoundError("job", id);
    // Lines appended so far are in the next commit: wait for it, or the newest are missing.
    await this.deps.writer.barrier();
    const rows = await this.deps.store.jobLog(id, 10_000);
    return rows.map((row) => ({ ...row, progname: row.progname as JobLogEntry["progname"] }));
  }

  async health(): Promise<JobsHealth> {
    const [bus, counts] = await Promise.all([
      this.deps.engine.busHealth(),
      this.deps.store.jobCounts(),
    ]);
    const live = this.views();
    const started = live.filter((job) => job.state === "started");
    const online = this.deps.engine.agents().filter((agent) => agent.status === "online").length;
    const due = live.filter(
      (job) =>
        (job.state === "scheduled" || job.state === "pending") &&
        job.runAt <= this.deps.clock.now(),
    ).length;
    const kinds = this.deps.engine.backends();
    return {
      storeKind: kinds.store,
      store: this.deps.engine.unavailable() ?? "OK",
      busKind: kinds.bus,
      bus,
      queues: {
        work: {
          workers: online,
          working: started.filter((job) => job.data.taskId !== null).length,
          pending: live.filter((job) => job.state === "queued").length,
        },
        controller: { workers: 1, working: 0, pending: 0 },
        scheduler: {
          workers: this.schedulerActive ? 1 : 0,
          working: this.ticking ? 1 : 0,
          pending: due,
        },
        callback: this.callbackQueue.stats,
      },
      tasks: {
        failed: this.steps.failed,
        pending: started.length,
        processed: this.steps.processed,
      },
      jobs: counts,
      maxJobs: this.deps.settings.number("max_jobs"),
      prioritySlots: this.deps.settings.number("priority_slots"),
    };
  }

  /** Every live job's view (the dashboard and the slot counts read these). */
  views(): JobView[] {
    return Array.from(this.live.values(), (job) => this.viewOf(job));
  }

  // ---- the scheduler (4.13) --------------------------------------------------------

  private intervalMs(): number {
    return this.deps.settings.number("schedule_interval") * 1000;
  }

  private armScheduler(delayMs: number) {
    if (this.schedulerTimer !== null) this.deps.timers.clearTimeout(this.schedulerTimer);
    this.schedulerTimer = this.deps.timers.setTimeout(() => {
      this.schedulerTimer = null;
      if (this.stopped) return;
      void this.tick().finally(() => {
        if (!this.stopped && this.schedulerTimer === null) this.armScheduler(this.intervalMs());
      });
    }, delayMs);
  }

  /** queue_scheduled_jobs: queues due scheduled and pending jobs whose semaphore opens. */
  async tick(): Promise<void> {
    if (!this.schedulerActive || this.ticking) return;
    this.ticking = true;
    try {
      const now = this.deps.clock.now();
      const due = [...this.live.values()].filter(
        (job) =>
          (job.path === "scheduled" || job.path === "pending") &&
          job.actor.getSnapshot().context.runAt <= now,
      );
      await Promise.all(due.map((job) => this.release(job)));
    } finally {
      this.ticking = false;
    }
  }

  private async release(job: LiveJob) {
    const { id } = job.actor.getSnapshot().context;
    const url = job.data.semaphoreUrl;
    const open = url === null ? true : await this.askSemaphore(id, url);
    if (this.live.get(id) !== job || (job.path !== "scheduled" && job.path !== "pending")) return;
    const at = this.deps.clock.now();
    if (open) {
      job.actor.send({ type: "QUEUE", at });
      this.log(id, 0, INFO, "controller", "Queued by queue_scheduled_jobs");
    } else if (job.path === "scheduled") {
      job.actor.send({ type: "SEMAPHORE_CLOSED", at });
      this.log(id, 0, INFO, "controller", `Pending: semaphore ${url} is closed`);
    }
  }

  private async askSemaphore(id: number, url: string): Promise<boolean> {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(SEMAPHORE_TIMEOUT_MS) });
      await response.arrayBuffer().catch(() => undefined);
      return response.ok;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log(id, 0, WARN, "controller", `Semaphore ${url} did not answer: ${message}`);
      return false;
    }
  }

  // ---- logs and callbacks ------------------------------------------------------------

  private log(
    jobId: number,
    taskId: number,
    severity: number,
    progname: JobLogEntry["progname"],
    message: string,
  ) {
    this.deps.writer.appendJobLog({
      jobId,
      taskId,
      severity,
      progname,
      message,
      createdAt: this.deps.clock.now(),
    });
  }

  /** POSTs to the job's rest_endpoints (4.15). */
  private callback(job: LiveJob, taskId: number, body: Record<string, unknown>) {
    const urls = endpointsOf(job.data.parameters);
    if (urls.length === 0) return;
    this.callbackQueue.send(job.actor.getSnapshot().context.id, taskId, urls, body);
  }

  private stepCallback(
    job: LiveJob,
    taskId: number,
    stepName: string,
    event: string,
    message: string,
  ) {
    const { context } = job.actor.getSnapshot();
    this.callback(job, taskId, {
      job_id: context.id,
      task_id: taskId,
      task_name: stepName,
      workflow: context.workflow,
      event,
      content_id: job.data.parameters.content_id ?? null,
      message,
    });
  }

  private callbackDone(callback: Callback, outcome: CallbackOutcome) {
    const tries = outcome.attempts === 1 ? "" : ` after ${outcome.attempts} attempts`;
    this.log(
      callback.jobId,
      callback.taskId,
      outcome.ok ? INFO : ERROR,
      "callback",
      outcome.ok
        ? `POST ${callback.url}: ${outcome.detail}${tries}`
        : `POST ${callback.url} failed${tries}: ${outcome.detail}`,
    );
  }

  // ---- the engine tells --------------------------------------------------------

  /**
   * A task finished: if its refId names a job's current step and attempt, the job
   * moves on. (By the refId, not the task id: a quick task can end before its
   * submitter hears its id.)
   */
  taskFinished(task: {
    readonly id: number;
    readonly refId: string | null;
    readonly jobId: number | null;
    readonly tenant: string;
    readonly outcome: string;
    readonly error: string | null;
    readonly agentId: string | null;
  }): void {
    const ref = parseStepRef(task.refId);
    // Only the job's own tasks: a client's refId that looks like one moves nothing.
    if (!ref || task.jobId !== ref.jobId) return;
    const job = this.live.get(ref.jobId);
    if (!job || job.actor.getSnapshot().context.client !== task.tenant) return;
    if (!this.isCurrent(job, ref.step, ref.attempt)) return;
    this.stepStarted(job, task.id, task.refId as string, task.agentId);
    this.startsLogged.delete(task.refId as string);
    this.stepEnded(job, task.id, task.outcome === "succeeded", task.error);
  }

  /** Logs and calls back a step's start, once per attempt (whichever comes first). */
  private stepStarted(job: LiveJob, taskId: number, ref: string, agentId: string | null) {
    if (this.startsLogged.has(ref)) return;
    this.startsLogged.add(ref);
    const { context } = job.actor.getSnapshot();
    const name = this.stepName(context, context.currentStep);
    const attempt = parseStepRef(ref)?.attempt ?? 0;
    const retry = attempt === 0 ? "" : ` (retry ${attempt})`;
    const where = agentId === null || agentId.startsWith("@") ? "" : ` on ${agentId}`;
    this.log(context.id, taskId, INFO, "worker", `'${name}' started${where}${retry}`);
    this.stepCallback(job, taskId, name, "task_started", `'${name}' started`);
  }

  private stepName(context: JobContext, step: number): string {
    return this.deps.workflows.find(context.workflow)?.steps[step]?.name ?? `step ${step}`;
  }

  private isCurrent(job: LiveJob, step: number, attempt: number): boolean {
    const { currentStep } = job.actor.getSnapshot().context;
    return (
      job.path === "started" &&
      currentStep === step &&
      (job.data.failures[step] ?? 0) === attempt &&
      job.data.retryAt === null
    );
  }

  // ---- internals ----------------------------------------------------------------

  private stepEnded(job: LiveJob, taskId: number, ok: boolean, error: string | null) {
    const { context } = job.actor.getSnapshot();
    const step = context.currentStep;
    const name = this.stepName(context, step);
    const at = this.deps.clock.now();
    job.data = { ...job.data, taskId: null };
    if (ok) {
      this.steps.processed++;
      this.log(context.id, taskId, INFO, "worker", `'${name}' completed successfully`);
      this.stepCallback(job, taskId, name, "task_completed", `'${name}' completed successfully`);
      this.send(job, { type: "STEP_DONE", ok: true, at }, `step ${step} succeeded`);
      if (job.path === "started") this.runStep(job);
      return;
    }
    this.steps.failed++;
    const why = `'${name}' failed: ${error ?? "unknown error"}`;
    this.log(context.id, taskId, ERROR, "worker", why);
    this.stepCallback(job, taskId, name, "task_failed", why);
    const failures = job.data.failures.slice();
    failures[step] = (failures[step] ?? 0) + 1;
    const limit = this.deps.settings.number("retry_limit");
    if ((failures[step] as number) > limit) {
      job.data = { ...job.data, failures };
      this.log(
        context.id,
        taskId,
        ERROR,
        "controller",
        `'${name}' failed past retry_limit ${limit}`,
      );
      this.send(
        job,
        { type: "COMPLETE", failed: true, at },
        `step ${step} failed past the retry limit`,
      );
      return;
    }
    const retryAt = at + this.deps.settings.number("retry_delay") * 1000;
    job.data = { ...job.data, failures, retryAt };
    this.log(
      context.id,
      taskId,
      WARN,
      "controller",
      `'${name}' will be retried in ${this.deps.settings.number("retry_delay")} s (${failures[step]} of ${limit})`,
    );
    this.mark(job);
    this.armRetry(job, retryAt);
  }

  private armRetry(job: LiveJob, retryAt: number) {
    const id = job.actor.getSnapshot().context.id;
    this.deps.timers.setTimeout(() => {
      const current = this.live.get(id);
      if (current !== job || job.path !== "started" || job.data.retryAt !== retryAt) return;
      job.data = { ...job.data, retryAt: null };
      this.runStep(job);
    }, retryAt - this.deps.clock.now());
  }

  /** Submits the current step's task (or finds it, when a crash came in between). */
  private runStep(job: LiveJob) {
    const { context } = job.actor.getSnapshot();
    const step = context.currentStep;
    const attempt = job.data.failures[step] ?? 0;
    const ref = stepRef(context.id, step, attempt);
    void this.submitStep(job, context, step, ref).catch((error: unknown) => {
      if (error instanceof NoAgentYet) {
        // After a restart agents come back within a heartbeat; a fleet may be scaling.
        if (!this.waitingForAgent.has(ref)) {
          this.waitingForAgent.add(ref);
          this.log(
            context.id,
            0,
            WARN,
            "controller",
            `'${this.stepName(context, step)}' waits: ${error.message}`,
          );
        }
        this.deps.timers.setTimeout(() => {
          if (this.live.get(context.id) === job && this.isCurrent(job, step, attempt))
            this.runStep(job);
        }, AGENT_WAIT_MS);
        return;
      }
      this.deps.log.warn({ jobId: context.id, step, err: error }, "a job step could not start");
      // It counts as a failed attempt: retried, or the job fails.
      if (this.live.get(context.id) === job && this.isCurrent(job, step, attempt)) {
        const message = error instanceof Error ? error.message : String(error);
        this.stepEnded(job, 0, false, `could not start: ${message}`);
      }
    });
  }

  private async submitStep(job: LiveJob, context: JobContext, step: number, ref: string) {
    const [existing] = await this.deps.engine.list(context.client, { refIds: [ref], limit: 1 });
    let task = existing;
    if (!task) {
      const workflow = this.deps.workflows.get(context.workflow);
      const rendered = renderStep(workflow, step, job.data.parameters);
      if (rendered.executor !== undefined) {
        const created = await this.deps.engine.executor.create(context.client, {
          definition: rendered.executor,
          params: rendered.params,
          id: ref.replaceAll(":", "."),
          label: `${context.workflow}/${rendered.name}`,
          jobId: context.id,
        });
        task = created.task;
      } else {
        task = await this.deps.engine.submit({
          tenant: context.client,
          name: `${context.workflow}/${rendered.name}`,
          actions: rendered.actions ?? [],
          agentId: rendered.agentId ?? this.agentFor(rendered.labels),
          refId: ref,
          jobId: context.id,
          retry: { limit: 0 },
          ...(rendered.timeoutMs === undefined
            ? {}
            : { timeouts: { executionMs: rendered.timeoutMs } }),
        });
      }
    }
    const attempt = parseStepRef(ref)?.attempt ?? 0;
    this.waitingForAgent.delete(ref);
    if (this.live.get(context.id) !== job || !this.isCurrent(job, step, attempt)) return;
    job.data = { ...job.data, taskId: task.id };
    this.mark(job);
    this.stepStarted(job, task.id, ref, task.agentId);
    // Found finished after a restart: its end was heard before the job was back.
    if (task.outcome !== null)
      this.taskFinished({ ...task, jobId: context.id, outcome: task.outcome });
  }

  /** An online agent whose labels include all of `labels` (least recently used). */
  private agentFor(labels: Readonly<Record<string, string>> | undefined): string | undefined {
    if (labels === undefined) return undefined;
    const matches = this.deps.engine
      .agents()
      .filter(
        (agent) =>
          agent.status === "online" &&
          Object.entries(labels).every(([k, v]) => agent.labels[k] === v),
      );
    if (matches.length === 0) throw new NoAgentYet(labels);
    return matches[Math.floor(Math.random() * matches.length)]?.id;
  }

  /** Starts queued jobs while slots allow (4.12). Deferred: it sends new events. */
  private schedulePump() {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    queueMicrotask(() => {
      this.pumping = false;
      this.pump();
    });
  }

  private pump() {
    const max = this.deps.settings.number("max_jobs");
    const reserved = this.deps.settings.number("priority_slots");
    const threshold = this.deps.settings.number("priority_threshold");
    let started = 0;
    const queued: LiveJob[] = [];
    for (const job of this.live.values()) {
      if (job.path === "started") started++;
      else if (job.path === "queued") queued.push(job);
    }
    queued.sort((a, b) => {
      const x = a.actor.getSnapshot().context;
      const y = b.actor.getSnapshot().context;
      return x.priority - y.priority || x.createdAt - y.createdAt || x.id - y.id;
    });
    for (const job of queued) {
      if (started >= max) break;
      const { priority } = job.actor.getSnapshot().context;
      const limit = priority < threshold ? max : max - reserved;
      if (started >= limit) continue;
      this.send(job, { type: "START", at: this.deps.clock.now() }, "started");
      this.log(job.actor.getSnapshot().context.id, 0, INFO, "controller", "job has started");
      started++;
      this.runStep(job);
    }
  }

  private send(job: LiveJob, event: JobEvent, why: string) {
    const snapshot = job.actor.getSnapshot();
    if (!snapshot.can(event)) {
      throw new InvalidInputError(`cannot ${why}: the job is ${job.path}`, "queue_state");
    }
    job.actor.send(event);
  }

  private require(client: string, id: number): LiveJob {
    const job = this.live.get(id);
    if (!job || job.actor.getSnapshot().context.client !== client)
      throw new NotFoundError("job", id);
    return job;
  }

  private restore(row: JobRow) {
    const persisted = JSON.parse(row.snapshot) as PersistedJob;
    const snapshot = this.logic.resolveState({
      value: stateValue(persisted.state),
      context: persisted.context,
    });
    const { context } = persisted;
    const input = { ...context, now: context.createdAt };
    const actor = createActor(this.logic, {
      snapshot,
      input,
      clock: this.deps.timers,
      inspect: this.deps.inspect,
    });
    const job = this.track(actor, persisted.data, persisted.state);
    if (job.path !== "started") return;
    if (job.data.retryAt !== null) this.armRetry(job, job.data.retryAt);
    // The step's task may have finished meanwhile, or never been submitted: find out.
    else this.runStep(job);
  }

  private track(actor: JobActor, data: JobData, restoredPath: string): LiveJob {
    const job: LiveJob = { actor, data, path: restoredPath };
    const { id } = actor.getSnapshot().context;
    this.live.set(id, job);
    actor.subscribe((snapshot: JobSnapshot) => {
      const previous = job.path;
      job.path = statePath(snapshot.value);
      this.mark(job);
      if (job.path !== previous) this.journalState(job, snapshot.context);
      if (job.path !== previous && FINAL.has(job.path)) this.ended(job, snapshot.context);
      if (FINAL.has(job.path)) {
        // Out of memory once on disk; the store answers for it from then on.
        void this.deps.writer.barrier().then(() => {
          if (this.live.get(id) === job) this.live.delete(id);
        });
      }
    });
    actor.start();
    job.path = statePath(actor.getSnapshot().value);
    this.mark(job);
    return job;
  }

  private journalState(job: LiveJob, context: JobContext) {
    this.deps.journal.record(
      EntityKind.Job,
      context.id,
      job.path,
      job.path,
      context.client,
      context.updatedAt,
      { queueState: QueueState[job.path as keyof typeof QueueState], failed: context.failed },
    );
  }

  /** A started job was broken: its running step's task is cancelled (deferred). */
  private stopStep(id: number) {
    queueMicrotask(() => {
      const job = this.live.get(id);
      const taskId = job?.data.taskId ?? null;
      if (!job || taskId === null) return;
      const { client } = job.actor.getSnapshot().context;
      this.deps.engine.cancel(client, taskId).then(
        () => this.log(id, taskId, INFO, "controller", "the running step was cancelled"),
        // Already finished: nothing to stop.
        () => {},
      );
    });
  }

  /** The job reached completed or broken: its last log line and callback (4.15). */
  private ended(job: LiveJob, context: JobContext) {
    const status = job.path === "broken" ? "broken" : context.failed ? "failed" : "completed";
    const message =
      status === "completed"
        ? "job has completed successfully"
        : status === "failed"
          ? "job has failed"
          : "job was broken";
    this.log(
      context.id,
      job.data.taskId ?? 0,
      status === "failed" ? ERROR : INFO,
      "controller",
      message,
    );
    this.callback(job, 0, {
      job_id: context.id,
      status,
      workflow: context.workflow,
      content_id: job.data.parameters.content_id ?? null,
      custom_data: job.data.parameters.custom_data ?? null,
    });
  }

  private mark(job: LiveJob) {
    const { id } = job.actor.getSnapshot().context;
    this.deps.writer.markJob(id, () => {
      const snapshot = job.actor.getSnapshot();
      return jobRow(statePath(snapshot.value), snapshot.context, job.data);
    });
  }

  private viewOf(job: LiveJob): JobView {
    const snapshot = job.actor.getSnapshot();
    return view(statePath(snapshot.value), snapshot.context, job.data);
  }
}
