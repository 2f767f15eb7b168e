/**
 * The job family's wire shapes (seed-spec 4.4, 4.16–4.18): snake_case, times as ISO
 * 8601 with milliseconds and `Z`, queue states by name.
 */
import type {
  JobLogEntry,
  JobScheduleInfo,
  JobsHealth,
  JobView,
  Workflow,
} from "../../runtime/commands";
import { QUEUE_STATES } from "./parse";

const iso = (ms: number) => new Date(ms).toISOString();

/** The queue_state name of a job (its id per seed-spec 4.3). */
export const queueStateName = (job: JobView): string => QUEUE_STATES[job.queueState] ?? job.state;

/** A job as `GET /jobs/<id>` and `GET /jobs` show it. */
export function presentJob(job: JobView) {
  return {
    id: job.id,
    client: job.client,
    workflow: job.workflow,
    priority: job.priority,
    // Unexplained in the seed; constant (seed-spec 4.4 [I]).
    position: 1,
    top_of_queue: false,
    parameters: job.data.parameters,
    created_at: iso(job.createdAt),
    updated_at: iso(job.updatedAt),
    queue_state: queueStateName(job),
    failed: job.failed,
    run_at: iso(job.runAt),
  };
}

/** A job on the dashboard: as the seed shows it there, without its parameters. */
export function presentSummary(job: JobView) {
  const { parameters: _, top_of_queue: __, ...summary } = presentJob(job);
  return summary;
}

const SEVERITIES = ["DEBUG", "INFO", "WARN", "ERROR", "FATAL", "UNKNOWN"];

export function presentLog(entry: JobLogEntry) {
  const at = iso(entry.createdAt);
  return {
    id: entry.id,
    job_id: entry.jobId,
    severity: entry.severity,
    severity_description: SEVERITIES[entry.severity] ?? "UNKNOWN",
    progname: entry.progname,
    message: entry.message,
    created_at: at,
    // Log lines are never changed.
    updated_at: at,
    task_id: entry.taskId,
    visible: true,
  };
}

const JOB_COUNTS = [
  "completed",
  "failed",
  "pending",
  "broken",
  "queued",
  "started",
  "scheduled",
  "paused",
] as const;

export function presentHealth(health: JobsHealth, version: string) {
  const jobs: Record<string, number> = {};
  for (const name of JOB_COUNTS) jobs[name] = health.jobs[name] ?? 0;
  return {
    version,
    databases: { [health.storeKind]: health.store, [health.busKind]: health.bus },
    queues: health.queues,
    tasks: health.tasks,
    jobs: { ...jobs, max_jobs: health.maxJobs, priority_slots: health.prioritySlots },
  };
}

/** `GET /dashboard` (4.17): the started, queued and scheduled jobs in queue order. */
export function presentDashboard(
  views: readonly JobView[],
  settings: Record<string, string | number>,
  version: string,
) {
  const of = (...states: string[]) => views.filter((job) => states.includes(queueStateName(job)));
  const byId = (a: JobView, b: JobView) => a.id - b.id;
  return {
    max_jobs: Number(settings.max_jobs),
    priority_slots: Number(settings.priority_slots),
    started: of("started").sort(byId).map(presentSummary),
    queued: of("queued")
      .sort((a, b) => a.priority - b.priority || a.createdAt - b.createdAt || byId(a, b))
      .map(presentSummary),
    // Pending jobs are scheduled ones that wait for their semaphore (4.13).
    scheduled: of("scheduled", "pending")
      .sort((a, b) => a.runAt - b.runAt || byId(a, b))
      .map(presentSummary),
    version,
  };
}

/** `GET /schedules` (4.18): the active schedules by name. */
export function presentSchedules(schedules: readonly JobScheduleInfo[]) {
  return {
    result: "ok" as const,
    schedules: Object.fromEntries(
      schedules
        .filter((schedule) => schedule.active)
        .map((schedule) => [
          schedule.name,
          {
            class: schedule.className,
            every: [schedule.everySeconds, { first_in: schedule.firstInSeconds }],
            queue: schedule.queue,
            description: schedule.description,
          },
        ]),
    ),
  };
}

export function presentWorkflow(workflow: Workflow) {
  return {
    name: workflow.name,
    description: workflow.description,
    source: workflow.source,
    steps: workflow.steps.map((step) => ({
      name: step.name,
      action: step.action,
      executor: step.executor,
      params: step.params,
      agent: step.agent,
      labels: step.labels,
      timeout: step.timeout,
    })),
  };
}
