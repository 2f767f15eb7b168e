/**
 * The durable store behind the engine. The runtime keeps live state in memory and
 * hands the store one `CommitSet` at a time (group commit): everything in it is
 * written in one transaction, and `commit` resolves only once that transaction is on
 * disk. Two implementations: SQLite (default) and PostgreSQL.
 */

/** A task's row: query columns plus the persisted machine snapshot (JSON). */
export interface TaskRow {
  readonly id: number;
  readonly tenant: string;
  readonly name: string;
  /** The machine's state value as a dotted path, e.g. `running.executing`. */
  readonly state: string;
  readonly outcome: string | null;
  readonly lane: string | null;
  readonly agentId: string | null;
  readonly batchId: number | null;
  readonly jobId: number | null;
  readonly parentId: number | null;
  readonly refId: string | null;
  readonly priority: number;
  readonly executeAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt: number | null;
  readonly snapshot: string;
}

export interface LaneRow {
  readonly tenant: string;
  readonly key: string;
  readonly state: string;
  readonly updatedAt: number;
  readonly snapshot: string;
}

export interface BatchRow {
  readonly id: number;
  readonly tenant: string;
  readonly kind: string;
  readonly state: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt: number | null;
  readonly snapshot: string;
}

/** One entry of the journal of state changes. */
export interface EventRow {
  readonly seq: number;
  readonly kind: string;
  readonly entityId: string;
  readonly event: string;
  readonly state: string;
  readonly tenant: string;
  readonly at: number;
  readonly data: string | null;
}

/** A schedule (periodic command): query columns plus its persisted snapshot (JSON). */
export interface ScheduleRow {
  /** A UUID. */
  readonly id: string;
  readonly tenant: string;
  /** `active`, `paused`, or `deleted` (kept, not removed, so its runs stay readable). */
  readonly state: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly snapshot: string;
}

/** One finished run of a schedule on one agent. */
export interface ScheduleRunRow {
  /** Assigned by the store, increasing in the order runs were committed. */
  readonly seq: number;
  readonly scheduleId: string;
  readonly tenant: string;
  readonly agentId: string;
  /** The task that ran it; null for a run reported from outside (POST .../complete). */
  readonly taskId: number | null;
  readonly startedAt: number;
  readonly completedAt: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly ok: boolean;
}

/** A run to append: the store assigns its `seq`. */
export type NewScheduleRun = Omit<ScheduleRunRow, "seq">;

/** One entry of a task's log (executor tasks: every transition and notification). */
export interface TaskLogRow {
  /** Assigned by the store, increasing in the order entries were committed. */
  readonly seq: number;
  readonly taskId: number;
  readonly tenant: string;
  /** Milliseconds since the Unix epoch. */
  readonly at: number;
  /** E.g. `awf.task/start`. */
  readonly action: string;
  readonly statusBefore: string | null;
  readonly statusAfter: string | null;
  /** JSON text of the action's params, or null. */
  readonly params: string | null;
}

/** A log entry to append: the store assigns its `seq`. */
export type NewTaskLogEntry = Omit<TaskLogRow, "seq">;

/** A job (the job API's workflow run); `snapshot` is its actor state as JSON. */
export interface JobRow {
  readonly id: number;
  /** The tenant. */
  readonly client: string;
  readonly workflow: string;
  /** The job machine's state: scheduled, pending, queued, started, paused, broken, completed. */
  readonly state: string;
  readonly priority: number;
  readonly failed: boolean;
  /** Milliseconds since the Unix epoch. */
  readonly runAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** JSON text of the job's parameters (searched by substring). */
  readonly parameters: string;
  readonly snapshot: string;
}

/** One line of a job's log (GET /logs/<job_id>). */
export interface JobLogRow {
  /** Assigned by the store, increasing in the order lines were committed. */
  readonly id: number;
  readonly jobId: number;
  /** 0 = job-level. */
  readonly taskId: number;
  /** Ruby Logger severity, 0 DEBUG .. 5 UNKNOWN. */
  readonly severity: number;
  /** api | worker | controller | callback. */
  readonly progname: string;
  readonly message: string;
  readonly createdAt: number;
}

/** A job log line to append: the store assigns its `id`. */
export type NewJobLogEntry = Omit<JobLogRow, "id">;

export interface JobQuery {
  readonly client?: string;
  readonly states?: readonly string[];
  readonly failed?: boolean;
  /** createdAt >= from. */
  readonly from?: number;
  /** createdAt <= to. */
  readonly to?: number;
  /** A case-sensitive substring of `parameters` (no wildcards: `%` and `_` are literal). */
  readonly search?: string;
  readonly ids?: readonly number[];
  readonly orderBy: "id" | "created_at" | "updated_at" | "priority" | "run_at";
  readonly ascending: boolean;
  readonly limit: number;
}

export interface MetaRow {
  readonly key: string;
  readonly value: string;
}

