/**
 * The PostgreSQL store (the `postgres` driver, drizzle for reads and migrations). It
 * behaves exactly like the SQLite store; a commit is one transaction and resolves
 * after COMMIT, which with the default `synchronous_commit = on` means the WAL is
 * flushed on the server.
 *
 * The group commit's upserts bypass drizzle: each table gets one
 * `INSERT ... SELECT FROM unnest($1::bigint[], ...) ON CONFLICT` per commit. The
 * statement text does not depend on the row count, so the driver prepares it once per
 * connection and every later commit is a single round trip per table, with a fixed
 * number of parameters however many rows it carries (a multi-row VALUES list would
 * need a new statement per row count and hit the 65,535-parameter limit).
 */
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
  ne,
  notInArray,
  or,
  sql as q,
} from "drizzle-orm";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { ConfigError } from "../errors";
import { FINAL_TASK_STATES } from "../protocol/task-states";
import { TRIM_SCHEDULE_RUNS } from "./schedule-run-retention";
import * as schema from "./schema-postgres";
import type {
  BatchRow,
  CommitSet,
  Counters,
  EventRow,
  JobLogRow,
  JobQuery,
  JobRow,
  LaneRow,
  NewJobLogEntry,
  NewScheduleRun,
  NewTaskLogEntry,
  ScheduleRow,
  ScheduleRunRow,
  Store,
  TaskLogRow,
  TaskQuery,
  TaskRow,
} from "./store";

const MIGRATIONS = fileURLToPath(new URL("./migrations/postgres", import.meta.url));

/**
 * Rows per upsert statement. Not a parameter limit (arrays are one parameter each) but
 * a bound on one Bind message, which the server caps at 1 GB.
 */
const CHUNK_ROWS = 5_000;
/** PostgreSQL's type oid of `boolean`. */
const BOOL_OID = 16;
/** Rows fetched per round trip by `forEachScheduled`. */
const CURSOR_ROWS = 10_000;

type Value = string | number | boolean | null;

/** One table's upsert: column names with their array types, in parameter order. */
interface Upsert<R> {
  readonly table: string;
  readonly columns: readonly (readonly [
    name: string,
    type: "bigint" | "integer" | "boolean" | "text",
  ])[];
  readonly values: (row: R) => Value[];
  /** The conflict target; absent for the journal, which only appends. */
  readonly conflict?: readonly string[];
  /** Columns an existing row takes from the new one; the others keep their first value. */
  readonly update?: readonly string[];
}

const TASKS: Upsert<TaskRow> = {
  table: "tasks",
  columns: [
    ["id", "bigint"],
    ["tenant", "text"],
    ["name", "text"],
    ["state", "text"],
    ["outcome", "text"],
    ["lane", "text"],
    ["agent_id", "text"],
    ["batch_id", "bigint"],
    ["job_id", "bigint"],
    ["parent_id", "bigint"],
    ["ref_id", "text"],
    ["priority", "bigint"],
    ["execute_at", "bigint"],
    ["created_at", "bigint"],
    ["updated_at", "bigint"],
    ["finished_at", "bigint"],
    ["snapshot", "text"],
  ],
  values: (t) => [
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
  ],
  conflict: ["id"],
  update: [
    "state",
    "outcome",
    "lane",
    "agent_id",
    "priority",
    "execute_at",
    "updated_at",
    "finished_at",
    "snapshot",
  ],
};

const LANES: Upsert<LaneRow> = {
  table: "lanes",
  columns: [
    ["tenant", "text"],
    ["key", "text"],
    ["state", "text"],
    ["updated_at", "bigint"],
    ["snapshot", "text"],
  ],
  values: (l) => [l.tenant, l.key, l.state, l.updatedAt, l.snapshot],
  conflict: ["tenant", "key"],
  update: ["state", "updated_at", "snapshot"],
};

