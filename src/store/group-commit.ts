/**
 * Group commit: many changes, one transaction, one sync, answers released after it.
 *
 * Producers mark entities dirty with a function that serializes their *current*
 * state; a change made twice before the next commit is written once. At most one
 * commit is in flight; whatever is marked meanwhile goes into the next one.
 * `barrier()` resolves once everything marked before the call is durable.
 */
import { StoreUnavailableError, UnavailableError } from "../errors";
import { type Logger, outsideLogContext } from "../log";
import type {
  BatchRow,
  CommitSet,
  EventRow,
  JobRow,
  LaneRow,
  MetaRow,
  NewJobLogEntry,
  NewScheduleRun,
  NewTaskLogEntry,
  ScheduleRow,
  Store,
  TaskRow,
} from "./store";
import { storeUnavailable } from "./store-failure";

/**
 * A meta row a retry writes when nothing else is pending: the store is known to work
 * again only once a real write succeeds (an empty transaction would succeed on a full
 * disk too).
 */
const PROBE_KEY = "storeProbe";

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
  /** Waits through failed commits instead of being refused (see `durable`). */
  readonly patient?: boolean;
}

export interface GroupCommitOptions {
  readonly log: Logger;
  /** Called after each successful commit with what it wrote. */
  readonly onCommitted?: (set: CommitSet) => void;
  /** First wait before retrying a failed commit; doubles up to 5 s. @default 100 */
  readonly retryDelayMs?: number;
}

export interface CommitStats {
  readonly commits: number;
  readonly rows: number;
  readonly failures: number;
  readonly lastBatchSize: number;
  readonly lastCommitMs: number;
}

/** How many rows a commit set writes (what the statistics and metrics count). */
export function commitRows(set: CommitSet): number {
  return (
    set.tasks.length +
    set.lanes.length +
    set.batches.length +
    set.events.length +
    (set.schedules?.length ?? 0) +
    (set.scheduleRuns?.length ?? 0) +
    (set.taskLog?.length ?? 0) +
    (set.jobs?.length ?? 0) +
    (set.jobLog?.length ?? 0)
  );
}

export class GroupCommitWriter {
  private tasks = new Map<number, () => TaskRow>();
  private lanes = new Map<string, () => LaneRow>();
  private batches = new Map<number, () => BatchRow>();
  private schedules = new Map<string, () => ScheduleRow>();
  private scheduleRuns: NewScheduleRun[] = [];
  private taskLog: NewTaskLogEntry[] = [];
  private jobs = new Map<number, () => JobRow>();
  private jobLog: NewJobLogEntry[] = [];
  private events: EventRow[] = [];
  private meta = new Map<string, string>();
  private deleted = new Set<number>();
  private nextWaiters: Waiter[] = [];
  private flightWaiters: Waiter[] = [];
  private inFlight = false;
  private scheduled = false;
  private closed = false;
  private failing: StoreUnavailableError | null = null;
  private probes = 0;
  private retryDelayMs: number;
  private stats = { commits: 0, rows: 0, failures: 0, lastBatchSize: 0, lastCommitMs: 0 };

  constructor(
    private readonly store: Store,
    private readonly options: GroupCommitOptions,
  ) {
    this.retryDelayMs = options.retryDelayMs ?? 100;
  }

  /**
   * Null while commits succeed; while the store refuses writes, the refusal every
   * caller gets (its `cause` is the driver's error).
   */
  get failure(): StoreUnavailableError | null {
    return this.failing;
  }

  /** Throws (a fresh copy of) the refusal while the store refuses writes. */
  assertWritable(): void {
    const failing = this.failing;
    if (failing) {
      throw new StoreUnavailableError(failing.failure, failing.message, { cause: failing.cause });
    }
  }

  get statistics(): CommitStats {
    return { ...this.stats };
  }

  get pending(): number {
    return (
      this.tasks.size +
      this.lanes.size +
      this.batches.size +
      this.events.length +
      this.meta.size +
      this.deleted.size +
      this.schedules.size +
      this.scheduleRuns.length +
      this.taskLog.length +
      this.jobs.size +
      this.jobLog.length
    );
  }

  markTask(id: number, serialize: () => TaskRow): void {
    this.deleted.delete(id);
    this.tasks.set(id, serialize);
    this.schedule();
  }

