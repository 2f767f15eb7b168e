/**
 * The behaviour every Store implementation owes the engine, run against each of them
 * on a real database. Each test gets a fresh, migrated store.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  BatchRow,
  CommitSet,
  EventRow,
  JobLogRow,
  JobQuery,
  JobRow,
  LaneRow,
  MetaRow,
  NewJobLogEntry,
  NewScheduleRun,
  NewTaskLogEntry,
  ScheduleRow,
  ScheduleRunRow,
  Store,
  TaskLogRow,
  TaskRow,
} from "../../../src/store/store";

export interface OpenedStore {
  readonly store: Store;
  cleanup(): Promise<void>;
}

/** Millisecond times past 2^32, so a column that truncates to 32 bits shows. */
const T0 = 1_750_000_000_000;

export function task(id: number, fields: Partial<TaskRow> = {}): TaskRow {
  return {
    id,
    tenant: "acme",
    name: `task-${id}`,
    state: "ready",
    outcome: null,
    lane: null,
    agentId: null,
    batchId: null,
    jobId: null,
    parentId: null,
    refId: null,
    priority: 0,
    executeAt: T0,
    createdAt: T0,
    updatedAt: T0,
    finishedAt: null,
    snapshot: JSON.stringify({ id, value: "ready" }),
    ...fields,
  };
}

export function lane(key: string, fields: Partial<LaneRow> = {}): LaneRow {
  return {
    tenant: "acme",
    key,
    state: "idle",
    updatedAt: T0,
    snapshot: JSON.stringify({ key }),
    ...fields,
  };
}

export function batch(id: number, fields: Partial<BatchRow> = {}): BatchRow {
  return {
    id,
    tenant: "acme",
    kind: "",
    state: "running",
    createdAt: T0,
    updatedAt: T0,
    finishedAt: null,
    snapshot: JSON.stringify({ batch: id }),
    ...fields,
  };
}

export function event(seq: number, fields: Partial<EventRow> = {}): EventRow {
  return {
    seq,
    kind: "task",
    entityId: String(seq),
    event: "started",
    state: "running",
    tenant: "acme",
    at: T0 + seq,
    data: null,
    ...fields,
  };
}

export function schedule(id: string, fields: Partial<ScheduleRow> = {}): ScheduleRow {
  return {
    id,
    tenant: "acme",
    state: "active",
    createdAt: T0,
    updatedAt: T0,
    snapshot: JSON.stringify({ schedule: id }),
    ...fields,
  };
}

export function scheduleRun(fields: Partial<NewScheduleRun> = {}): NewScheduleRun {
  return {
    scheduleId: "s-1",
    tenant: "acme",
    agentId: "agent-a",
    taskId: 1,
    startedAt: T0,
    completedAt: T0 + 1,
    stdout: "",
    stderr: "",
    exitCode: 0,
    ok: true,
    ...fields,
  };
}

export function logEntry(fields: Partial<NewTaskLogEntry> = {}): NewTaskLogEntry {
  return {
    taskId: 1,
    tenant: "acme",
    at: T0,
    action: "awf.task/start",
    statusBefore: "ready",
    statusAfter: "running",
    params: JSON.stringify({ executor: "shell" }),
    ...fields,
  };
}

export function job(id: number, fields: Partial<JobRow> = {}): JobRow {
  return {
    id,
    client: "acme",
    workflow: "vodstream",
    state: "queued",
    priority: 5,
    failed: false,
    runAt: T0,
    createdAt: T0,
    updatedAt: T0,
    parameters: JSON.stringify({ content_id: `c-${id}`, rest_endpoints: [] }),
    snapshot: JSON.stringify({ job: id, value: "queued" }),
    ...fields,
  };
}

export function jobLogEntry(fields: Partial<NewJobLogEntry> = {}): NewJobLogEntry {
  return {
    jobId: 1,
    taskId: 0,
    severity: 1,
    progname: "api",
    message: "job created",
    createdAt: T0,
    ...fields,
  };
}

/** A run as read back: what was appended, plus the seq the store gave it. */
const withoutSeq = ({ seq: _, ...run }: ScheduleRunRow): NewScheduleRun => run;
/** A log entry as read back, without the seq the store gave it. */
const entryWithoutSeq = ({ seq: _, ...entry }: TaskLogRow): NewTaskLogEntry => entry;
/** A job log line as read back, without the id the store gave it. */
const lineWithoutId = ({ id: _, ...line }: JobLogRow): NewJobLogEntry => line;

export function commitSet(parts: Partial<CommitSet>): CommitSet {
  return { tasks: [], lanes: [], batches: [], events: [], meta: [], deletedTasks: [], ...parts };
}

const ids = (rows: readonly { id: number }[]) => rows.map((r) => r.id);

