/**
 * The SQLite schema. Times are integer milliseconds since the Unix epoch. Each row
 * keeps a few columns to query by and the whole persisted snapshot in `snapshot`.
 * Keep in step with schema-postgres.ts: the same tables, the same columns.
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const tasks = sqliteTable(
  "tasks",
  {
    id: integer("id").primaryKey(),
    tenant: text("tenant").notNull(),
    name: text("name").notNull(),
    state: text("state").notNull(),
    outcome: text("outcome"),
    lane: text("lane"),
    agentId: text("agent_id"),
    batchId: integer("batch_id"),
    jobId: integer("job_id"),
    parentId: integer("parent_id"),
    refId: text("ref_id"),
    priority: integer("priority").notNull(),
    executeAt: integer("execute_at").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
    snapshot: text("snapshot").notNull(),
  },
  (t) => [
    index("tasks_tenant_id").on(t.tenant, t.id),
    index("tasks_state_execute_at").on(t.state, t.executeAt),
    index("tasks_batch").on(t.batchId),
  ],
);

export const lanes = sqliteTable(
  "lanes",
  {
    tenant: text("tenant").notNull(),
    key: text("key").notNull(),
    state: text("state").notNull(),
    updatedAt: integer("updated_at").notNull(),
    snapshot: text("snapshot").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.key] })],
);

export const batches = sqliteTable("batches", {
  id: integer("id").primaryKey(),
  tenant: text("tenant").notNull(),
  /** Which API made it (`hostTask`, `xina`, ...): each lists only its own. */
  kind: text("kind").notNull().default(""),
  state: text("state").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  finishedAt: integer("finished_at"),
  snapshot: text("snapshot").notNull(),
});

/** The journal of state changes, in commit order; `seq` resumes event streams. */
export const events = sqliteTable(
  "events",
  {
    seq: integer("seq").primaryKey(),
    kind: text("kind").notNull(),
    entityId: text("entity_id").notNull(),
    event: text("event").notNull(),
    state: text("state").notNull(),
    tenant: text("tenant").notNull(),
    at: integer("at").notNull(),
    data: text("data"),
  },
  // events_at: compaction deletes by age; without it every hourly run scans the journal.
  (t) => [index("events_entity").on(t.kind, t.entityId), index("events_at").on(t.at)],
);

/** Small engine-wide values: counters, generated keys. */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

/**
 * Periodic commands (schedule actors). Deleting one is a state change to "deleted",
 * so its run history stays readable and its id is never reused.
 */
export const schedules = sqliteTable("schedules", {
  id: text("id").primaryKey(),
  tenant: text("tenant").notNull(),
  state: text("state").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  snapshot: text("snapshot").notNull(),
});

/** One finished run of a schedule on one agent, in the order runs were recorded. */
export const scheduleRuns = sqliteTable(
  "schedule_runs",
  {
    // AUTOINCREMENT: a seq is never handed out twice, even after old runs are pruned.
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    scheduleId: text("schedule_id").notNull(),
    tenant: text("tenant").notNull(),
    agentId: text("agent_id").notNull(),
    taskId: integer("task_id"),
    startedAt: integer("started_at").notNull(),
    completedAt: integer("completed_at").notNull(),
    stdout: text("stdout").notNull(),
    stderr: text("stderr").notNull(),
    exitCode: integer("exit_code"),
    ok: integer("ok", { mode: "boolean" }).notNull(),
  },
  (t) => [
    index("schedule_runs_schedule").on(t.scheduleId, t.seq),
    index("schedule_runs_agent").on(t.scheduleId, t.agentId, t.seq),
  ],
);

/** A task's log (executor tasks: every transition and notification), in commit order. */
export const taskLog = sqliteTable(
  "task_log",
  {
    // AUTOINCREMENT: a seq is never handed out twice, even after entries are deleted.
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    taskId: integer("task_id").notNull(),
    tenant: text("tenant").notNull(),
    at: integer("at").notNull(),
    action: text("action").notNull(),
    statusBefore: text("status_before"),
    statusAfter: text("status_after"),
    params: text("params"),
  },
  (t) => [index("task_log_task").on(t.taskId, t.seq)],
);

/** Jobs of the job API (workflow runs): query columns plus the job actor's snapshot. */
export const jobs = sqliteTable(
  "jobs",
  {
    id: integer("id").primaryKey(),
    client: text("client").notNull(),
    workflow: text("workflow").notNull(),
    state: text("state").notNull(),
    priority: integer("priority").notNull(),
    failed: integer("failed", { mode: "boolean" }).notNull(),
    runAt: integer("run_at").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    parameters: text("parameters").notNull(),
    snapshot: text("snapshot").notNull(),
  },
  (t) => [index("jobs_client_id").on(t.client, t.id), index("jobs_state").on(t.state)],
);

/** A job's log lines, in commit order. */
export const jobLogs = sqliteTable(
  "job_logs",
  {
    // AUTOINCREMENT: an id is never handed out twice, even after lines are deleted.
    id: integer("id").primaryKey({ autoIncrement: true }),
    jobId: integer("job_id").notNull(),
    taskId: integer("task_id").notNull(),
    severity: integer("severity").notNull(),
    progname: text("progname").notNull(),
    message: text("message").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("job_logs_job").on(t.jobId, t.id)],
);