const BATCHES: Upsert<BatchRow> = {
  table: "batches",
  columns: [
    ["id", "bigint"],
    ["tenant", "text"],
    ["kind", "text"],
    ["state", "text"],
    ["created_at", "bigint"],
    ["updated_at", "bigint"],
    ["finished_at", "bigint"],
    ["snapshot", "text"],
  ],
  values: (b) => [
    b.id,
    b.tenant,
    b.kind,
    b.state,
    b.createdAt,
    b.updatedAt,
    b.finishedAt,
    b.snapshot,
  ],
  conflict: ["id"],
  update: ["state", "updated_at", "finished_at", "snapshot"],
};

const EVENTS: Upsert<EventRow> = {
  table: "events",
  columns: [
    ["seq", "bigint"],
    ["kind", "text"],
    ["entity_id", "text"],
    ["event", "text"],
    ["state", "text"],
    ["tenant", "text"],
    ["at", "bigint"],
    ["data", "text"],
  ],
  values: (e) => [e.seq, e.kind, e.entityId, e.event, e.state, e.tenant, e.at, e.data],
};

const META: Upsert<{ readonly key: string; readonly value: string }> = {
  table: "meta",
  columns: [
    ["key", "text"],
    ["value", "text"],
  ],
  values: (m) => [m.key, m.value],
  conflict: ["key"],
  update: ["value"],
};

const SCHEDULES: Upsert<ScheduleRow> = {
  table: "schedules",
  columns: [
    ["id", "text"],
    ["tenant", "text"],
    ["state", "text"],
    ["created_at", "bigint"],
    ["updated_at", "bigint"],
    ["snapshot", "text"],
  ],
  values: (c) => [c.id, c.tenant, c.state, c.createdAt, c.updatedAt, c.snapshot],
  conflict: ["id"],
  update: ["state", "updated_at", "snapshot"],
};

/** Appends only; `seq` is left to its bigserial default, so unnest's row order sets it. */
const SCHEDULE_RUNS: Upsert<NewScheduleRun> = {
  table: "schedule_runs",
  columns: [
    ["schedule_id", "text"],
    ["tenant", "text"],
    ["agent_id", "text"],
    ["task_id", "bigint"],
    ["started_at", "bigint"],
    ["completed_at", "bigint"],
    ["stdout", "text"],
    ["stderr", "text"],
    ["exit_code", "integer"],
    ["ok", "boolean"],
  ],
  values: (r) => [
    r.scheduleId,
    r.tenant,
    r.agentId,
    r.taskId,
    r.startedAt,
    r.completedAt,
    r.stdout,
    r.stderr,
    r.exitCode,
    r.ok,
  ],
};

/** Appends only; `seq` is left to its bigserial default, so unnest's row order sets it. */
const TASK_LOG: Upsert<NewTaskLogEntry> = {
  table: "task_log",
  columns: [
    ["task_id", "bigint"],
    ["tenant", "text"],
    ["at", "bigint"],
    ["action", "text"],
    ["status_before", "text"],
    ["status_after", "text"],
    ["params", "text"],
  ],
  values: (l) => [l.taskId, l.tenant, l.at, l.action, l.statusBefore, l.statusAfter, l.params],
};

const JOBS: Upsert<JobRow> = {
  table: "jobs",
  columns: [
    ["id", "bigint"],
    ["client", "text"],
    ["workflow", "text"],
    ["state", "text"],
    ["priority", "bigint"],
    ["failed", "boolean"],
    ["run_at", "bigint"],
    ["created_at", "bigint"],
    ["updated_at", "bigint"],
    ["parameters", "text"],
    ["snapshot", "text"],
  ],
  values: (j) => [
    j.id,
    j.client,
    j.workflow,
    j.state,
    j.priority,
    j.failed,
    j.runAt,
    j.createdAt,
    j.updatedAt,
    j.parameters,
    j.snapshot,
  ],
  conflict: ["id"],
  update: ["state", "priority", "failed", "run_at", "updated_at", "parameters", "snapshot"],
};

