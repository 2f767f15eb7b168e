/**
 * The behaviour every Store implementation owes the engine, run against each of them
 * on a real database. Each test gets a fresh, migrated store.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  BatchRow,
  CommitSet,
  EventRow,
  LaneRow,
  MetaRow,
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

/** A run as read back: what was appended, plus the seq the store gave it. */
const withoutSeq = ({ seq: _, ...run }: ScheduleRunRow): NewScheduleRun => run;
/** A log entry as read back, without the seq the store gave it. */
const entryWithoutSeq = ({ seq: _, ...entry }: TaskLogRow): NewTaskLogEntry => entry;

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