  markLane(key: string, serialize: () => LaneRow): void {
    this.lanes.set(key, serialize);
    this.schedule();
  }

  markBatch(id: number, serialize: () => BatchRow): void {
    this.batches.set(id, serialize);
    this.schedule();
  }

  markSchedule(id: string, serialize: () => ScheduleRow): void {
    this.schedules.set(id, serialize);
    this.schedule();
  }

  /** Appends a finished run; the store assigns its seq in append order. */
  appendScheduleRun(run: NewScheduleRun): void {
    this.scheduleRuns.push(run);
    this.schedule();
  }

  /** Appends a task log entry; the store assigns its seq in append order. */
  appendTaskLog(entry: NewTaskLogEntry): void {
    this.taskLog.push(entry);
    this.schedule();
  }

  markJob(id: number, serialize: () => JobRow): void {
    this.jobs.set(id, serialize);
    this.schedule();
  }

  /** Appends a job log line; the store assigns its id in append order. */
  appendJobLog(entry: NewJobLogEntry): void {
    this.jobLog.push(entry);
    this.schedule();
  }

  /** Deletes the task's row; a later markTask of the same id brings it back. */
  deleteTask(id: number): void {
    this.tasks.delete(id);
    this.deleted.add(id);
    this.schedule();
  }

  appendEvent(event: EventRow): void {
    this.events.push(event);
    this.schedule();
  }

  setMeta(key: string, value: string): void {
    this.meta.set(key, value);
    this.schedule();
  }

  /**
   * Takes back a task that was never committed (its creation was refused): its row,
   * its log entries and (with `forgetEvents`) its journal entries are not written.
   */
  forgetTask(id: number): void {
    this.tasks.delete(id);
    this.taskLog = this.taskLog.filter((entry) => entry.taskId !== id);
  }

  /** Takes back a batch that was never committed. */
  forgetBatch(id: number): void {
    this.batches.delete(id);
  }

  /** Takes back the pending journal entries `matches` picks. */
  forgetEvents(matches: (event: EventRow) => boolean): void {
    this.events = this.events.filter((event) => !matches(event));
  }

