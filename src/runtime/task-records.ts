/**
 * Between a task's three shapes: the live actor's snapshot, the stored row, and the
 * view the API answers with.
 */
import type { StateValue } from "xstate";
import type { TaskContext } from "../../machines";
import type { TaskRow } from "../store/store";
import type { TaskView } from "./commands";

/** What a task row's `snapshot` column holds. */
export interface PersistedTask {
  readonly state: string;
  readonly context: TaskContext;
}

/**
 * The stored state paths of each status (a task's top-level state). No prototype: a
 * status from a request (`__proto__`, `toString`) must find nothing, not Object's own.
 */
export const TASK_STATE_PATHS: Readonly<Record<string, readonly string[]>> = Object.assign(
  Object.create(null) as Record<string, readonly string[]>,
  {
    scheduled: ["scheduled"],
    ready: ["ready"],
    dispatched: ["dispatched"],
    running: ["running.executing", "running.waitingForConclude", "running.concluding"],
    paused: ["paused.holding", "paused.suspended"],
    done: ["done"],
    failed: ["failed"],
    cancelling: ["cancelling"],
    cancelled: ["cancelled"],
    timedOut: ["timedOut"],
  },
);

/** `{running: "executing"}` → `running.executing`. */
export function statePath(value: StateValue): string {
  if (typeof value === "string") return value;
  const [key, child] = Object.entries(value)[0] ?? ["", undefined];
  return child === undefined ? key : `${key}.${statePath(child as StateValue)}`;
}

/** `running.executing` → `{running: "executing"}`. */
export function stateValue(path: string): StateValue {
  const parts = path.split(".");
  let value: StateValue = parts.pop() as string;
  while (parts.length > 0) value = { [parts.pop() as string]: value };
  return value;
}

export function topLevel(path: string): string {
  const dot = path.indexOf(".");
  return dot < 0 ? path : path.slice(0, dot);
}

export function taskRow(state: string, context: TaskContext): TaskRow {
  const persisted: PersistedTask = { state, context };
  return {
    id: context.id,
    tenant: context.tenant,
    name: context.name,
    state,
    outcome: context.outcome,
    lane: context.lane,
    agentId: context.agentId,
    batchId: context.batchId,
    jobId: context.jobId,
    parentId: context.parentId,
    refId: context.refId,
    priority: context.priority,
    executeAt: context.executeAt,
    createdAt: context.createdAt,
    updatedAt: context.updatedAt,
    finishedAt: context.finishedAt,
    snapshot: JSON.stringify(persisted),
  };
}

export function parseTaskRow(row: TaskRow): PersistedTask {
  return JSON.parse(row.snapshot) as PersistedTask;
}

export function taskView(
  state: string,
  context: TaskContext,
  accepts: readonly string[],
): TaskView {
  return {
    id: context.id,
    tenant: context.tenant,
    name: context.name,
    state,
    status: topLevel(state),
    outcome: context.outcome,
    agentId: context.agentId,
    lane: context.lane,
    actions: context.actions,
    currentActionIdx: context.currentActionIdx,
    priority: context.priority,
    executeAt: context.executeAt,
    attempt: context.attempt,
    execId: context.execId,
    progress: context.progress,
    results: context.results,
    error: context.error,
    timeoutReason: context.timeoutReason,
    open: context.open,
    archive: context.archive,
    refId: context.refId,
    parentId: context.parentId,
    batchId: context.batchId,
    jobId: context.jobId,
    createdAt: context.createdAt,
    startedAt: context.startedAt,
    lastActivityAt: context.lastActivityAt,
    finishedAt: context.finishedAt,
    updatedAt: context.updatedAt,
    pauseRequested: context.pauseAfterAction,
    pull: context.pull ?? null,
    heartbeatDeadline: context.heartbeatDeadline,
    // Absent from snapshots written before it existed.
    cancelRequestedAt: context.cancelRequestedAt ?? null,
    accepts,
  };
}
