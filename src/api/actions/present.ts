/**
 * A task as XINA shows it. XINA publishes no task states (seed-spec 3.6); ours are
 * queued → running → concluded, with an outcome once concluded.
 */
import type { TaskView } from "../../runtime/commands";

export const XinaState = {
  Queued: "queued",
  Running: "running",
  Concluded: "concluded",
} as const;
export type XinaState = (typeof XinaState)[keyof typeof XinaState];

export const XinaOutcome = {
  Success: "success",
  Failure: "failure",
  Canceled: "canceled",
} as const;
export type XinaOutcome = (typeof XinaOutcome)[keyof typeof XinaOutcome];

/** Engine status → XINA state. A paused task still holds its thread: running. */
const STATE: Readonly<Record<string, XinaState>> = {
  scheduled: XinaState.Queued,
  ready: XinaState.Queued,
  dispatched: XinaState.Running,
  running: XinaState.Running,
  paused: XinaState.Running,
  // Its running action finishes before it concludes (a host-task cancel).
  cancelling: XinaState.Running,
  done: XinaState.Concluded,
  failed: XinaState.Concluded,
  cancelled: XinaState.Concluded,
  timedOut: XinaState.Concluded,
};

const OUTCOME: Readonly<Record<string, XinaOutcome>> = {
  done: XinaOutcome.Success,
  failed: XinaOutcome.Failure,
  timedOut: XinaOutcome.Failure,
  cancelled: XinaOutcome.Canceled,
};

export function xinaState(view: TaskView): XinaState {
  return STATE[view.status] ?? XinaState.Running;
}

/** Concluded tasks may be cleaned but not cancelled; the rest the other way round. */
export function isConcluded(view: TaskView): boolean {
  return xinaState(view) === XinaState.Concluded;
}

/**
 * What a definition said that the engine does not keep: `auto` is informational, and
 * XINA has not implemented `priority` and `timeout` ("store, ignore", seed-spec 3.5).
 * They are echoed in the RUN reply that created the task and are null elsewhere.
 */
export interface DefinitionEcho {
  readonly auto: boolean | null;
  readonly desc: string | null;
  readonly priority: number | null;
  readonly timeout: number | null;
}

const NOT_KEPT: DefinitionEcho = { auto: null, desc: null, priority: null, timeout: null };

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** XINA ref ids are longs; the engine keeps text (other APIs may use any). */
function refId(text: string | null): number | string | null {
  if (text === null) return null;
  const value = Number(text);
  return /^-?\d+$/.test(text) && Number.isSafeInteger(value) && String(value) === text
    ? value
    : text;
}

export function presentTask(view: TaskView, echo: DefinitionEcho = NOT_KEPT) {
  const state = xinaState(view);
  return {
    id: view.id,
    name: view.name,
    state,
    ...(state === XinaState.Concluded
      ? { outcome: OUTCOME[view.status] ?? XinaOutcome.Failure }
      : {}),
    thread: view.lane,
    ref_id: refId(view.refId),
    parent: view.parentId,
    auto: echo.auto,
    archive: view.archive,
    open: view.open,
    desc: echo.desc,
    priority: echo.priority,
    timeout: echo.timeout,
    created_at: iso(view.createdAt),
    started_at: iso(view.startedAt),
    finished_at: iso(view.finishedAt),
  };
}

export type XinaTask = ReturnType<typeof presentTask>;
