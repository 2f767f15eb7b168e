/**
 * The group commit's writes (see src/store/store.ts CommitSet): prepared upserts and
 * appends run in one transaction.
 */
import type { Database } from "bun:sqlite";
import type { CommitSet } from "./store";

/** Returns the function that writes one commit set in one transaction. */
export function prepareCommit(sqlite: Database): (set: CommitSet) => void {
  const s = sqlite;
  const task = s.prepare(
    `INSERT INTO tasks (id, tenant, name, state, outcome, lane, agent_id, batch_id, job_id, parent_id, ref_id, priority, execute_at, created_at, updated_at, finished_at, snapshot)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
     ON CONFLICT (id) DO UPDATE SET state = excluded.state, outcome = excluded.outcome,
       lane = excluded.lane, agent_id = excluded.agent_id, priority = excluded.priority,
       execute_at = excluded.execute_at, updated_at = excluded.updated_at,
       finished_at = excluded.finished_at, snapshot = excluded.snapshot`,
  );
  const lane = s.prepare(
    `INSERT INTO lanes (tenant, key, state, updated_at, snapshot) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (tenant, key) DO UPDATE SET state = excluded.state,
       updated_at = excluded.updated_at, snapshot = excluded.snapshot`,
  );
  const batch = s.prepare(
    `INSERT INTO batches (id, tenant, kind, state, created_at, updated_at, finished_at, snapshot)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
     ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at,
       finished_at = excluded.finished_at, snapshot = excluded.snapshot`,
  );
  const event = s.prepare(
    `INSERT INTO events (seq, kind, entity_id, event, state, tenant, at, data)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
  );
  const meta = s.prepare(
    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  );
  const deleteTask = s.prepare("DELETE FROM tasks WHERE id = ?1");
  const schedule = s.prepare(
    `INSERT INTO schedules (id, tenant, state, created_at, updated_at, snapshot)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at,
       snapshot = excluded.snapshot`,
  );
  const scheduleRun = s.prepare(
    `INSERT INTO schedule_runs (schedule_id, tenant, agent_id, task_id, started_at, completed_at, stdout, stderr, exit_code, ok)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
  );
  const taskLog = s.prepare(
    `INSERT INTO task_log (task_id, tenant, at, action, status_before, status_after, params)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`,
  );
  const job = s.prepare(
    `INSERT INTO jobs (id, client, workflow, state, priority, failed, run_at, created_at, updated_at, parameters, snapshot)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
     ON CONFLICT (id) DO UPDATE SET state = excluded.state, priority = excluded.priority,
       failed = excluded.failed, run_at = excluded.run_at, updated_at = excluded.updated_at,
       parameters = excluded.parameters, snapshot = excluded.snapshot`,
  );
  const jobLog = s.prepare(
    `INSERT INTO job_logs (job_id, task_id, severity, progname, message, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
  );
  const deleteTaskLog = s.prepare("DELETE FROM task_log WHERE task_id = ?1");
  const run = s.transaction((set: CommitSet) => {
    for (const t of set.tasks) {
      task.run(
        t.id,
        t.tenant,
        t.name,
        t.state,
        t.outcome,
        t.lane,
        t.agentId,
        t.batchId,
        t.jobId,
        t.parentId,
        t.refId,
        t.priority,
        t.executeAt,
        t.createdAt,
        t.updatedAt,
        t.finishedAt,
        t.snapshot,
      );
    }
    for (const l of set.lanes) lane.run(l.tenant, l.key, l.state, l.updatedAt, l.snapshot);
    for (const b of set.batches) {
      batch.run(
        b.id,
        b.tenant,
        b.kind,
        b.state,
        b.createdAt,
        b.updatedAt,
        b.finishedAt,
        b.snapshot,
      );
    }
    for (const e of set.events) {
      event.run(e.seq, e.kind, e.entityId, e.event, e.state, e.tenant, e.at, e.data);
    }
    for (const m of set.meta) meta.run(m.key, m.value);
    for (const id of set.deletedTasks) deleteTask.run(id);
    for (const c of set.schedules ?? []) {
      schedule.run(c.id, c.tenant, c.state, c.createdAt, c.updatedAt, c.snapshot);
    }
    for (const r of set.scheduleRuns ?? []) {
      scheduleRun.run(
        r.scheduleId,
        r.tenant,
        r.agentId,
        r.taskId,
        r.startedAt,
        r.completedAt,
        r.stdout,
        r.stderr,
        r.exitCode,
        r.ok ? 1 : 0,
      );
    }
    for (const l of set.taskLog ?? []) {
      taskLog.run(l.taskId, l.tenant, l.at, l.action, l.statusBefore, l.statusAfter, l.params);
    }
    for (const j of set.jobs ?? []) {
      job.run(
        j.id,
        j.client,
        j.workflow,
        j.state,
        j.priority,
        j.failed ? 1 : 0,
        j.runAt,
        j.createdAt,
        j.updatedAt,
        j.parameters,
        j.snapshot,
      );
    }
    for (const l of set.jobLog ?? []) {
      jobLog.run(l.jobId, l.taskId, l.severity, l.progname, l.message, l.createdAt);
    }
    // After the appends: a task both logged and deleted in one set leaves no log.
    for (const id of set.deletedTasks) deleteTaskLog.run(id);
  });
  return run;
}
