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
  (t) => [index("events_entity").on(t.kind, t.entityId)],
);

/** Small engine-wide values: counters, generated keys. */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});
