/**
 * The SQLite store (bun:sqlite, WAL, synchronous=FULL: a commit returns after its
 * WAL frames are synced). Reads go through drizzle; the group commit's writes are
 * prepared statements on the same connection (sqlite-writes.ts), because they run
 * hundreds of thousands of times a second and drizzle's query building would
 * dominate them.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import {
  and,
  asc,
  desc,
  eq,
  gt,
  gte,
  inArray,
  lt,
  lte,
  max,
  ne,
  notInArray,
  or,
  sql,
} from "drizzle-orm";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import { ConfigError } from "../errors";
import { FINAL_TASK_STATES } from "../protocol/task-states";
import { TRIM_SCHEDULE_RUNS } from "./schedule-run-retention";
import * as schema from "./schema-sqlite";
import { prepareCommit } from "./sqlite-writes";
import type {
  BatchRow,
  CommitSet,
  Counters,
  EventRow,
  JobLogRow,
  JobQuery,
  JobRow,
  LaneRow,
  ScheduleRow,
  ScheduleRunRow,
  Store,
  TaskLogRow,
  TaskQuery,
  TaskRow,
} from "./store";

/** The job columns `JobQuery.orderBy` names. */
const JOB_ORDER = {
  id: schema.jobs.id,
  created_at: schema.jobs.createdAt,
  updated_at: schema.jobs.updatedAt,
  priority: schema.jobs.priority,
  run_at: schema.jobs.runAt,
} as const;

const MIGRATIONS = fileURLToPath(new URL("./migrations/sqlite", import.meta.url));