/** Appends only; `id` is left to its bigserial default, so unnest's row order sets it. */
const JOB_LOG: Upsert<NewJobLogEntry> = {
  table: "job_logs",
  columns: [
    ["job_id", "bigint"],
    ["task_id", "bigint"],
    ["severity", "integer"],
    ["progname", "text"],
    ["message", "text"],
    ["created_at", "bigint"],
  ],
  values: (l) => [l.jobId, l.taskId, l.severity, l.progname, l.message, l.createdAt],
};

/** The job columns `JobQuery.orderBy` names. */
const JOB_ORDER = {
  id: schema.jobs.id,
  created_at: schema.jobs.createdAt,
  updated_at: schema.jobs.updatedAt,
  priority: schema.jobs.priority,
  run_at: schema.jobs.runAt,
} as const;

/** A prepared-once upsert: its SQL text and how to turn rows into column arrays. */
interface Writer<R> {
  readonly text: string;
  readonly spec: Upsert<R>;
  readonly keyIndexes: readonly number[];
  readonly updateIndexes: readonly number[];
}

function writer<R>(spec: Upsert<R>): Writer<R> {
  const names = spec.columns.map(([name]) => name);
  const list = names.map((n) => `"${n}"`).join(", ");
  const arrays = spec.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ");
  let text = `INSERT INTO "${spec.table}" (${list}) SELECT * FROM unnest(${arrays})`;
  if (spec.conflict) {
    const target = spec.conflict.map((n) => `"${n}"`).join(", ");
    const set = (spec.update ?? []).map((n) => `"${n}" = excluded."${n}"`).join(", ");
    text += ` ON CONFLICT (${target}) DO UPDATE SET ${set}`;
  }
  const index = (name: string) => names.indexOf(name);
  return {
    text,
    spec,
    keyIndexes: (spec.conflict ?? []).map(index),
    updateIndexes: (spec.update ?? []).map(index),
  };
}

const WRITERS = {
  tasks: writer(TASKS),
  lanes: writer(LANES),
  batches: writer(BATCHES),
  events: writer(EVENTS),
  meta: writer(META),
  schedules: writer(SCHEDULES),
  scheduleRuns: writer(SCHEDULE_RUNS),
  taskLog: writer(TASK_LOG),
  jobs: writer(JOBS),
  jobLog: writer(JOB_LOG),
};

/**
 * Rows as value tuples, one per conflict key. PostgreSQL refuses an upsert that hits
 * the same row twice, while SQLite applies its per-row upserts in order; merging the
 * later duplicates' update columns into the first one gives SQLite's result.
 */
function tuples<R>(w: Writer<R>, rows: readonly R[]): Value[][] {
  const all = rows.map(w.spec.values);
  if (w.keyIndexes.length === 0 || all.length < 2) return all;
  const byKey = new Map<Value, Value[]>();
  for (const tuple of all) {
    const key =
      w.keyIndexes.length === 1
        ? (tuple[w.keyIndexes[0] ?? 0] ?? "")
        : w.keyIndexes.map((i) => String(tuple[i])).join("\u0000");
    const first = byKey.get(key);
    if (!first) byKey.set(key, tuple);
    else for (const i of w.updateIndexes) first[i] = tuple[i] ?? null;
  }
  return byKey.size === all.length ? all : [...byKey.values()];
}

/** Transposes value tuples into one array per column: unnest's parameters. */
function columns(tuples: readonly Value[][], width: number): Value[][] {
  const out: Value[][] = Array.from({ length: width }, () => new Array<Value>(tuples.length));
  tuples.forEach((tuple, r) => {
    for (let c = 0; c < width; c++) {
      const column = out[c];
      if (column) column[r] = tuple[c] ?? null;
    }
  });
  return out;
}

async function write<R>(tx: postgres.TransactionSql, w: Writer<R>, rows: readonly R[]) {
  if (rows.length === 0) return;
  const all = tuples(w, rows);
  for (let start = 0; start < all.length; start += CHUNK_ROWS) {
    const chunk = all.slice(start, start + CHUNK_ROWS);
    const params = columns(chunk, w.spec.columns.length).map((column, i) =>
      // The driver types a bare array by its first element, so a boolean array would
      // go out as `boolean`, not `boolean[]`; a typed array parameter says which.
      w.spec.columns[i]?.[1] === "boolean" ? tx.array(column, BOOL_OID) : column,
    );
    await tx.unsafe(w.text, params, { prepare: true });
  }
}

