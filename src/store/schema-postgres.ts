/**
 * The PostgreSQL schema: the same tables and columns as schema-sqlite.ts. Times are
 * bigint milliseconds, read back as JavaScript numbers.
 */
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
} from "drizzle-orm/pg-core";

const ms = (name: string) => bigint(name, { mode: "number" });

export const tasks = pgTable(
  "tasks",
  {
    id: ms("id").primaryKey(),
    tenant: text("tenant").notNull(),
    name: text("name").notNull(),
    state: text("state").notNull(),
    outcome: text("outcome"),
    lane: text("lane"),
    agentId: text("agent_id"),
    batchId: ms("batch_id"),
    jobId: ms("job_id"),
    parentId: ms("parent_id"),
    refId: text("ref_id"),
    priority: ms("priority").notNull(),
    executeAt: ms("execute_at").notNull(),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
    finishedAt: ms("finished_at"),
    snapshot: text("snapshot").notNull(),
  },
  (t) => [
    index("tasks_tenant_id").on(t.tenant, t.id),
    index("tasks_state_execute_at").on(t.state, t.executeAt),
    index("tasks_batch").on(t.batchId),
  ],
);

export const lanes = pgTable(
  "lanes",
  {
    tenant: text("tenant").notNull(),
    key: text("key").notNull(),
    state: text("state").notNull(),
    updatedAt: ms("updated_at").notNull(),
    snapshot: text("snapshot").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.key] })],
);

export const batches = pgTable("batches", {
  id: ms("id").primaryKey(),
  tenant: text("tenant").notNull(),
  /** Which API made it (`hostTask`, `xina`, ...): each lists only its own. */
  kind: text("kind").notNull().default(""),
  state: text("state").notNull(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
  finishedAt: ms("finished_at"),
  snapshot: text("snapshot").notNull(),
});

export const events = pgTable(
  "events",
  {
    seq: ms("seq").primaryKey(),
    kind: text("kind").notNull(),
    entityId: text("entity_id").notNull(),
    event: text("event").notNull(),
    state: text("state").notNull(),
    tenant: text("tenant").notNull(),
    at: ms("at").notNull(),
    data: text("data"),
  },
  // events_at: compaction deletes by age; without it every hourly run scans the journal.
  (t) => [index("events_entity").on(t.kind, t.entityId), index("events_at").on(t.at)],
);

export const meta = pgTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

export const schedules = pgTable("schedules", {
  id: text("id").primaryKey(),
  tenant: text("tenant").notNull(),
  state: text("state").notNull(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
  snapshot: text("snapshot").notNull(),
});

export const scheduleRuns = pgTable(
  "schedule_runs",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    scheduleId: text("schedule_id").notNull(),
    tenant: text("tenant").notNull(),
    agentId: text("agent_id").notNull(),
    taskId: ms("task_id"),
    startedAt: ms("started_at").notNull(),
    completedAt: ms("completed_at").notNull(),
    stdout: text("stdout").notNull(),
    stderr: text("stderr").notNull(),
    exitCode: integer("exit_code"),
    ok: boolean("ok").notNull(),
  },
  (t) => [
    index("schedule_runs_schedule").on(t.scheduleId, t.seq),
    index("schedule_runs_agent").on(t.scheduleId, t.agentId, t.seq),
  ],
);

export const taskLog = pgTable(
  "task_log",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    taskId: ms("task_id").notNull(),
    tenant: text("tenant").notNull(),
    at: ms("at").notNull(),
    action: text("action").notNull(),
    statusBefore: text("status_before"),
    statusAfter: text("status_after"),
    params: text("params"),
  },
  (t) => [index("task_log_task").on(t.taskId, t.seq)],
);

export const jobs = pgTable(
  "jobs",
  {
    id: ms("id").primaryKey(),
    client: text("client").notNull(),
    workflow: text("workflow").notNull(),
    state: text("state").notNull(),
    priority: ms("priority").notNull(),
    failed: boolean("failed").notNull(),
    runAt: ms("run_at").notNull(),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
    parameters: text("parameters").notNull(),
    snapshot: text("snapshot").notNull(),
  },
  (t) => [index("jobs_client_id").on(t.client, t.id), index("jobs_state").on(t.state)],
);

export const jobLogs = pgTable(
  "job_logs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    jobId: ms("job_id").notNull(),
    taskId: ms("task_id").notNull(),
    severity: integer("severity").notNull(),
    progname: text("progname").notNull(),
    message: text("message").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("job_logs_job").on(t.jobId, t.id)],
);