/** What one group commit writes: upserts of entities, appends to the journal. */
export interface CommitSet {
  readonly tasks: readonly TaskRow[];
  readonly lanes: readonly LaneRow[];
  readonly batches: readonly BatchRow[];
  readonly events: readonly EventRow[];
  readonly meta: readonly MetaRow[];
  /** Task ids to delete for good (cleaned tasks), with their log entries. */
  readonly deletedTasks: readonly number[];
  /** Schedules to upsert by id (a deleted one is a row in state `deleted`). */
  readonly schedules?: readonly ScheduleRow[];
  /** Runs to append, in order. */
  readonly scheduleRuns?: readonly NewScheduleRun[];
  /** Task log entries to append, in order. */
  readonly taskLog?: readonly NewTaskLogEntry[];
  /** Jobs to upsert by id. */
  readonly jobs?: readonly JobRow[];
  /** Job log lines to append, in order. */
  readonly jobLog?: readonly NewJobLogEntry[];
}

export interface TaskQuery {
  readonly tenant?: string;
  readonly states?: readonly string[];
  readonly lane?: string;
  readonly batchId?: number;
  /** Tasks with any of these ref ids. */
  readonly refIds?: readonly string[];
  /** Tasks on this agent. */
  readonly agentId?: string;
  /** Only ids below this (newest-first paging). */
  readonly beforeId?: number;
  readonly limit: number;
}

/** The highest ids in use, so counters resume after a restart. */
export interface Counters {
  readonly taskId: number;
  readonly batchId: number;
  readonly eventSeq: number;
}

export interface Store {
  readonly kind: "sqlite" | "postgres";
  /** Applies the committed migrations. */
  migrate(): Promise<void>;
  /** Writes the set in one transaction; resolves once it is durable. */
  commit(set: CommitSet): Promise<void>;
  counters(): Promise<Counters>;
  getTask(id: number): Promise<TaskRow | undefined>;
  /** Newest first. */
  listTasks(query: TaskQuery): Promise<TaskRow[]>;
  /**
   * Tasks that must be live actors after a restart: every task not in a final state,
   * except scheduled ones due after `scheduledAfter` (those go to the timer index).
   */
  liveTasks(scheduledAfter: number): Promise<TaskRow[]>;
  /** Calls `visit` for every scheduled task due after `after`, in no particular order. */
  forEachScheduled(after: number, visit: (id: number, executeAt: number) => void): Promise<number>;
  lanes(): Promise<LaneRow[]>;
  /** Batches that have not finished. */
  openBatches(): Promise<BatchRow[]>;
  getBatch(id: number): Promise<BatchRow | undefined>;
  /** The tenant's batches, newest first. */
  /** The tenant's batches of one kind, newest first. */
  listBatches(tenant: string, kind: string, limit: number): Promise<BatchRow[]>;
  /** Every schedule not deleted, oldest first. */
  schedules(): Promise<ScheduleRow[]>;
  /** The newest run of each agent that ran the schedule, by agent id. */
  latestRuns(scheduleId: string): Promise<ScheduleRunRow[]>;
  /** The schedule's runs, newest first, at most `limit`. */
  runs(scheduleId: string, limit: number): Promise<ScheduleRunRow[]>;
  /** A task's log, oldest first, at most `limit` entries. */
  taskLog(taskId: number, limit: number): Promise<TaskLogRow[]>;
  /** Every job not in state completed or broken, by id. */
  openJobs(): Promise<JobRow[]>;
  getJob(id: number): Promise<JobRow | undefined>;
  /** Jobs matching the query in its order; ties broken by id in the same direction. */
  listJobs(query: JobQuery): Promise<JobRow[]>;
  /** The highest job id in use; 0 when there is none. */
  maxJobId(): Promise<number>;
  /**
   * How many jobs are in each state (states with none are absent); a failed job
   * counts as `failed`, not as `completed`.
   */
  jobCounts(): Promise<Record<string, number>>;
  /** A job's log, oldest first, at most `limit` lines. */
  jobLog(jobId: number, limit: number): Promise<JobLogRow[]>;
  /** Journal entries after `seq`, oldest first. */
  eventsAfter(seq: number, limit: number): Promise<EventRow[]>;
  /** One entity's journal, newest first, at most `limit` (what the visualizer shows). */
  entityEvents(kind: string, entityId: string, limit: number): Promise<EventRow[]>;
  getMeta(key: string): Promise<string | undefined>;
  /** Deletes journal entries with `at` before the given time; returns how many. */
  compactEvents(before: number): Promise<number>;
  /**
   * Keeps the newest `keepPerAgent` runs of each schedule per agent and drops the runs
   * of deleted schedules. Returns how many rows it deleted.
   */
  trimScheduleRuns(keepPerAgent: number): Promise<number>;
  close(): Promise<void>;
}