export function storeContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`${name} store contract`, () => {
    let opened: OpenedStore | undefined;
    let store: Store;

    beforeEach(async () => {
      opened = await open();
      store = opened.store;
      await store.migrate();
    });

    afterEach(async () => {
      await opened?.cleanup();
      opened = undefined;
    });

    describe("migrate", () => {
      it("can run again on a migrated database without losing rows", async () => {
        await store.commit(commitSet({ tasks: [task(1)] }));
        await store.migrate();
        expect(await store.getTask(1)).toEqual(task(1));
      });

      it("starts empty: zero counters, no rows", async () => {
        expect(await store.counters()).toEqual({ taskId: 0, batchId: 0, eventSeq: 0 });
        expect(await store.getTask(1)).toBeUndefined();
        expect(await store.getBatch(1)).toBeUndefined();
        expect(await store.getMeta("eventSeq")).toBeUndefined();
        expect(await store.lanes()).toEqual([]);
        expect(await store.openBatches()).toEqual([]);
        expect(await store.eventsAfter(0, 10)).toEqual([]);
        expect(await store.listTasks({ limit: 10 })).toEqual([]);
      });
    });

    describe("commit", () => {
      it("round-trips every task column, nulls and large millisecond times as numbers", async () => {
        const full = task(7, {
          tenant: "globex",
          name: "deploy",
          state: "running.executing",
          outcome: "ok",
          lane: "host-1",
          agentId: "agent-a",
          batchId: 3,
          jobId: 4,
          parentId: 5,
          refId: "ref-9",
          priority: -2,
          executeAt: T0 + 1,
          createdAt: T0 + 2,
          updatedAt: T0 + 3,
          finishedAt: T0 + 4,
          snapshot: JSON.stringify({ quote: '"', backslash: "\\", comma: ",", text: "NULL" }),
        });
        await store.commit(commitSet({ tasks: [full, task(8)] }));
        const back = await store.getTask(7);
        expect(back).toEqual(full);
        expect(typeof back?.executeAt).toBe("number");
        expect(typeof back?.id).toBe("number");
        expect(await store.getTask(8)).toEqual(task(8));
      });

      it("updates a task committed again and keeps its identity columns and created_at", async () => {
        const first = task(1, { batchId: 2, jobId: 3, parentId: 4, refId: "r", createdAt: T0 });
        await store.commit(commitSet({ tasks: [first] }));
        const second = task(1, {
          tenant: "other",
          name: "renamed",
          state: "done",
          outcome: "ok",
          lane: "l",
          agentId: "a",
          batchId: 20,
          jobId: 30,
          parentId: 40,
          refId: "r2",
          priority: 9,
          executeAt: T0 + 10,
          createdAt: T0 + 99,
          updatedAt: T0 + 100,
          finishedAt: T0 + 100,
          snapshot: '{"v":"done"}',
        });
        await store.commit(commitSet({ tasks: [second] }));
        expect(await store.getTask(1)).toEqual({
          ...second,
          tenant: first.tenant,
          name: first.name,
          batchId: first.batchId,
          jobId: first.jobId,
          parentId: first.parentId,
          refId: first.refId,
          createdAt: first.createdAt,
        });
        expect((await store.listTasks({ limit: 10 })).length).toBe(1);
      });

      it("applies a task named twice in one set in order: the later state wins", async () => {
        await store.commit(
          commitSet({
            tasks: [
              task(1, { state: "ready", createdAt: T0 }),
              task(1, { state: "running", createdAt: T0 + 5, updatedAt: T0 + 5 }),
            ],
            lanes: [lane("k", { state: "idle" }), lane("k", { state: "busy" })],
            meta: [
              { key: "m", value: "1" },
              { key: "m", value: "2" },
            ],
          }),
        );
        expect(await store.getTask(1)).toMatchObject({
          state: "running",
          updatedAt: T0 + 5,
          createdAt: T0,
        });
        expect((await store.lanes()).map((l) => l.state)).toEqual(["busy"]);
        expect(await store.getMeta("m")).toBe("2");
      });

      it("upserts lanes by (tenant, key), batches by id and meta by key", async () => {
        await store.commit(
          commitSet({
            lanes: [lane("a"), lane("a", { tenant: "globex" })],
            batches: [batch(1)],
            meta: [{ key: "k", value: "v1" }],
          }),
        );
        await store.commit(
          commitSet({
            lanes: [lane("a", { state: "paused", updatedAt: T0 + 1, snapshot: "{}" })],
            batches: [
              batch(1, {
                state: "done",
                createdAt: T0 + 50,
                updatedAt: T0 + 2,
                finishedAt: T0 + 2,
                snapshot: "{}",
              }),
            ],
            meta: [{ key: "k", value: "v2" }],
          }),
        );
        const lanes = (await store.lanes()).sort((x, y) => x.tenant.localeCompare(y.tenant));
        expect(lanes).toEqual([
          lane("a", { state: "paused", updatedAt: T0 + 1, snapshot: "{}" }),
          lane("a", { tenant: "globex" }),
        ]);
        expect(await store.getBatch(1)).toEqual(
          batch(1, { state: "done", updatedAt: T0 + 2, finishedAt: T0 + 2, snapshot: "{}" }),
        );
        expect(await store.getMeta("k")).toBe("v2");
      });

      // One invalid row per table in turn, so a table written outside the transaction
      // shows up whatever order an implementation writes the tables in.
      const missing = null as unknown as string;
      const breakers: Record<string, Partial<CommitSet>> = {
        tasks: { tasks: [task(6, { tenant: missing })] },
        lanes: { lanes: [lane("y", { state: missing })] },
        batches: { batches: [batch(6, { state: missing })] },
        // seq 1 is already in the journal: the append must fail.
        events: { events: [event(1)] },
        meta: { meta: [{ key: "broken", value: missing }] },
        schedules: { schedules: [schedule("s-broken", { state: missing })] },
        scheduleRuns: { scheduleRuns: [scheduleRun({ agentId: missing })] },
        taskLog: { taskLog: [logEntry({ action: missing })] },
        jobs: { jobs: [job(6, { state: missing })] },
        jobLog: { jobLog: [jobLogEntry({ message: missing })] },
      };
      for (const [table, breaker] of Object.entries(breakers)) {
        it(`writes nothing of a set whose ${table} fail: one transaction`, async () => {
          await store.commit(commitSet({ tasks: [task(1)], events: [event(1)] }));
          const failing: CommitSet = {
            tasks: [task(5), ...(breaker.tasks ?? [])],
            lanes: [lane("x"), ...(breaker.lanes ?? [])],
            batches: [batch(5), ...(breaker.batches ?? [])],
            events: [event(2), ...(breaker.events ?? [])],
            meta: [{ key: "k", value: "v" }, ...(breaker.meta ?? [])],
            deletedTasks: [1],
            schedules: [schedule("s-x"), ...(breaker.schedules ?? [])],
            scheduleRuns: [scheduleRun({ scheduleId: "s-x" }), ...(breaker.scheduleRuns ?? [])],
            taskLog: [logEntry({ taskId: 5 }), ...(breaker.taskLog ?? [])],
            jobs: [job(5), ...(breaker.jobs ?? [])],
            jobLog: [jobLogEntry({ jobId: 5 }), ...(breaker.jobLog ?? [])],
          };
          await expect(store.commit(failing)).rejects.toThrow();
          expect(await store.getTask(5)).toBeUndefined();
          expect(await store.getTask(1)).toEqual(task(1));
          expect(await store.getBatch(5)).toBeUndefined();
          expect(await store.lanes()).toEqual([]);
          expect(await store.getMeta("k")).toBeUndefined();
          expect((await store.eventsAfter(0, 10)).map((e) => e.seq)).toEqual([1]);
          expect(await store.schedules()).toEqual([]);
          expect(await store.runs("s-x", 10)).toEqual([]);
          expect(await store.taskLog(5, 10)).toEqual([]);
          expect(await store.getJob(5)).toBeUndefined();
          expect(await store.maxJobId()).toBe(0);
          expect(await store.jobLog(5, 10)).toEqual([]);
          // The store still works after a failed commit.
          await store.commit(commitSet({ tasks: [task(5)] }));
          expect(await store.getTask(5)).toEqual(task(5));
        });
      }

      it("deletes the tasks named in deletedTasks, after the set's upserts", async () => {
        await store.commit(commitSet({ tasks: [task(1), task(2), task(3)] }));
        await store.commit(
          commitSet({
            tasks: [task(4), task(2, { state: "done" })],
            deletedTasks: [2, 3, 99],
          }),
        );
        expect(await store.getTask(2)).toBeUndefined();
        expect(await store.getTask(3)).toBeUndefined();
        expect(ids(await store.listTasks({ limit: 10 }))).toEqual([4, 1]);
        // A deleted id can be written again later.
        await store.commit(commitSet({ tasks: [task(3, { state: "running" })] }));
        expect(await store.getTask(3)).toEqual(task(3, { state: "running" }));
      });

      it("accepts an empty set", async () => {
        await store.commit(commitSet({}));
        expect(await store.counters()).toEqual({ taskId: 0, batchId: 0, eventSeq: 0 });
      });

      it("round-trips 5,000 tasks and 5,000 events committed in one set", async () => {
        const n = 5_000;
        const tasks = Array.from({ length: n }, (_, i) =>
          task(i + 1, {
            state: i % 2 === 0 ? "scheduled" : "done",
            executeAt: T0 + i,
            batchId: 1,
            snapshot: JSON.stringify({ i, pad: "x".repeat(100) }),
          }),
        );
        const events = Array.from({ length: n }, (_, i) => event(i + 1));
        await store.commit(commitSet({ tasks, events, batches: [batch(1)] }));
        expect(await store.counters()).toEqual({ taskId: n, batchId: 1, eventSeq: n });
        for (const id of [1, 1_000, 1_001, 2_500, n]) {
          expect(await store.getTask(id)).toEqual(tasks[id - 1]);
        }
        expect(ids(await store.listTasks({ batchId: 1, limit: 3 }))).toEqual([n, n - 1, n - 2]);
        const journal = await store.eventsAfter(0, n + 1);
        expect(journal.length).toBe(n);
        expect(journal.at(-1)).toEqual(events.at(-1));
        let visited = 0;
        expect(await store.forEachScheduled(0, () => visited++)).toBe(n / 2);
        expect(visited).toBe(n / 2);
      });
    });

    describe("events", () => {
      it("appends events and reads them after a seq, oldest first, up to a limit", async () => {
        await store.commit(commitSet({ events: [event(3), event(1), event(2)] }));
        await store.commit(
          commitSet({ events: [event(4, { data: '{"x":1}' }), event(5, { kind: "lane" })] }),
        );
        expect(await store.eventsAfter(0, 100)).toEqual([
          event(1),
          event(2),
          event(3),
          event(4, { data: '{"x":1}' }),
          event(5, { kind: "lane" }),
        ]);
        expect((await store.eventsAfter(2, 2)).map((e) => e.seq)).toEqual([3, 4]);
        expect(await store.eventsAfter(5, 10)).toEqual([]);
      });
    });

    describe("counters", () => {
      it("reports the highest task id, batch id and event seq committed", async () => {
        await store.commit(
          commitSet({
            tasks: [task(3), task(10), task(7)],
            batches: [batch(4), batch(2)],
            events: [event(11), event(12)],
          }),
        );
        expect(await store.counters()).toEqual({ taskId: 10, batchId: 4, eventSeq: 12 });
        await store.commit(commitSet({ tasks: [task(11)], events: [event(13)] }));
        expect(await store.counters()).toEqual({ taskId: 11, batchId: 4, eventSeq: 13 });
      });
    });

    describe("listTasks", () => {
      beforeEach(async () => {
        await store.commit(
          commitSet({
            tasks: [
              task(1, { tenant: "a", state: "ready", lane: "l1", batchId: 1 }),
              task(2, { tenant: "a", state: "done", lane: "l1", batchId: 1 }),
              task(3, { tenant: "b", state: "running.executing", lane: "l2" }),
              task(4, { tenant: "a", state: "failed", batchId: 2 }),
              task(5, { tenant: "b", state: "ready", lane: "l1", batchId: 1 }),
              task(6, { tenant: "a", state: "scheduled" }),
            ],
          }),
        );
      });

      it("lists newest first up to the limit", async () => {
        expect(ids(await store.listTasks({ limit: 10 }))).toEqual([6, 5, 4, 3, 2, 1]);
        expect(ids(await store.listTasks({ limit: 2 }))).toEqual([6, 5]);
      });

      it("filters by tenant, states, lane and batch, combined", async () => {
        expect(ids(await store.listTasks({ tenant: "a", limit: 10 }))).toEqual([6, 4, 2, 1]);
        expect(ids(await store.listTasks({ states: ["ready", "failed"], limit: 10 }))).toEqual([
          5, 4, 1,
        ]);
        expect(ids(await store.listTasks({ states: [], limit: 10 }))).toEqual([]);
        expect(ids(await store.listTasks({ lane: "l1", limit: 10 }))).toEqual([5, 2, 1]);
        expect(ids(await store.listTasks({ batchId: 1, limit: 10 }))).toEqual([5, 2, 1]);
        expect(
          ids(await store.listTasks({ tenant: "a", lane: "l1", states: ["ready"], limit: 10 })),
        ).toEqual([1]);
      });

      it("pages with beforeId", async () => {
        const page1 = await store.listTasks({ limit: 4 });
        expect(ids(page1)).toEqual([6, 5, 4, 3]);
        const page2 = await store.listTasks({ beforeId: 3, limit: 4 });
        expect(ids(page2)).toEqual([2, 1]);
        expect(ids(await store.listTasks({ tenant: "b", beforeId: 5, limit: 4 }))).toEqual([3]);
      });
    });

    describe("recovery queries", () => {
      const NOW = T0 + 1_000_000;
      beforeEach(async () => {
        await store.commit(
          commitSet({
            tasks: [
              task(1, { state: "scheduled", executeAt: NOW - 10 }),
              task(2, { state: "scheduled", executeAt: NOW }),
              task(3, { state: "scheduled", executeAt: NOW + 1 }),
              task(4, { state: "scheduled", executeAt: NOW + 86_400_000 }),
              task(5, { state: "ready", executeAt: NOW + 86_400_000 }),
              task(6, { state: "running.executing" }),
              task(7, { state: "paused" }),
              task(8, { state: "dispatched" }),
              task(9, { state: "done" }),
              task(10, { state: "failed" }),
              task(11, { state: "cancelled" }),
              task(12, { state: "timedOut", executeAt: NOW - 10 }),
            ],
          }),
        );
      });

      it("liveTasks: every non-final task except scheduled ones due after the threshold", async () => {
        expect(ids(await store.liveTasks(NOW))).toEqual([1, 2, 5, 6, 7, 8]);
        expect(ids(await store.liveTasks(NOW + 86_400_000))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      });

      it("forEachScheduled visits exactly the scheduled tasks due after the threshold", async () => {
        const seen = new Map<number, number>();
        const count = await store.forEachScheduled(NOW, (id, executeAt) => {
          seen.set(id, executeAt);
        });
        expect(count).toBe(2);
        expect([...seen].sort((x, y) => x[0] - y[0])).toEqual([
          [3, NOW + 1],
          [4, NOW + 86_400_000],
        ]);
        expect(await store.forEachScheduled(NOW + 86_400_000, () => {})).toBe(0);
      });

      it("liveTasks and forEachScheduled together cover each non-final task exactly once", async () => {
        for (const threshold of [NOW - 100, NOW, NOW + 1, NOW + 86_400_000]) {
          const live = ids(await store.liveTasks(threshold));
          const timed: number[] = [];
          await store.forEachScheduled(threshold, (id) => timed.push(id));
          expect([...live, ...timed].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        }
      });
    });

    describe("lanes and batches", () => {
      it("lists every lane", async () => {
        await store.commit(
          commitSet({ lanes: [lane("b"), lane("a"), lane("a", { tenant: "x" })] }),
        );
        const keys = (await store.lanes()).map((l) => `${l.tenant}/${l.key}`).sort();
        expect(keys).toEqual(["acme/a", "acme/b", "x/a"]);
      });

      it("openBatches lists only batches without finishedAt; getBatch finds any", async () => {
        await store.commit(
          commitSet({
            batches: [
              batch(1),
              batch(2, { state: "done", finishedAt: T0 + 5 }),
              batch(3, { state: "waiting" }),
            ],
          }),
        );
        const open = (await store.openBatches()).sort((x, y) => x.id - y.id);
        expect(open).toEqual([batch(1), batch(3, { state: "waiting" })]);
        expect(await store.getBatch(2)).toEqual(batch(2, { state: "done", finishedAt: T0 + 5 }));
        expect(await store.getBatch(4)).toBeUndefined();
        await store.commit(commitSet({ batches: [batch(1, { finishedAt: T0 + 9 })] }));
        expect(ids(await store.openBatches())).toEqual([3]);
      });

      it("listBatches lists one tenant's batches of one kind, newest first, up to a limit", async () => {
        await store.commit(
          commitSet({
            batches: [
              batch(1, { kind: "hostTask" }),
              batch(2, { kind: "xina" }),
              batch(3, { kind: "hostTask" }),
              batch(4, { kind: "hostTask", tenant: "other" }),
              batch(5, { kind: "hostTask" }),
            ],
          }),
        );
        expect(ids(await store.listBatches("acme", "hostTask", 10))).toEqual([5, 3, 1]);
        expect(ids(await store.listBatches("acme", "hostTask", 2))).toEqual([5, 3]);
        expect(ids(await store.listBatches("acme", "xina", 10))).toEqual([2]);
        expect(await store.listBatches("acme", "", 10)).toEqual([]);
      });
    });

    describe("entity events", () => {
      it("entityEvents lists one entity's events newest first, up to a limit", async () => {
        await store.commit(
          commitSet({
            events: [
              event(1, { kind: "task", entityId: "7" }),
              event(2, { kind: "task", entityId: "8" }),
              event(3, { kind: "task", entityId: "7" }),
              event(4, { kind: "job", entityId: "7" }),
              event(5, { kind: "task", entityId: "7" }),
            ],
          }),
        );
        const seqs = (rows: { seq: number }[]) => rows.map((r) => r.seq);
        expect(seqs(await store.entityEvents("task", "7", 10))).toEqual([5, 3, 1]);
        expect(seqs(await store.entityEvents("task", "7", 2))).toEqual([5, 3]);
        expect(seqs(await store.entityEvents("job", "7", 10))).toEqual([4]);
      });
    });

    describe("schedules", () => {
      it("starts with no schedules and no runs", async () => {
        expect(await store.schedules()).toEqual([]);
        expect(await store.latestRuns("s-1")).toEqual([]);
        expect(await store.runs("s-1", 10)).toEqual([]);
      });

      it("upserts schedules by id, keeping tenant and created_at; lists them oldest first", async () => {
        await store.commit(
          commitSet({
            schedules: [
              schedule("s-2", { createdAt: T0 + 5 }),
              schedule("s-1", { tenant: "globex" }),
            ],
          }),
        );
        await store.commit(
          commitSet({
            schedules: [
              schedule("s-2", {
                tenant: "other",
                state: "paused",
                createdAt: T0 + 99,
                updatedAt: T0 + 100,
                snapshot: '{"v":"paused"}',
              }),
            ],
          }),
        );
        expect(await store.schedules()).toEqual([
          schedule("s-1", { tenant: "globex" }),
          schedule("s-2", {
            state: "paused",
            createdAt: T0 + 5,
            updatedAt: T0 + 100,
            snapshot: '{"v":"paused"}',
          }),
        ]);
      });

      it("applies a schedule named twice in one set in order: the later state wins", async () => {
        await store.commit(
          commitSet({
            schedules: [
              schedule("s-1", { state: "active" }),
              schedule("s-1", { state: "paused", updatedAt: T0 + 1 }),
            ],
          }),
        );
        expect(await store.schedules()).toEqual([
          schedule("s-1", { state: "paused", updatedAt: T0 + 1 }),
        ]);
      });

      it("leaves deleted schedules out of the list, and keeps their runs readable", async () => {
        await store.commit(
          commitSet({
            schedules: [schedule("s-1"), schedule("s-2")],
            scheduleRuns: [scheduleRun({ scheduleId: "s-1" })],
          }),
        );
        await store.commit(
          commitSet({ schedules: [schedule("s-1", { state: "deleted", updatedAt: T0 + 1 })] }),
        );
        expect((await store.schedules()).map((c) => c.id)).toEqual(["s-2"]);
        expect((await store.runs("s-1", 10)).map(withoutSeq)).toEqual([
          scheduleRun({ scheduleId: "s-1" }),
        ]);
      });

      it("round-trips every run column: nulls, false, large times, long output", async () => {
        const full = scheduleRun({
          scheduleId: "s-9",
          tenant: "globex",
          agentId: "agent-z",
          taskId: null,
          startedAt: T0 + 10,
          completedAt: T0 + 20,
          stdout: `${"x".repeat(70_000)}\n"quoted", back\\slash`,
          stderr: "NULL",
          exitCode: null,
          ok: false,
        });
        await store.commit(commitSet({ scheduleRuns: [full, scheduleRun({ scheduleId: "s-9" })] }));
        const [newest, oldest] = await store.runs("s-9", 10);
        expect(newest && withoutSeq(newest)).toEqual(scheduleRun({ scheduleId: "s-9" }));
        expect(oldest && withoutSeq(oldest)).toEqual(full);
        expect(typeof oldest?.seq).toBe("number");
        expect(typeof oldest?.ok).toBe("boolean");
      });

      it("gives runs increasing seqs in append order, across commits", async () => {
        await store.commit(
          commitSet({
            scheduleRuns: [
              scheduleRun({ stdout: "1" }),
              scheduleRun({ stdout: "2" }),
              scheduleRun({ stdout: "3" }),
            ],
          }),
        );
        await store.commit(commitSet({ scheduleRuns: [scheduleRun({ stdout: "4" })] }));
        const runs = await store.runs("s-1", 10);
        expect(runs.map((r) => r.stdout)).toEqual(["4", "3", "2", "1"]);
        const seqs = runs.map((r) => r.seq);
        expect([...seqs].sort((x, y) => y - x)).toEqual(seqs);
        expect(new Set(seqs).size).toBe(4);
      });

      it("runs lists one schedule's runs newest first, up to the limit", async () => {
        await store.commit(
          commitSet({
            scheduleRuns: [
              scheduleRun({ scheduleId: "s-1", stdout: "a" }),
              scheduleRun({ scheduleId: "s-2", stdout: "other" }),
              scheduleRun({ scheduleId: "s-1", agentId: "agent-b", stdout: "b" }),
              scheduleRun({ scheduleId: "s-1", stdout: "c" }),
            ],
          }),
        );
        expect((await store.runs("s-1", 10)).map((r) => r.stdout)).toEqual(["c", "b", "a"]);
        expect((await store.runs("s-1", 2)).map((r) => r.stdout)).toEqual(["c", "b"]);
        expect((await store.runs("s-2", 10)).map((r) => r.stdout)).toEqual(["other"]);
        expect(await store.runs("s-3", 10)).toEqual([]);
      });

      it("trimScheduleRuns keeps the newest runs per schedule and agent, none of deleted schedules", async () => {
        await store.commit(
          commitSet({
            schedules: [schedule("s-1"), schedule("s-2"), schedule("s-gone", { state: "deleted" })],
            scheduleRuns: [
              scheduleRun({ stdout: "a1" }),
              scheduleRun({ agentId: "agent-b", stdout: "b1" }),
              scheduleRun({ stdout: "a2" }),
              scheduleRun({ scheduleId: "s-2", stdout: "other1" }),
              scheduleRun({ stdout: "a3" }),
              scheduleRun({ scheduleId: "s-gone", stdout: "gone" }),
            ],
          }),
        );
        expect(await store.trimScheduleRuns(2)).toBe(2);
        expect((await store.runs("s-1", 10)).map((r) => r.stdout)).toEqual(["a3", "a2", "b1"]);
        expect((await store.runs("s-2", 10)).map((r) => r.stdout)).toEqual(["other1"]);
        expect(await store.runs("s-gone", 10)).toEqual([]);
        expect(await store.trimScheduleRuns(2)).toBe(0);
        expect(await store.trimScheduleRuns(1)).toBe(1);
        expect((await store.runs("s-1", 10)).map((r) => r.stdout)).toEqual(["a3", "b1"]);
      });

      it("latestRuns has the newest run of each agent, by agent id", async () => {
        await store.commit(
          commitSet({
            scheduleRuns: [
              scheduleRun({ agentId: "agent-b", stdout: "b1" }),
              scheduleRun({ agentId: "agent-a", stdout: "a1" }),
              scheduleRun({ agentId: "agent-b", stdout: "b2" }),
              scheduleRun({ scheduleId: "s-2", agentId: "agent-c", stdout: "elsewhere" }),
            ],
          }),
        );
        await store.commit(
          commitSet({ scheduleRuns: [scheduleRun({ agentId: "agent-a", stdout: "a2" })] }),
        );
        const latest = await store.latestRuns("s-1");
        expect(latest.map((r) => [r.agentId, r.stdout])).toEqual([
          ["agent-a", "a2"],
          ["agent-b", "b2"],
        ]);
        expect((await store.latestRuns("s-2")).map((r) => r.stdout)).toEqual(["elsewhere"]);
      });
    });

    describe("task log", () => {
      it("starts with no entries", async () => {
        expect(await store.taskLog(1, 10)).toEqual([]);
      });

      it("returns entries oldest first, every field round-tripped, seqs increasing across commits", async () => {
        const first = logEntry({
          at: T0 + 1,
          statusBefore: null,
          statusAfter: "ready",
          params: null,
        });
        const second = logEntry({
          tenant: "globex",
          at: T0 + 2,
          action: "awf.task/notify",
          statusBefore: null,
          statusAfter: null,
          params: JSON.stringify({
            quote: '"',
            backslash: "\\",
            text: "NULL",
            long: "x".repeat(70_000),
          }),
        });
        await store.commit(commitSet({ taskLog: [first, second] }));
        const third = logEntry({ at: T0 + 3, action: "awf.task/success", statusAfter: "done" });
        await store.commit(commitSet({ taskLog: [third] }));
        const log = await store.taskLog(1, 10);
        expect(log.map(entryWithoutSeq)).toEqual([first, second, third]);
        const seqs = log.map((l) => l.seq);
        for (const seq of seqs) expect(typeof seq).toBe("number");
        expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
        expect(new Set(seqs).size).toBe(3);
        expect(typeof log[0]?.at).toBe("number");
      });

      it("returns at most limit entries, the oldest", async () => {
        await store.commit(
          commitSet({
            taskLog: [1, 2, 3, 4].map((i) => logEntry({ at: T0 + i, action: `a${i}` })),
          }),
        );
        expect((await store.taskLog(1, 2)).map((l) => l.action)).toEqual(["a1", "a2"]);
        expect((await store.taskLog(1, 4)).map((l) => l.action)).toEqual(["a1", "a2", "a3", "a4"]);
      });

      it("returns only the task's own entries", async () => {
        await store.commit(
          commitSet({
            taskLog: [
              logEntry({ taskId: 1, action: "one" }),
              logEntry({ taskId: 2, action: "two" }),
              logEntry({ taskId: 1, action: "one again" }),
            ],
          }),
        );
        expect((await store.taskLog(1, 10)).map((l) => l.action)).toEqual(["one", "one again"]);
        expect((await store.taskLog(2, 10)).map((l) => l.action)).toEqual(["two"]);
        expect(await store.taskLog(3, 10)).toEqual([]);
      });

      it("deletes a task's entries with the task (deletedTasks), in the same set too", async () => {
        await store.commit(
          commitSet({
            tasks: [task(1), task(2)],
            taskLog: [logEntry({ taskId: 1 }), logEntry({ taskId: 2, action: "kept" })],
          }),
        );
        await store.commit(
          commitSet({ taskLog: [logEntry({ taskId: 1, action: "last" })], deletedTasks: [1] }),
        );
        expect(await store.getTask(1)).toBeUndefined();
        expect(await store.taskLog(1, 10)).toEqual([]);
        expect((await store.taskLog(2, 10)).map((l) => l.action)).toEqual(["kept"]);
        // Entries logged after the delete stay.
        await store.commit(commitSet({ taskLog: [logEntry({ taskId: 1, action: "again" })] }));
        expect((await store.taskLog(1, 10)).map((l) => l.action)).toEqual(["again"]);
      });
    });

    describe("jobs", () => {
      const newestFirst = { orderBy: "id", ascending: false, limit: 100 } as const;
      const list = async (query: Partial<JobQuery>) =>
        ids(await store.listJobs({ ...newestFirst, ...query }));

      it("starts with no jobs and no log", async () => {
        expect(await store.getJob(1)).toBeUndefined();
        expect(await store.openJobs()).toEqual([]);
        expect(await store.listJobs(newestFirst)).toEqual([]);
        expect(await store.maxJobId()).toBe(0);
        expect(await store.jobLog(1, 10)).toEqual([]);
      });

      it("round-trips every job column: booleans, large times, awkward text", async () => {
        const full = job(7, {
          client: "globex",
          workflow: "drmswitch",
          state: "completed",
          priority: -2,
          failed: true,
          runAt: T0 + 1,
          createdAt: T0 + 2,
          updatedAt: T0 + 3,
          parameters: JSON.stringify({
            content_id: "x",
            quote: '"',
            backslash: "\\",
            percent: "100%_",
            text: "NULL",
            long: "x".repeat(70_000),
          }),
          snapshot: JSON.stringify({ value: "completed", context: { retries: 3 } }),
        });
        await store.commit(commitSet({ jobs: [full, job(8)] }));
        const back = await store.getJob(7);
        expect(back).toEqual(full);
        expect(typeof back?.id).toBe("number");
        expect(typeof back?.runAt).toBe("number");
        expect(typeof back?.priority).toBe("number");
        expect(typeof back?.failed).toBe("boolean");
        expect(await store.getJob(8)).toEqual(job(8));
        expect((await store.getJob(8))?.failed).toBe(false);
        expect(await store.getJob(9)).toBeUndefined();
      });

      it("upserts jobs by id, keeping client, workflow and created_at", async () => {
        await store.commit(commitSet({ jobs: [job(1, { createdAt: T0 + 5 }), job(2)] }));
        const changed = job(1, {
          client: "other",
          workflow: "voddelete",
          state: "completed",
          priority: 1,
          failed: true,
          runAt: T0 + 50,
          createdAt: T0 + 99,
          updatedAt: T0 + 100,
          parameters: '{"content_id":"new","semaphore_url":"http://s"}',
          snapshot: '{"value":"completed"}',
        });
        await store.commit(commitSet({ jobs: [changed] }));
        expect(await store.getJob(1)).toEqual({
          ...changed,
          client: "acme",
          workflow: "vodstream",
          createdAt: T0 + 5,
        });
        expect(await store.getJob(2)).toEqual(job(2));
        expect(await store.listJobs(newestFirst)).toHaveLength(2);
      });

      it("applies a job named twice in one set in order: the later state wins", async () => {
        await store.commit(
          commitSet({
            jobs: [
              job(1, { state: "queued" }),
              job(1, { state: "started", priority: 2, updatedAt: T0 + 1, createdAt: T0 + 9 }),
            ],
          }),
        );
        expect(await store.getJob(1)).toEqual(
          job(1, { state: "started", priority: 2, updatedAt: T0 + 1 }),
        );
      });

      it("openJobs lists every job not completed or broken, by id", async () => {
        const states = ["completed", "queued", "broken", "scheduled", "pending", "started"];
        const rows = states.map((state, i) => job(10 - i, { state }));
        await store.commit(commitSet({ jobs: [...rows, job(20, { state: "paused" })] }));
        const open = await store.openJobs();
        expect(ids(open)).toEqual([5, 6, 7, 9, 20]);
        expect(open[0]).toEqual(job(5, { state: "started" }));
        await store.commit(commitSet({ jobs: [job(9, { state: "completed", failed: true })] }));
        expect(ids(await store.openJobs())).toEqual([5, 6, 7, 20]);
      });

      it("jobCounts counts the jobs in each state", async () => {
        expect(await store.jobCounts()).toEqual({});
        await store.commit(
          commitSet({
            jobs: [
              job(1, { state: "queued" }),
              job(2, { state: "completed" }),
              job(3, { state: "queued" }),
              job(4, { state: "started" }),
              job(5, { state: "completed", failed: true }),
            ],
          }),
        );
        expect(await store.jobCounts()).toEqual({
          queued: 2,
          completed: 1,
          started: 1,
          failed: 1,
        });
      });

      it("maxJobId reports the highest job id committed", async () => {
        await store.commit(commitSet({ jobs: [job(3), job(10), job(7)] }));
        expect(await store.maxJobId()).toBe(10);
        await store.commit(commitSet({ jobs: [job(11, { state: "broken" })] }));
        expect(await store.maxJobId()).toBe(11);
      });

      describe("listJobs", () => {
        beforeEach(async () => {
          // Orders differ per column, with ties to show the id tie-break.
          await store.commit(
            commitSet({
              jobs: [
                job(1, {
                  client: "a",
                  state: "queued",
                  priority: 5,
                  createdAt: T0 + 30,
                  updatedAt: T0 + 60,
                  runAt: T0 + 300,
                  parameters: '{"content_id":"abc_1"}',
                }),
                job(2, {
                  client: "a",
                  state: "completed",
                  failed: true,
                  priority: 1,
                  createdAt: T0 + 10,
                  updatedAt: T0 + 50,
                  runAt: T0 + 100,
                  parameters: '{"content_id":"100%_done"}',
                }),
                job(3, {
                  client: "b",
                  state: "completed",
                  priority: 5,
                  createdAt: T0 + 30,
                  updatedAt: T0 + 40,
                  runAt: T0 + 200,
                  parameters: '{"content_id":"ABC"}',
                }),
                job(4, {
                  client: "a",
                  state: "scheduled",
                  priority: 3,
                  createdAt: T0 + 20,
                  updatedAt: T0 + 20,
                  runAt: T0 + 600,
                  parameters: '{"content_id":"abcx1"}',
                }),
                job(5, {
                  client: "b",
                  state: "broken",
                  priority: 9,
                  createdAt: T0 + 50,
                  updatedAt: T0 + 20,
                  runAt: T0 + 500,
                  parameters: '{"content_id":"a%b"}',
                }),
                job(6, {
                  client: "a",
                  state: "started",
                  priority: 1,
                  createdAt: T0 + 40,
                  updatedAt: T0 + 10,
                  runAt: T0 + 400,
                  parameters: '{"content_id":"a_b"}',
                }),
              ],
            }),
          );
        });

        it("returns whole rows", async () => {
          const [row] = await store.listJobs({ ...newestFirst, ids: [2] });
          expect(row).toEqual(
            job(2, {
              client: "a",
              state: "completed",
              failed: true,
              priority: 1,
              createdAt: T0 + 10,
              updatedAt: T0 + 50,
              runAt: T0 + 100,
              parameters: '{"content_id":"100%_done"}',
            }),
          );
        });

        it("filters by client", async () => {
          expect(await list({ client: "a" })).toEqual([6, 4, 2, 1]);
          expect(await list({ client: "b" })).toEqual([5, 3]);
          expect(await list({ client: "c" })).toEqual([]);
        });

        it("filters by states", async () => {
          expect(await list({ states: ["completed"] })).toEqual([3, 2]);
          expect(await list({ states: ["queued", "started"] })).toEqual([6, 1]);
          expect(await list({ states: [] })).toEqual([]);
        });

        it("filters by failed", async () => {
          expect(await list({ failed: true })).toEqual([2]);
          expect(await list({ failed: false })).toEqual([6, 5, 4, 3, 1]);
          expect(await list({ states: ["completed"], failed: false })).toEqual([3]);
        });

        it("filters by created_at with from and to, both inclusive", async () => {
          expect(await list({ from: T0 + 30 })).toEqual([6, 5, 3, 1]);
          expect(await list({ to: T0 + 30 })).toEqual([4, 3, 2, 1]);
          expect(await list({ from: T0 + 20, to: T0 + 40 })).toEqual([6, 4, 3, 1]);
          expect(await list({ from: T0 + 30, to: T0 + 30 })).toEqual([3, 1]);
          expect(await list({ from: T0 + 51 })).toEqual([]);
        });

        it("searches parameters for a case-sensitive literal substring", async () => {
          expect(await list({ search: "abc" })).toEqual([4, 1]);
          expect(await list({ search: "ABC" })).toEqual([3]);
          // % and _ are literal characters, not wildcards.
          expect(await list({ search: "a%b" })).toEqual([5]);
          expect(await list({ search: "a_b" })).toEqual([6]);
          expect(await list({ search: "%_" })).toEqual([2]);
          expect(await list({ search: "%" })).toEqual([5, 2]);
          expect(await list({ search: "\\" })).toEqual([]);
          expect(await list({ search: "nowhere" })).toEqual([]);
        });

        it("filters by ids", async () => {
          expect(await list({ ids: [2, 5, 99] })).toEqual([5, 2]);
          expect(await list({ ids: [] })).toEqual([]);
        });

        it("combines filters", async () => {
          expect(
            await list({
              client: "a",
              states: ["queued", "scheduled", "started"],
              search: "abc",
              from: T0 + 20,
            }),
          ).toEqual([4, 1]);
        });

        it("orders by each column both ways, ties broken by id in the same direction", async () => {
          const order = (orderBy: JobQuery["orderBy"], ascending: boolean) =>
            list({ orderBy, ascending });
          expect(await order("id", true)).toEqual([1, 2, 3, 4, 5, 6]);
          expect(await order("id", false)).toEqual([6, 5, 4, 3, 2, 1]);
          expect(await order("created_at", true)).toEqual([2, 4, 1, 3, 6, 5]);
          expect(await order("created_at", false)).toEqual([5, 6, 3, 1, 4, 2]);
          expect(await order("updated_at", true)).toEqual([6, 4, 5, 3, 2, 1]);
          expect(await order("updated_at", false)).toEqual([1, 2, 3, 5, 4, 6]);
          expect(await order("priority", true)).toEqual([2, 6, 4, 1, 3, 5]);
          expect(await order("priority", false)).toEqual([5, 3, 1, 4, 6, 2]);
          expect(await order("run_at", true)).toEqual([2, 3, 1, 6, 5, 4]);
          expect(await order("run_at", false)).toEqual([4, 5, 6, 1, 3, 2]);
        });

        it("returns at most limit jobs, the first in the order", async () => {
          expect(await list({ limit: 2 })).toEqual([6, 5]);
          expect(await list({ orderBy: "created_at", ascending: false, limit: 2 })).toEqual([5, 6]);
          expect(await list({ orderBy: "priority", ascending: true, limit: 3 })).toEqual([2, 6, 4]);
          expect(await list({ client: "b", limit: 1 })).toEqual([5]);
        });
      });

      describe("job log", () => {
        it("returns lines oldest first, every field round-tripped, ids increasing across commits", async () => {
          const first = jobLogEntry({
            message: JSON.stringify({ path: "/job", payload: "job_created" }),
          });
          const second = jobLogEntry({
            taskId: 42,
            severity: 5,
            progname: "worker",
            message: `${"x".repeat(70_000)}\n"quoted", back\\slash NULL`,
            createdAt: T0 + 2,
          });
          await store.commit(commitSet({ jobLog: [first, second] }));
          const third = jobLogEntry({ severity: 0, progname: "callback", createdAt: T0 + 3 });
          await store.commit(commitSet({ jobLog: [third] }));
          const log = await store.jobLog(1, 10);
          expect(log.map(lineWithoutId)).toEqual([first, second, third]);
          const lineIds = log.map((l) => l.id);
          for (const id of lineIds) expect(typeof id).toBe("number");
          expect([...lineIds].sort((x, y) => x - y)).toEqual(lineIds);
          expect(new Set(lineIds).size).toBe(3);
          expect(typeof log[0]?.createdAt).toBe("number");
          expect(typeof log[0]?.severity).toBe("number");
        });

        it("keeps append order within one set, whatever the times", async () => {
          await store.commit(
            commitSet({
              jobLog: [3, 1, 2].map((i) => jobLogEntry({ createdAt: T0 + i, message: `m${i}` })),
            }),
          );
          expect((await store.jobLog(1, 10)).map((l) => l.message)).toEqual(["m3", "m1", "m2"]);
        });

        it("returns at most limit lines, the oldest", async () => {
          await store.commit(
            commitSet({ jobLog: [1, 2, 3, 4].map((i) => jobLogEntry({ message: `m${i}` })) }),
          );
          expect((await store.jobLog(1, 2)).map((l) => l.message)).toEqual(["m1", "m2"]);
          expect((await store.jobLog(1, 4)).map((l) => l.message)).toEqual([
            "m1",
            "m2",
            "m3",
            "m4",
          ]);
        });

        it("returns only the job's own lines", async () => {
          await store.commit(
            commitSet({
              jobLog: [
                jobLogEntry({ jobId: 1, message: "one" }),
                jobLogEntry({ jobId: 2, message: "two" }),
                jobLogEntry({ jobId: 1, message: "one again" }),
              ],
            }),
          );
          expect((await store.jobLog(1, 10)).map((l) => l.message)).toEqual(["one", "one again"]);
          expect((await store.jobLog(2, 10)).map((l) => l.message)).toEqual(["two"]);
          expect(await store.jobLog(3, 10)).toEqual([]);
        });

        it("is not touched by deletedTasks", async () => {
          await store.commit(commitSet({ tasks: [task(1)], jobLog: [jobLogEntry({ jobId: 1 })] }));
          await store.commit(commitSet({ deletedTasks: [1] }));
          expect(await store.jobLog(1, 10)).toHaveLength(1);
        });
      });
    });

    describe("meta", () => {
      it("reads back values committed as meta rows", async () => {
        const meta: MetaRow[] = [
          { key: "instanceId", value: "abc" },
          { key: "empty", value: "" },
        ];
        await store.commit(commitSet({ meta }));
        expect(await store.getMeta("instanceId")).toBe("abc");
        expect(await store.getMeta("empty")).toBe("");
        expect(await store.getMeta("missing")).toBeUndefined();
      });
    });

    describe("compactEvents", () => {
      it("deletes only events older than the time and returns how many", async () => {
        await store.commit(
          commitSet({
            events: [
              event(1, { at: 100 }),
              event(2, { at: 200 }),
              event(3, { at: 300 }),
              event(4, { at: 400 }),
            ],
          }),
        );
        expect(await store.compactEvents(300)).toBe(2);
        expect((await store.eventsAfter(0, 10)).map((e) => e.seq)).toEqual([3, 4]);
        expect(await store.compactEvents(300)).toBe(0);
        expect(await store.compactEvents(50)).toBe(0);
        expect((await store.eventsAfter(0, 10)).map((e) => e.seq)).toEqual([3, 4]);
      });

      it("never lets counters().eventSeq go backwards, even when the journal empties", async () => {
        await store.commit(
          commitSet({
            events: [event(1, { at: 100 }), event(2, { at: 200 }), event(3, { at: 300 })],
          }),
        );
        expect((await store.counters()).eventSeq).toBe(3);
        expect(await store.compactEvents(1_000)).toBe(3);
        expect(await store.eventsAfter(0, 10)).toEqual([]);
        expect((await store.counters()).eventSeq).toBe(3);
        // Compacting an already empty journal keeps the mark too.
        expect(await store.compactEvents(1_000)).toBe(0);
        expect((await store.counters()).eventSeq).toBe(3);
        await store.commit(commitSet({ events: [event(4, { at: 2_000 })] }));
        expect((await store.counters()).eventSeq).toBe(4);
        expect(await store.compactEvents(3_000)).toBe(1);
        expect((await store.counters()).eventSeq).toBe(4);
      });
    });
  });
}
