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
import { type Actor, createActor, type SnapshotFrom } from "xstate";
import { type JobContext, type JobEvent, jobMachine, QueueState } from "../../machines";
import type { Clock } from "../clock";
import { InvalidInputError, NotFoundError } from "../errors";
import type { Logger } from "../log";
import type { GroupCommitWriter } from "../store/group-commit";
import type { JobRow, Store } from "../store/store";
import type { AgentView, ExecutorApi, SubmitTask, TaskView } from "./commands";
import type { JobSettings } from "./job-settings";
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

export interface JobView {
  readonly id: number;
  readonly client: string;
  readonly workflow: string;
  readonly priority: number;
  readonly state: string;
  readonly queueState: number;
  readonly failed: boolean;
  readonly runAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly currentStep: number;
  readonly data: JobData;
}

/** The engine's side, as jobs use it. */
export interface JobEngine {
  submit(spec: SubmitTask): Promise<TaskView>;
  list(tenant: string, query: { refIds?: readonly string[]; limit?: number }): Promise<TaskView[]>;
  agents(): AgentView[];
  readonly executor: Pick<ExecutorApi, "create">;
}

export interface JobDeps {
  readonly engine: JobEngine;
  readonly store: Pick<Store, "openJobs" | "getJob" | "maxJobId">;
  readonly writer: GroupCommitWriter;
  readonly timers: TimerService;
  readonly clock: Clock;
  readonly log: Logger;
  readonly workflows: Workflows;
  readonly settings: JobSettings;
}

type JobActor = Actor<typeof jobMachine>;
type JobSnapshot = SnapshotFrom<typeof jobMachine>;

interface LiveJob {
  readonly actor: JobActor;
  data: JobData;
  path: string;
}

const FINAL = new Set(["completed", "broken"]);
const MAX_PARAMETERS_BYTES = 256 * 1024;

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

export class Jobs {
  private readonly live = new Map<number, LiveJob>();
  private readonly logic;
  private lastId = 0;
  private pumping = false;
  private stopped = false;

  private constructor(private readonly deps: JobDeps) {
    this.logic = jobMachine.provide({
      actions: {
        requestSlot: () => this.schedulePump(),
        releaseSlot: () => this.schedulePump(),
      },
    });
  }

  /** Restores the open jobs and re-arms what they were waiting for. */
  static async start(deps: JobDeps): Promise<Jobs> {
    const jobs = new Jobs(deps);
    jobs.lastId = await deps.store.maxJobId();
    for (const row of await deps.store.openJobs()) jobs.restore(row);
    jobs.schedulePump();
    return jobs;
  }

  stop(): void {
    this.stopped = true;
    for (const job of this.live.values()) job.actor.stop();
    this.live.clear();
  }

  // ---- commands ---------------------------------------------------------------