  /** Resolves once everything marked before this call is on disk. */
  barrier(): Promise<void> {
    if (this.closed) return Promise.reject(new UnavailableError("the engine is shutting down"));
    const dirty = this.pending > 0;
    if (!dirty && !this.inFlight) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      (dirty ? this.nextWaiters : this.flightWaiters).push({ resolve, reject });
    });
  }

  /**
   * Like `barrier`, but waits through failed commits until what was marked before
   * the call is on disk (or taken back): for side effects that must follow the state
   * that causes them, whenever the store lets it be written.
   */
  durable(): Promise<void> {
    if (this.pending === 0 && !this.inFlight) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject, patient: true };
      (this.pending > 0 ? this.nextWaiters : this.flightWaiters).push(waiter);
    });
  }

  /** Commits what is pending now and waits for it. */
  async flush(): Promise<void> {
    const done = this.barrier();
    this.scheduled = false;
    if (!this.inFlight) void this.commitPending();
    await done;
  }

  /** Flushes, then refuses further barriers. */
  async close(): Promise<void> {
    if (this.pending > 0 || this.inFlight) await this.flush().catch(() => {});
    this.closed = true;
  }

  private schedule() {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    // setImmediate lets every change made in this turn of the event loop (and the
    // I/O callbacks queued with it) join the same transaction.
    // One commit serves many callers: its lines carry none's request id.
    setImmediate(() =>
      outsideLogContext(() => {
        this.scheduled = false;
        if (!this.inFlight) void this.commitPending();
      }),
    );
  }

  private takePending(): { set: CommitSet; waiters: Waiter[]; undo: () => void } {
    const tasks = this.tasks;
    const lanes = this.lanes;
    const batches = this.batches;
    const events = this.events;
    const meta = this.meta;
    const deleted = this.deleted;
    const schedules = this.schedules;
    const scheduleRuns = this.scheduleRuns;
    const taskLog = this.taskLog;
    const jobs = this.jobs;
    const jobLog = this.jobLog;
    this.deleted = new Set();
    this.schedules = new Map();
    this.scheduleRuns = [];
    this.taskLog = [];
    this.jobs = new Map();
    this.jobLog = [];
    this.tasks = new Map();
    this.lanes = new Map();
    this.batches = new Map();
    this.events = [];
    this.meta = new Map();
    const waiters = this.nextWaiters;
    this.nextWaiters = [];
    const metaRows: MetaRow[] = [];
    for (const [key, value] of meta) metaRows.push({ key, value });
    const set: CommitSet = {
      tasks: Array.from(tasks.values(), (serialize) => serialize()),
      lanes: Array.from(lanes.values(), (serialize) => serialize()),
      batches: Array.from(batches.values(), (serialize) => serialize()),
      events,
      meta: metaRows,
      deletedTasks: Array.from(deleted),
      schedules: Array.from(schedules.values(), (serialize) => serialize()),
      scheduleRuns,
      taskLog,
      jobs: Array.from(jobs.values(), (serialize) => serialize()),
      jobLog,
    };
    // Put back what failed to commit, unless it was marked again since (the newer
    // serializer covers it).
    const undo = () => {
      for (const [id, s] of tasks) if (!this.tasks.has(id)) this.tasks.set(id, s);
      for (const [key, s] of lanes) if (!this.lanes.has(key)) this.lanes.set(key, s);
      for (const [id, s] of batches) if (!this.batches.has(id)) this.batches.set(id, s);
      for (const [key, value] of meta) if (!this.meta.has(key)) this.meta.set(key, value);
      for (const id of deleted) if (!this.tasks.has(id)) this.deleted.add(id);
      for (const [id, s] of schedules) if (!this.schedules.has(id)) this.schedules.set(id, s);
      this.events = events.concat(this.events);
      this.scheduleRuns = scheduleRuns.concat(this.scheduleRuns);
      this.taskLog = taskLog.concat(this.taskLog);
      for (const [id, s] of jobs) if (!this.jobs.has(id)) this.jobs.set(id, s);
      this.jobLog = jobLog.concat(this.jobLog);
    };
    return { set, waiters, undo };
  }

  private async commitPending(): Promise<void> {
    if (this.pending === 0) {
      const waiters = this.nextWaiters;
      this.nextWaiters = [];
      for (const w of waiters) w.resolve();
      return;
    }
    const { set, waiters, undo } = this.takePending();
    this.inFlight = true;
    this.flightWaiters = waiters;
    const started = performance.now();
    try {
      await this.store.commit(set);
    } catch (error) {
      this.inFlight = false;
      this.flightWaiters = [];
      undo();
      this.fail(error, waiters);
      return;
    }
    this.inFlight = false;
    const settled = this.flightWaiters;
    this.flightWaiters = [];
    const rows = commitRows(set);
    this.stats.commits++;
    this.stats.rows += rows;
    this.stats.lastBatchSize = rows;
    this.stats.lastCommitMs = performance.now() - started;
    if (this.failing) {
      this.options.log.info("store writes again");
      this.failing = null;
      this.retryDelayMs = this.options.retryDelayMs ?? 100;
    }
    for (const w of settled) w.resolve();
    this.options.onCommitted?.(set);
    if (this.pending > 0) this.schedule();
  }

  private fail(error: unknown, waiters: Waiter[]) {
    this.stats.failures++;
    const refusal = storeUnavailable(error);
    if (!this.failing) {
      this.options.log.error({ err: error, failure: refusal.failure }, refusal.message);
    }
    this.failing = refusal;
    // Everything still waiting was marked after the failed set and cannot be
    // acknowledged either until a commit succeeds. What failed is pending again, so
    // the patient wait for the next commit.
    const all = waiters.concat(this.nextWaiters);
    this.nextWaiters = [];
    for (const w of all) {
      if (w.patient) this.nextWaiters.push(w);
      else w.reject(refusal);
    }
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(5_000, this.retryDelayMs * 2);
    const timer = setTimeout(() => {
      if (this.closed || this.inFlight) return;
      // What failed may have been taken back (a refused creation): still, only a
      // real write shows that the store works again.
      if (this.pending === 0) this.meta.set(PROBE_KEY, String(++this.probes));
      void this.commitPending();
    }, delay);
    timer.unref?.();
  }
}
