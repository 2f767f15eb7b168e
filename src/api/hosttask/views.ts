/**
 * Tasks and batches as the host task API shows them (spec 2.2, 2.3, 2.14): times in
 * unix seconds, the state as a result code.
 */
import type { BatchView, TaskView } from "../../runtime/commands";

export const ResultCode = {
  Pending: 0,
  InProgress: 1,
  Paused: 2,
  Cancelled: 124,
  TimedOut: 125,
  Failed: 126,
  Done: 127,
} as const;
export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];

/** Spec 2.4: 2 = ApplicationInstance (the seed), where the OpenAPI says 1. */
export const CATEGORY_ID = 2;

const BY_OUTCOME: Readonly<Record<string, ResultCode>> = {
  succeeded: ResultCode.Done,
  failed: ResultCode.Failed,
  cancelled: ResultCode.Cancelled,
  timedOut: ResultCode.TimedOut,
};

/**
 * Finished as far as a client can tell. Spec 2.11: a cancelled task is 124 at once;
 * while `cancelling` its running action finishes, still holding the instance.
 */
const FINAL_STATUSES: Readonly<Record<string, ResultCode>> = {
  done: ResultCode.Done,
  failed: ResultCode.Failed,
  cancelling: ResultCode.Cancelled,
  cancelled: ResultCode.Cancelled,
  timedOut: ResultCode.TimedOut,
};

/** Statuses in which a task asked to pause "after this action" is still running it. */
const PAUSABLE_RUNNING = new Set(["dispatched", "running"]);

export function isFinished(view: TaskView): boolean {
  return FINAL_STATUSES[view.status] !== undefined;
}

/** An action has started (or ended): the task is past "pending". */
export function hasStarted(view: TaskView): boolean {
  return view.startedAt !== null;
}

/** Whether a pause asked for while an action ran is still waiting for that action. */
export function isPausing(view: TaskView): boolean {
  return view.pauseRequested && PAUSABLE_RUNNING.has(view.status);
}

/**
 * The result code: final states map one to one; a held task is 2, and so is one
 * whose pause waits for its running action to end; a task none of whose actions has
 * started is 0 (scheduled, waiting for its lane or agent, or sent but not begun);
 * anything else is 1.
 */
export function resultCode(view: TaskView): ResultCode {
  const final = FINAL_STATUSES[view.status];
  if (final !== undefined) return final;
  if (view.status === "paused" || isPausing(view)) return ResultCode.Paused;
  return hasStarted(view) ? ResultCode.InProgress : ResultCode.Pending;
}

const TEXT: Readonly<Record<ResultCode, string>> = {
  [ResultCode.Pending]: "Pending",
  [ResultCode.InProgress]: "In progress",
  [ResultCode.Paused]: "Paused",
  [ResultCode.Cancelled]: "Cancelled",
  [ResultCode.TimedOut]: "Timed out",
  [ResultCode.Failed]: "Failed",
  [ResultCode.Done]: "Done",
};

function resultText(view: TaskView, code: ResultCode): string {
  if (code === ResultCode.Failed) return view.error ?? TEXT[code];
  if (code === ResultCode.TimedOut && view.error) return `${TEXT[code]}: ${view.error}`;
  return TEXT[code];
}

export const seconds = (ms: number): number => Math.floor(ms / 1000);

/**
 * The instance id as the i3D API types it, an integer, when it is one JSON can carry
 * exactly; otherwise the id's text.
 */
export function entityId(instanceId: string | null): number | string {
  if (instanceId === null) return 0;
  const n = Number(instanceId);
  return /^(0|[1-9]\d*)$/.test(instanceId) && Number.isSafeInteger(n) ? n : instanceId;
}

export interface TaskStatus {
  readonly id: number;
  readonly name: string;
  readonly batchId: number;
  readonly categoryId: number;
  readonly entityId: number | string;
  readonly currentActionIdx: number;
  readonly executeAt: number;
  readonly lastActivityAt: number;
  readonly finishedAt: number;
  readonly resultCode: ResultCode;
  readonly resultText: string;
}

/** Spec 2.11: a cancel sets `finishedAt` when it is asked, not when the action drains. */
function finishedAt(view: TaskView): number {
  const at = view.cancelRequestedAt ?? view.finishedAt;
  return at === null ? 0 : seconds(at);
}

export function presentTask(view: TaskView): TaskStatus {
  const code = resultCode(view);
  return {
    id: view.id,
    name: view.name,
    batchId: view.batchId ?? 0,
    categoryId: CATEGORY_ID,
    entityId: entityId(view.refId),
    // Spec 2.1: -1 until the task starts; then the action running, or the next one to
    // run while the task waits or is paused between actions.
    currentActionIdx: hasStarted(view) ? view.currentActionIdx : -1,
    executeAt: seconds(view.executeAt),
    lastActivityAt: seconds(view.lastActivityAt),
    finishedAt: finishedAt(view),
    resultCode: code,
    resultText: resultText(view, code),
  };
}

export interface TaskBatchStatus {
  readonly id: number;
  readonly createdAt: number;
  readonly executeAt: number;
  readonly finishedAt: number;
  readonly numTasks: number;
  readonly numTasksOk: number;
  readonly numTasksFailed: number;
  readonly numTasksCancelled: number;
  /** Task id → result code (the seed's shape; the OpenAPI's is a bare id list). */
  readonly taskIds: Record<string, ResultCode>;
}

/**
 * A batch; `codes` has the current code of its unfinished tasks (a finished task's
 * comes from the batch's own outcome record).
 */
export function presentBatch(
  batch: BatchView,
  codes: ReadonlyMap<number, ResultCode>,
): TaskBatchStatus {
  const taskIds: Record<string, ResultCode> = {};
  // Tasks already 124 whose last action is still finishing (spec 2.11).
  let draining = 0;
  for (const id of batch.taskIds) {
    const outcome = batch.outcomes[id];
    const final = outcome === undefined ? undefined : BY_OUTCOME[outcome];
    if (final === undefined && codes.get(id) === ResultCode.Cancelled) draining++;
    taskIds[String(id)] = final ?? codes.get(id) ?? 0;
  }
  return {
    id: batch.id,
    createdAt: seconds(batch.createdAt),
    executeAt: seconds(batch.executeAt),
    finishedAt: batch.finishedAt === null ? 0 : seconds(batch.finishedAt),
    numTasks: batch.taskIds.length,
    numTasksOk: batch.counts.succeeded,
    // Spec 2.14 [I]: a timed-out task failed too.
    numTasksFailed: batch.counts.failed + batch.counts.timedOut,
    numTasksCancelled: batch.counts.cancelled + draining,
    taskIds,
  };
}