  async create(
    client: string,
    request: {
      readonly workflow: string;
      readonly parameters: Record<string, unknown>;
      readonly priority?: number;
      readonly runAt?: number;
      readonly semaphoreUrl?: string;
    },
  ): Promise<JobView> {
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
    const priority = request.priority ?? 1;
    if (!Number.isSafeInteger(priority) || Math.abs(priority) > 1_000_000) {
      throw new InvalidInputError("priority must be a whole number", "priority");
    }
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
        now,
      },
      clock: this.deps.timers,
    });
    const job = this.track(actor, data, "");
    await this.deps.writer.barrier();
    return this.viewOf(job);
  }

  /** queue_state changes a client may make (4.8): pause, break, queue again. */
  async changeState(
    client: string,
    id: number,
    to: "paused" | "broken" | "queued",
  ): Promise<JobView> {
    const job = this.require(client, id);
    const at = this.deps.clock.now();
    const event: JobEvent =
      to === "paused"
        ? { type: "PAUSE", at }
        : to === "broken"
          ? { type: "BREAK", at }
          : { type: "QUEUE", at };
    this.send(job, event, `set queue_state ${to}`);
    await this.deps.writer.barrier();
    return this.viewOf(job);
  }

  async reschedule(client: string, id: number, runAt: number): Promise<JobView> {
    const job = this.require(client, id);
    this.send(job, { type: "RESCHEDULE", runAt, at: this.deps.clock.now() }, "change run_at");
    await this.deps.writer.barrier();
    return this.viewOf(job);
  }

  /** `POST /settings` (4.18): durable once answered; a new limit applies at once. */
  async setSetting(name: string, setting: string): Promise<{ created: boolean }> {
    const result = this.deps.settings.set(name, setting);
    await this.deps.writer.barrier();
    this.schedulePump();
    return result;
  }

  settings(): Record<string, string | number> {
    return this.deps.settings.all();
  }

  get(client: string, id: number): JobView | undefined {
    const job = this.live.get(id);
    if (!job || job.actor.getSnapshot().context.client !== client) return undefined;
    return this.viewOf(job);
  }

  /** The job, live or finished (from the store), or undefined for another client's. */
  async find(client: string, id: number): Promise<JobView | undefined> {
    const live = this.get(client, id);
    if (live) return live;
    await this.deps.writer.barrier();
    const row = await this.deps.store.getJob(id);
    return row && row.client === client ? parseJobRow(row) : undefined;
  }

  /** Every live job's view (the dashboard and the slot counts read these). */
  views(): JobView[] {
    return Array.from(this.live.values(), (job) => this.viewOf(job));
  }

  // ---- the engine tells --------------------------------------------------------

  /**
   * A task finished: if its refId names a job's current step and attempt, the job
   * moves on. (By the refId, not the task id: a quick task can end before its
   * submitter hears its id.)
   */
  taskFinished(task: {
    readonly refId: string | null;
    readonly jobId: number | null;
    readonly tenant: string;
    readonly outcome: string;
  }): void {
    const ref = parseStepRef(task.refId);
    // Only the job's own tasks: a client's refId that looks like one moves nothing.
    if (!ref || task.jobId !== ref.jobId) return;
    const job = this.live.get(ref.jobId);
    if (!job || job.actor.getSnapshot().context.client !== task.tenant) return;
    if (!this.isCurrent(job, ref.step, ref.attempt)) return;
    const { outcome } = task;
    this.stepEnded(job, outcome === "succeeded");
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

  private stepEnded(job: LiveJob, ok: boolean) {
    const { context } = job.actor.getSnapshot();
    const step = context.currentStep;
    const at = this.deps.clock.now();
    job.data = { ...job.data, taskId: null };
    if (ok) {
      this.send(job, { type: "STEP_DONE", ok: true, at }, `step ${step} succeeded`);
      if (job.path === "started") this.runStep(job);
      return;
    }
    const failures = job.data.failures.slice();
    failures[step] = (failures[step] ?? 0) + 1;
    const limit = this.deps.settings.number("retry_limit");
    if ((failures[step] as number) > limit) {
      job.data = { ...job.data, failures };
      this.send(
        job,
        { type: "COMPLETE", failed: true, at },
        `step ${step} failed past the retry limit`,
      );
      return;
    }
    const retryAt = at + this.deps.settings.number("retry_delay") * 1000;
    job.data = { ...job.data, failures, retryAt };
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
      this.deps.log.warn({ jobId: context.id, step, err: error }, "a job step could not start");
      // It counts as a failed attempt: retried, or the job fails.
      if (this.live.get(context.id) === job && this.isCurrent(job, step, attempt)) {
        this.stepEnded(job, false);
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
    if (this.live.get(context.id) !== job || !this.isCurrent(job, step, attempt)) return;
    job.data = { ...job.data, taskId: task.id };
    this.mark(job);
    // Found finished after a restart: its end was heard before the job was back.
    if (task.outcome !== null) {
      this.taskFinished({
        refId: ref,
        jobId: context.id,
        tenant: task.tenant,
        outcome: task.outcome,
      });
    }
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
    if (matches.length === 0) {
      throw new InvalidInputError(
        `no online agent has the labels ${JSON.stringify(labels)}`,
        "labels",
      );
    }
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
    const actor = createActor(this.logic, { snapshot, input, clock: this.deps.timers });
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
      job.path = statePath(snapshot.value);
      this.mark(job);
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