/** The cause of a driver error on one line: its message, else its code, else its name. */
function reason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const nested = error instanceof AggregateError ? error.errors.map(reason).join("; ") : "";
  const text = error.message || nested || (typeof code === "string" ? code : error.name);
  return text.replace(/\s+/g, " ").trim();
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/i, "$1:***@");
}

export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  private readonly sql: postgres.Sql;
  private readonly db: PostgresJsDatabase<typeof schema>;
  /** `host:port/database` for error messages. */
  readonly target: string;

  /** Connects lazily: nothing touches the network before `migrate()`. */
  constructor(readonly url: string) {
    if (!/^postgres(ql)?:\/\//i.test(url)) {
      throw new ConfigError(
        `not a PostgreSQL URL: ${redact(url)} (expected postgres:// or postgresql://)`,
      );
    }
    try {
      this.sql = postgres(url, {
        // drizzle's migrator says "already exists, skipping" on every start.
        onnotice: () => {},
        // Seconds; a database that cannot be reached fails start-up in one clear line
        // instead of hanging for the driver's default 30 s.
        connect_timeout: 10,
      });
    } catch (error) {
      throw new ConfigError(`invalid PostgreSQL URL ${redact(url)}: ${reason(error)}`, {
        cause: error,
      });
    }
    const { host, port, database } = this.sql.options;
    const hosts = host.map((h, i) => `${h}:${port[i] ?? port[0] ?? 5432}`).join(",");
    this.target = `${hosts}/${database}`;
    this.db = drizzle({ client: this.sql, schema });
  }

  async migrate(): Promise<void> {
    try {
      await this.sql`SELECT 1`;
    } catch (error) {
      throw new ConfigError(`cannot connect to PostgreSQL at ${this.target}: ${reason(error)}`, {
        cause: error,
      });
    }
    try {
      await migrate(this.db, { migrationsFolder: MIGRATIONS });
    } catch (error) {
      throw new ConfigError(
        `cannot migrate the PostgreSQL database at ${this.target}: ${reason(error)}`,
        { cause: error },
      );
    }
  }

  async commit(set: CommitSet): Promise<void> {
    await this.sql.begin(async (tx) => {
      await write(tx, WRITERS.tasks, set.tasks);
      await write(tx, WRITERS.lanes, set.lanes);
      await write(tx, WRITERS.batches, set.batches);
      await write(tx, WRITERS.events, set.events);
      await write(tx, WRITERS.meta, set.meta);
      await write(tx, WRITERS.schedules, set.schedules ?? []);
      await write(tx, WRITERS.scheduleRuns, set.scheduleRuns ?? []);
      await write(tx, WRITERS.taskLog, set.taskLog ?? []);
      await write(tx, WRITERS.jobs, set.jobs ?? []);
      await write(tx, WRITERS.jobLog, set.jobLog ?? []);
      // After the upserts, as SQLite does: a task both written (or logged) and deleted
      // in one set ends up deleted, log and all.
      if (set.deletedTasks.length > 0) {
        const ids = [[...set.deletedTasks]];
        await tx.unsafe("DELETE FROM tasks WHERE id = ANY($1::bigint[])", ids, { prepare: true });
        await tx.unsafe("DELETE FROM task_log WHERE task_id = ANY($1::bigint[])", ids, {
          prepare: true,
        });
      }
    });
  }

  async counters(): Promise<Counters> {
    const [row] = await this.sql<
      { task: string | null; batch: string | null; seq: string | null }[]
    >`
      SELECT (SELECT max(id) FROM tasks) AS task, (SELECT max(id) FROM batches) AS batch,
             (SELECT max(seq) FROM events) AS seq`;
    const seqFromMeta = Number((await this.getMeta("eventSeq")) ?? 0) || 0;
    // Deleted (cleaned) tasks leave a mark so their ids are never handed out again.
    const taskFromMeta = Number((await this.getMeta("taskId")) ?? 0) || 0;
    return {
      taskId: Math.max(Number(row?.task ?? 0), taskFromMeta),
      batchId: Number(row?.batch ?? 0),
      eventSeq: Math.max(Number(row?.seq ?? 0), seqFromMeta),
    };
  }

  async getTask(id: number): Promise<TaskRow | undefined> {
    const t = schema.tasks;
    const [row] = await this.db.select().from(t).where(eq(t.id, id)).limit(1);
    return row;
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
    return this.db.select().from(t).where(where).orderBy(desc(t.id)).limit(query.limit);
  }

  async liveTasks(scheduledAfter: number): Promise<TaskRow[]> {
    const t = schema.tasks;
    return this.db
      .select()
      .from(t)
      .where(
        and(
          notInArray(t.state, [...FINAL_TASK_STATES]),
          or(q`${t.state} <> 'scheduled'`, lte(t.executeAt, scheduledAfter)),
        ),
      )
      .orderBy(asc(t.id));
  }

  async forEachScheduled(
    after: number,
    visit: (id: number, executeAt: number) => void,
  ): Promise<number> {
    let count = 0;
    // A cursor keeps memory flat however many millions of tasks are scheduled.
    await this.sql<{ id: string; execute_at: string }[]>`
      SELECT id, execute_at FROM tasks WHERE state = 'scheduled' AND execute_at > ${after}`.cursor(
      CURSOR_ROWS,
      (rows) => {
        for (const row of rows) {
          visit(Number(row.id), Number(row.execute_at));
          count++;
        }
      },
    );
    return count;
  }

  async lanes(): Promise<LaneRow[]> {
    return this.db.select().from(schema.lanes);
  }

  async openBatches(): Promise<BatchRow[]> {
    const b = schema.batches;
    return this.db.select().from(b).where(q`${b.finishedAt} IS NULL`);
  }

  async getBatch(id: number): Promise<BatchRow | undefined> {
    const b = schema.batches;
    const [row] = await this.db.select().from(b).where(eq(b.id, id)).limit(1);
    return row;
  }

  async listBatches(tenant: string, kind: string, limit: number): Promise<BatchRow[]> {
    const b = schema.batches;
    return this.db
      .select()
      .from(b)
      .where(and(eq(b.tenant, tenant), eq(b.kind, kind)))
      .orderBy(desc(b.id))
      .limit(limit);
  }

  async schedules(): Promise<ScheduleRow[]> {
    const c = schema.schedules;
    return this.db
      .select()
      .from(c)
      .where(ne(c.state, "deleted"))
      .orderBy(asc(c.createdAt), asc(c.id));
  }

  async latestRuns(scheduleId: string): Promise<ScheduleRunRow[]> {
    const r = schema.scheduleRuns;
    // DISTINCT ON keeps the first row per agent in (agent, seq desc) order: its newest.
    return this.db
      .selectDistinctOn([r.agentId])
      .from(r)
      .where(eq(r.scheduleId, scheduleId))
      .orderBy(asc(r.agentId), desc(r.seq));
  }

  async runs(scheduleId: string, limit: number): Promise<ScheduleRunRow[]> {
    const r = schema.scheduleRuns;
    return this.db
      .select()
      .from(r)
      .where(eq(r.scheduleId, scheduleId))
      .orderBy(desc(r.seq))
      .limit(limit);
  }

  async taskLog(taskId: number, limit: number): Promise<TaskLogRow[]> {
    const l = schema.taskLog;
    return this.db.select().from(l).where(eq(l.taskId, taskId)).orderBy(asc(l.seq)).limit(limit);
  }

  async openJobs(): Promise<JobRow[]> {
    const j = schema.jobs;
    return this.db
      .select()
      .from(j)
      .where(notInArray(j.state, ["completed", "broken"]))
      .orderBy(asc(j.id));
  }

  async getJob(id: number): Promise<JobRow | undefined> {
    const j = schema.jobs;
    const [row] = await this.db.select().from(j).where(eq(j.id, id)).limit(1);
    return row;
  }

  async listJobs(query: JobQuery): Promise<JobRow[]> {
    const j = schema.jobs;
    const where = and(
      query.client === undefined ? undefined : eq(j.client, query.client),
      query.states === undefined ? undefined : inArray(j.state, [...query.states]),
      query.failed === undefined ? undefined : eq(j.failed, query.failed),
      query.from === undefined ? undefined : gte(j.createdAt, query.from),
      query.to === undefined ? undefined : lte(j.createdAt, query.to),
      // strpos: a case-sensitive substring with no wildcards, as SQLite's instr.
      query.search === undefined ? undefined : q`strpos(${j.parameters}, ${query.search}) > 0`,
      query.ids === undefined ? undefined : inArray(j.id, [...query.ids]),
    );
    const direction = query.ascending ? asc : desc;
    return this.db
      .select()
      .from(j)
      .where(where)
      .orderBy(direction(JOB_ORDER[query.orderBy]), direction(j.id))
      .limit(query.limit);
  }

  async maxJobId(): Promise<number> {
    const [row] = await this.sql<{ id: string | null }[]>`SELECT max(id) AS id FROM jobs`;
    return Number(row?.id ?? 0);
  }

  async jobCounts(): Promise<Record<string, number>> {
    const rows = await this.sql<{ state: string; n: string }[]>`
      SELECT CASE WHEN failed THEN 'failed' ELSE state END AS state, count(*) AS n
      FROM jobs GROUP BY 1`;
    return Object.fromEntries(rows.map((row) => [row.state, Number(row.n)]));
  }

  async jobLog(jobId: number, limit: number): Promise<JobLogRow[]> {
    const l = schema.jobLogs;
    return this.db.select().from(l).where(eq(l.jobId, jobId)).orderBy(asc(l.id)).limit(limit);
  }

  async entityEvents(kind: string, entityId: string, limit: number): Promise<EventRow[]> {
    const e = schema.events;
    return this.db
      .select()
      .from(e)
      .where(and(eq(e.kind, kind), eq(e.entityId, entityId)))
      .orderBy(desc(e.seq))
      .limit(limit);
  }

  async eventsAfter(seq: number, limit: number): Promise<EventRow[]> {
    const e = schema.events;
    return this.db.select().from(e).where(gt(e.seq, seq)).orderBy(asc(e.seq)).limit(limit);
  }

  async getMeta(key: string): Promise<string | undefined> {
    const m = schema.meta;
    const [row] = await this.db.select().from(m).where(eq(m.key, key)).limit(1);
    return row?.value;
  }

  async trimScheduleRuns(keepPerAgent: number): Promise<number> {
    const deleted = await this.sql.unsafe(TRIM_SCHEDULE_RUNS, [keepPerAgent]);
    return deleted.count;
  }

  async compactEvents(before: number): Promise<number> {
    // One snapshot for the max and the delete: under READ COMMITTED the delete could
    // remove events committed after the max was read, and the sequence could go back.
    return this.sql.begin("isolation level repeatable read", async (tx) => {
      const [last] = await tx<{ seq: string | null }[]>`SELECT max(seq) AS seq FROM events`;
      // Keep the sequence monotonic even when compaction empties the table; never
      // lower a mark someone else raised.
      if (last?.seq) {
        await tx`
          INSERT INTO meta (key, value) VALUES ('eventSeq', ${last.seq})
          ON CONFLICT (key) DO UPDATE SET value = excluded.value
          WHERE CASE WHEN meta.value ~ '^[0-9]+$'
                THEN meta.value::numeric < excluded.value::numeric ELSE true END`;
      }
      const deleted = await tx`DELETE FROM events WHERE at < ${before}`;
      return deleted.count;
    });
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}
