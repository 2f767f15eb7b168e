/**
 * RUN: queue new tasks from definitions, and re-run existing tasks named by id or ref
 * (seed-spec 3.2–3.5). Success means queued, not run. All or nothing: every entry is
 * checked and every reference resolved before the engine creates the tasks, in one
 * batch that the engine itself creates whole or not at all.
 */
import { InvalidInputError } from "../../errors";
import type { BatchTask, EngineApi, TaskView } from "../../runtime/commands";
import { XinaError, XinaErrorCode } from "./errors";
import type { RunEntry, TaskDefinition } from "./parse";
import { type DefinitionEcho, presentTask, type XinaTask } from "./present";
import { MAX_TARGETS, resolveTarget, visibleTask } from "./refs";

interface Planned {
  readonly spec: BatchTask;
  readonly echo: DefinitionEcho | undefined;
  /** The entry it came from, e.g. `tasks[2]`. */
  readonly field: string;
}

/**
 * Every XINA task gets engine priority 0, so a thread (a lane, which orders by
 * priority then id) runs its tasks in id order (3.11). XINA's own `priority` and
 * `timeout` are "not yet implemented" there: echoed in this reply, otherwise ignored.
 */
const THREAD_ORDER_PRIORITY = 0;

function fromDefinition({ def, runs }: TaskDefinition): BatchTask {
  return {
    name: def.name,
    actions: runs.actions,
    agentId: runs.agentId,
    lane: def.thread,
    priority: THREAD_ORDER_PRIORITY,
    open: def.open ?? false,
    archive: def.archive ?? false,
    refId: def.ref_id === undefined ? undefined : String(def.ref_id),
    parentId: def.parent,
  };
}

/** A new task doing what `view` did, on the same thread, with the same flags. */
function rerunOf(view: TaskView): BatchTask {
  return {
    name: view.name,
    actions: view.actions,
    agentId: view.agentId ?? undefined,
    lane: view.lane ?? undefined,
    priority: THREAD_ORDER_PRIORITY,
    open: view.open,
    archive: view.archive,
    refId: view.refId ?? undefined,
    parentId: view.parentId ?? undefined,
  };
}

/** The engine names the failing batch entry `tasks[k]`; say which entry of ours it was. */
function explain(error: unknown, planned: readonly Planned[]): unknown {
  if (!(error instanceof InvalidInputError) || error.field === undefined) return error;
  const match = /^tasks\[(\d+)\]\.?(.*)$/.exec(error.field);
  const entry = match ? planned[Number(match[1])] : undefined;
  if (!match || entry === undefined) return error;
  const detail = error.message.replace(/^tasks\[\d+\]:\s*/, "");
  if (match[2] === "agentId") {
    // Only an engine without a default agent (NATS mode) needs one named.
    return new XinaError(
      XinaErrorCode.InvalidConf,
      `${entry.field}.conf.agent: ${detail.replace(/^agentId/, "conf.agent")}`,
      { cause: error },
    );
  }
  return new XinaError(XinaErrorCode.InvalidField, `${entry.field}: ${detail}`, {
    cause: error,
  });
}

export async function run(
  engine: EngineApi,
  tenant: string,
  entries: readonly RunEntry[],
): Promise<XinaTask[]> {
  const planned: Planned[] = [];
  // An existing task named twice (by id and by ref, say) is re-run once.
  const rerun = new Set<number>();
  for (const entry of entries) {
    if (entry.kind === "def") {
      const { def } = entry;
      if (def.parent !== undefined) {
        await visibleTask(engine, tenant, def.parent, `${entry.field}.parent`);
      }
      const echo: DefinitionEcho = {
        auto: def.auto ?? false,
        desc: def.desc ?? null,
        priority: def.priority ?? null,
        timeout: def.timeout ?? null,
      };
      planned.push({ spec: fromDefinition(entry), echo, field: entry.field });
      continue;
    }
    for (const view of await resolveTarget(engine, tenant, entry)) {
      if (rerun.has(view.id)) continue;
      rerun.add(view.id);
      planned.push({ spec: rerunOf(view), echo: undefined, field: entry.field });
    }
    if (planned.length > MAX_TARGETS) {
      throw new XinaError(
        XinaErrorCode.TooManyTasks,
        `${entry.field}: the action would create more than ${MAX_TARGETS} tasks`,
      );
    }
  }
  // Only refs that matched nothing: an empty set, not an error (3.4).
  if (planned.length === 0) return [];
  let created: TaskView[];
  try {
    created = (
      await engine.submitBatch(
        tenant,
        planned.map((p) => p.spec),
        { kind: "xina" },
      )
    ).tasks;
  } catch (error) {
    throw explain(error, planned);
  }
  return created.map((view, i) => presentTask(view, planned[i]?.echo));
}