export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  private readonly sqlite: Database;
  private readonly db: BunSQLiteDatabase<typeof schema>;
  /** Writes one commit set in one transaction. */
  private writer?: (set: CommitSet) => void;

  /** Opens (creating) `file`; `dataDir` is created first and must be writable. */
  constructor(readonly file: string) {
    try {
      if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
      this.sqlite = new Database(file, { create: true, strict: true });
      this.sqlite.exec("PRAGMA journal_mode = WAL");
      this.sqlite.exec("PRAGMA synchronous = FULL");
      this.sqlite.exec("PRAGMA busy_timeout = 5000");
    } catch (error) {
      throw new ConfigError(`cannot open the database ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.db = drizzle({ client: this.sqlite, schema });
  }

  async migrate(): Promise<void> {
    migrate(this.db, { migrationsFolder: MIGRATIONS });
    this.writer ??= prepareCommit(this.sqlite);
  }

  async commit(set: CommitSet): Promise<void> {
    if (!this.writer) throw new Error("SqliteStore.migrate() must run before commit()");
    this.writer(set);
  }

  async counters(): Promise<Counters> {
    const row = this.sqlite
      .query<{ task: number | null; batch: number | null; seq: number | null }, []>(
        `SELECT (SELECT max(id) FROM tasks) AS task, (SELECT max(id) FROM batches) AS batch,
                (SELECT max(seq) FROM events) AS seq`,
      )
      .get();
    const seqFromMeta = Number((await this.getMeta("eventSeq")) ?? 0) || 0;
    // Deleted (cleaned) tasks leave a mark so their ids are never handed out again.
    const taskFromMeta = Number((await this.getMeta("taskId")) ?? 0) || 0;
    return {
      taskId: Math.max(row?.task ?? 0, taskFromMeta),
      batchId: row?.batch ?? 0,
      eventSeq: Math.max(row?.seq ?? 0, seqFromMeta),
    };
  }

  async getTask(id: number): Promise<TaskRow | undefined> {
    return this.db.select().from(schema.tasks).where(eq(schema.tasks.id, id)).get();
  }

  async listTasks(query: TaskQuery): Promise<TaskRow[]> {
    const t = schema.tasks;
    const where = and(
      query.tenant === undefined ? undefined : eq(t.tenant, query.tenant),
      query.states === undefined ? undefined : inArray(t.state, [...query.states]),
      query.lane === undefined ? undefined : eq(t.lane, query.lane),
      query.batchId === undefined ? undefined : eq(t.batchId, query.batchId),
      query.refIds === undefined ? undefined : inArray(t.refId, [...query.refIds]),
      query.agentId === undefined ? undefined : eq(t.agentId, query.agentId),
      query.beforeId === undefined ? undefined : lt(t.id, query.beforeId),
    );
    return this.db.select().from(t).where(where).orderBy(desc(t.id)).limit(query.limit).all();
  }

  async liveTasks(scheduledAfter: number): Promise<TaskRow[]> {
    const t = schema.tasks;
    return this.db
      .select()
      .from(t)
      .where(
        and(
          notInArray(t.state, [...FINAL_TASK_STATES]),
          or(sql`${t.state} <> 'scheduled'`, lte(t.executeAt, scheduledAfter)),
        ),
      )
      .orderBy(asc(t.id))
      .all();
  }

  async forEachScheduled(
    after: number,
    visit: (id: number, executeAt: number) => void,
  ): Promise<number> {
    let count = 0;
    // Iterated, not loaded: there may be millions.
    const rows = this.sqlite
      .query<[number, number], [number]>(
        "SELECT id, execute_at FROM tasks WHERE state = 'scheduled' AND execute_at > ?1",
      )
      .iterate(after);
    for (const row of rows) {
      const { id, execute_at } = row as unknown as { id: number; execute_at: number };
      visit(id, execute_at);
      count++;
    }
    return count;
  }

  async lanes(): Promise<LaneRow[]> {
    return this.db.select().from(schema.lanes).all();
  }

  async openBatches(): Promise<BatchRow[]> {
    return this.db
      .select()
      .from(schema.batches)
      .where(sql`${schema.batches.finishedAt} IS NULL`)
      .all();
  }

  async getBatch(id: number): Promise<BatchRow | undefined> {
    return this.db.select().from(schema.batches).where(eq(schema.batches.id, id)).get();
  }

  async listBatches(tenant: string, kind: string, limit: number): Promise<BatchRow[]> {
    const b = schema.batches;
    return this.db
      .select()
      .from(b)
      .where(and(eq(b.tenant, tenant), eq(b.kind, kind)))
      .orderBy(desc(b.id))
      .limit(limit)
      .all();
  }

  async schedules(): Promise<ScheduleRow[]> {
    const c = schema.schedules;
    return this.db
      .select()
      .from(c)
      .where(ne(c.state, "deleted"))
      .orderBy(asc(c.createdAt), asc(c.id))
      .all();
  }

  async latestRuns(scheduleId: string): Promise<ScheduleRunRow[]> {
    const r = schema.scheduleRuns;
    const newest = this.db
      .select({ seq: max(r.seq) })
      .from(r)
      .where(eq(r.scheduleId, scheduleId))
      .groupBy(r.agentId);
    return this.db.select().from(r).where(inArray(r.seq, newest)).orderBy(asc(r.agentId)).all();
  }

  async runs(scheduleId: string, limit: number): Promise<ScheduleRunRow[]> {
    const r = schema.scheduleRuns;
    return this.db
      .select()
      .from(r)
      .where(eq(r.scheduleId, scheduleId))
      .orderBy(desc(r.seq))
      .limit(limit)
      .all();
  }

  async taskLog(taskId: number, limit: number): Promise<TaskLogRow[]> {
    const l = schema.taskLog;
    return this.db
      .select()
      .from(l)
      .where(eq(l.taskId, taskId))
      .orderBy(asc(l.seq))
      .limit(limit)
      .all();
  }

  async openJobs(): Promise<JobRow[]> {
    const j = schema.jobs;
    return this.db
      .select()
      .from(j)
      .where(notInArray(j.state, ["completed", "broken"]))
      .orderBy(asc(j.id))
      .all();
  }

  async getJob(id: number): Promise<JobRow | undefined> {
    return this.db.select().from(schema.jobs).where(eq(schema.jobs.id, id)).get();
  }

  async listJobs(query: JobQuery): Promise<JobRow[]> {
    const j = schema.jobs;
    const where = and(
      query.client === undefined ? undefined : eq(j.client, query.client),
      query.states === undefined ? undefined : inArray(j.state, [...query.states]),
      query.failed === undefined ? undefined : eq(j.failed, query.failed),
      query.from === undefined ? undefined : gte(j.createdAt, query.from),
      query.to === undefined ? undefined : lte(j.createdAt, query.to),
      // instr: a case-sensitive substring with no wildcards (LIKE ignores ASCII case).
      query.search === undefined ? undefined : sql`instr(${j.parameters}, ${query.search}) > 0`,
      query.ids === undefined ? undefined : inArray(j.id, [...query.ids]),
    );
    const direction = query.ascending ? asc : desc;
    return this.db
      .select()
      .from(j)
      .where(where)
      .orderBy(direction(JOB_ORDER[query.orderBy]), direction(j.id))
      .limit(query.limit)
      .all();
  }

  async maxJobId(): Promise<number> {
    const row = this.sqlite
      .query<{ id: number | null }, []>("SELECT max(id) AS id FROM jobs")
      .get();
    return row?.id ?? 0;
  }

  async jobCounts(): Promise<Record<string, number>> {
    const rows = this.sqlite
      .query<{ state: string; n: number }, []>(
        "SELECT CASE WHEN failed THEN 'failed' ELSE state END AS state, count(*) AS n FROM jobs GROUP BY 1",
      )
      .all();
    return Object.fromEntries(rows.map((row) => [row.state, row.n]));
  }

  async jobLog(jobId: number, limit: number): Promise<JobLogRow[]> {
    const l = schema.jobLogs;
    return this.db.select().from(l).where(eq(l.jobId, jobId)).orderBy(asc(l.id)).limit(limit).all();
  }

  async entityEvents(kind: string, entityId: string, limit: number): Promise<EventRow[]> {
    const e = schema.events;
    return this.db
      .select()
      .from(e)
      .where(and(eq(e.kind, kind), eq(e.entityId, entityId)))
      .orderBy(desc(e.seq))
      .limit(limit)
      .all();
  }

  async eventsAfter(seq: number, limit: number): Promise<EventRow[]> {
    const e = schema.events;
    return this.db.select().from(e).where(gt(e.seq, seq)).orderBy(asc(e.seq)).limit(limit).all();
  }

  async getMeta(key: string): Promise<string | undefined> {
    const row = this.db.select().from(schema.meta).where(eq(schema.meta.key, key)).get();
    return row?.value;
  }

  async trimScheduleRuns(keepPerAgent: number): Promise<number> {
    return this.sqlite.query(TRIM_SCHEDULE_RUNS.replaceAll("$1", "?1")).run(keepPerAgent).changes;
  }

  async compactEvents(before: number): Promise<number> {
    // The sequence mark and the delete commit together: the journal may be emptied,
    // but event sequence numbers never go back.
    const compact = this.sqlite.transaction((cutoff: number) => {
      const last = this.sqlite
        .query<{ seq: number | null }, []>("SELECT max(seq) AS seq FROM events")
        .get();
      if (last?.seq) {
        this.sqlite
          .query(
            `INSERT INTO meta (key, value) VALUES ('eventSeq', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value
             WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)`,
          )
          .run(String(last.seq));
      }
      return this.sqlite.query("DELETE FROM events WHERE at < ?1").run(cutoff).changes;
    });
    return compact(before);
  }

  async close(): Promise<void> {
    this.sqlite.close();
  }
}
