/**
 * Turns a request body into one typed XINA action, or refuses it naming the field.
 * Nothing here touches the engine: every shape is checked before any task is read.
 */
import { type RunnableConf, runnableConf } from "./conf";
import { XinaError, XinaErrorCode } from "./errors";
import {
  CancelOrCleanBody,
  ConcludeBody,
  DestroyBody,
  Envelope,
  PauseBody,
  ResumeBody,
  RunBody,
  TaskDef,
  TaskId,
  TaskRef,
} from "./schemas";
import { check, checkThread, compile, isObject, shown } from "./validate";

export const XinaActionName = {
  Run: "run",
  Conclude: "conclude",
  Cancel: "cancel",
  Clean: "clean",
  Destroy: "destroy",
  Pause: "pause",
  Resume: "resume",
} as const;
export type XinaActionName = (typeof XinaActionName)[keyof typeof XinaActionName];

const NAMES: readonly string[] = Object.values(XinaActionName);

/** A task reference: a numeric id, or every task with one of some ref ids. */
export type TaskTarget =
  | { readonly kind: "id"; readonly id: number; readonly field: string }
  | { readonly kind: "ref"; readonly refIds: readonly string[]; readonly field: string };

export interface TaskDefinition {
  readonly kind: "def";
  readonly def: TaskDef;
  readonly runs: RunnableConf;
  readonly field: string;
}

export type RunEntry = TaskDefinition | TaskTarget;

export type XinaAction =
  | { readonly action: "run"; readonly entries: readonly RunEntry[] }
  | { readonly action: "conclude"; readonly task: number; readonly delayMs: number }
  | {
      readonly action: "cancel" | "clean";
      readonly targets: readonly TaskTarget[];
      readonly ignore: boolean;
    }
  | { readonly action: "destroy"; readonly targets: readonly TaskTarget[] }
  | { readonly action: "pause"; readonly threads: readonly string[] }
  | { readonly action: "resume"; readonly threads: readonly string[]; readonly continue: boolean };

const envelope = compile(Envelope);
const runBody = compile(RunBody);
const concludeBody = compile(ConcludeBody);
const cancelOrCleanBody = compile(CancelOrCleanBody);
const destroyBody = compile(DestroyBody);
const pauseBody = compile(PauseBody);
const resumeBody = compile(ResumeBody);
const taskDef = compile(TaskDef);
const taskId = compile(TaskId);
const taskRef = compile(TaskRef);

const REFERENCE_FORMS = 'a task id or {"type":"ref","ref":[ref_id, ...]}';

function parseTarget(value: unknown, field: string): TaskTarget {
  if (typeof value === "number") {
    check(taskId, value, field);
    return { kind: "id", id: value, field };
  }
  if (isObject(value)) {
    check(taskRef, value, field);
    // The engine keeps ref ids as text; XINA's are longs.
    return { kind: "ref", refIds: [...new Set(value.ref.map(String))], field };
  }
  throw new XinaError(
    XinaErrorCode.InvalidField,
    `${field}: expected ${REFERENCE_FORMS} (got ${shown(value)})`,
  );
}

function parseRunEntry(value: unknown, field: string): RunEntry {
  // A reference has `type`; a definition has no such property.
  if (typeof value === "number" || (isObject(value) && value.type !== undefined)) {
    return parseTarget(value, field);
  }
  if (!isObject(value)) {
    throw new XinaError(
      XinaErrorCode.InvalidField,
      `${field}: expected a task definition or ${REFERENCE_FORMS} (got ${shown(value)})`,
    );
  }
  check(taskDef, value, field);
  if (value.thread !== undefined) checkThread(value.thread, `${field}.thread`);
  return { kind: "def", def: value, runs: runnableConf(value.conf, `${field}.conf`), field };
}

function actionName(body: unknown): XinaActionName {
  if (!isObject(body)) {
    throw new XinaError(
      XinaErrorCode.InvalidAction,
      `the body must be a JSON object with an action (got ${shown(body)})`,
    );
  }
  if (body.action === undefined) {
    throw new XinaError(
      XinaErrorCode.InvalidAction,
      `action is required: one of ${NAMES.join(", ")}`,
    );
  }
  check(envelope, body, "", () => XinaErrorCode.InvalidAction);
  // The seed writes actions in lower case and names them in upper case; take both.
  const name = body.action.toLowerCase();
  if (!NAMES.includes(name)) {
    throw new XinaError(
      XinaErrorCode.InvalidAction,
      `action ${shown(body.action)} is not one of ${NAMES.join(", ")}`,
    );
  }
  return name as XinaActionName;
}

function parseThreads(threads: readonly string[]): string[] {
  for (const [i, name] of threads.entries()) checkThread(name, `threads[${i}]`);
  return [...new Set(threads)];
}

export function parseAction(body: unknown): XinaAction {
  const action = actionName(body);
  switch (action) {
    case XinaActionName.Run: {
      check(runBody, body, "");
      return {
        action,
        entries: body.tasks.map((entry, i) => parseRunEntry(entry, `tasks[${i}]`)),
      };
    }
    case XinaActionName.Conclude: {
      check(concludeBody, body, "", (field) =>
        field === "delay" ? XinaErrorCode.InvalidDelay : XinaErrorCode.InvalidField,
      );
      return { action, task: body.task, delayMs: body.delay ?? 0 };
    }
    case XinaActionName.Cancel:
    case XinaActionName.Clean: {
      check(cancelOrCleanBody, body, "");
      return {
        action,
        targets: body.tasks.map((entry, i) => parseTarget(entry, `tasks[${i}]`)),
        ignore: body.ignore ?? false,
      };
    }
    case XinaActionName.Destroy: {
      check(destroyBody, body, "");
      return {
        action,
        targets: body.tasks.map((entry, i) => parseTarget(entry, `tasks[${i}]`)),
      };
    }
    case XinaActionName.Pause: {
      check(pauseBody, body, "");
      return { action, threads: parseThreads(body.threads) };
    }
    case XinaActionName.Resume: {
      check(resumeBody, body, "");
      return { action, threads: parseThreads(body.threads), continue: body.continue ?? false };
    }
  }
}
