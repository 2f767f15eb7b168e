/**
 * Task references → the caller's tasks. A numeric id names one task and must exist;
 * a ref names every task with one of its ref ids (they need not be unique) and may
 * name none (seed-spec 3.4). Another tenant's task does not exist for the caller.
 */
import { NotFoundError } from "../../errors";
import type { EngineQueries, TaskView } from "../../runtime/commands";
import { XinaError, XinaErrorCode } from "./errors";
import type { TaskTarget } from "./parse";

type Reader = Pick<EngineQueries, "get" | "list">;

/** Tasks one action may touch; a ref matching more is refused, not truncated. */
export const MAX_TARGETS = 10_000;
const PAGE = 1_000;

const tooMany = (field: string) =>
  new XinaError(
    XinaErrorCode.TooManyTasks,
    `${field}: the action would touch more than ${MAX_TARGETS} tasks; narrow it`,
  );

/** The caller's task `id`, or UNKNOWN_TASK naming `field`. */
export async function visibleTask(
  engine: Reader,
  tenant: string,
  id: number,
  field: string,
): Promise<TaskView> {
  try {
    return await engine.get(tenant, id);
  } catch (error) {
    if (error instanceof NotFoundError) {
      throw new XinaError(XinaErrorCode.UnknownTask, `${field}: task ${id} does not exist`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Every task of the caller with one of `refIds`, oldest first. */
async function tasksWithRef(
  engine: Reader,
  tenant: string,
  refIds: readonly string[],
  field: string,
): Promise<TaskView[]> {
  const found: TaskView[] = [];
  let beforeId: number | undefined;
  for (;;) {
    const page = await engine.list(tenant, { refIds, beforeId, limit: PAGE });
    found.push(...page);
    if (found.length > MAX_TARGETS) throw tooMany(field);
    const last = page[page.length - 1];
    if (page.length < PAGE || last === undefined) break;
    beforeId = last.id;
  }
  // The list is newest first; a thread runs its tasks in id order, so keep that order.
  return found.reverse();
}

/** The tasks one reference names. */
export function resolveTarget(
  engine: Reader,
  tenant: string,
  target: TaskTarget,
): Promise<TaskView[]> {
  return target.kind === "id"
    ? visibleTask(engine, tenant, target.id, target.field).then((view) => [view])
    : tasksWithRef(engine, tenant, target.refIds, target.field);
}

/**
 * The tasks all references name, each once, in the order first named. Reads only:
 * an unknown id fails here, before the action changes anything.
 */
export async function resolveTargets(
  engine: Reader,
  tenant: string,
  targets: readonly TaskTarget[],
): Promise<TaskView[]> {
  const seen = new Map<number, TaskView>();
  for (const target of targets) {
    for (const view of await resolveTarget(engine, tenant, target)) {
      if (!seen.has(view.id)) seen.set(view.id, view);
      if (seen.size > MAX_TARGETS) throw tooMany(target.field);
    }
  }
  return [...seen.values()];
}
