/**
 * CONCLUDE, CANCEL, CLEAN and DESTROY (seed-spec 3.7–3.10).
 *
 * Every target is resolved and checked before the first change, so a refused action
 * changes nothing. A task can still conclude by itself between that check and our
 * command (its last action ends); the action then treats it as it would have, had it
 * concluded a moment earlier, rather than fail half-way through.
 *
 * Queued targets are cancelled before running ones: cancelling a thread's running
 * task hands the thread to the next queued task, which must not start (and perhaps
 * finish) when it is itself a target.
 */
import { IllegalTransitionError, NotFoundError } from "../../errors";
import type { EngineApi, TaskView } from "../../runtime/commands";
import { XinaError, XinaErrorCode } from "./errors";
import type { TaskTarget } from "./parse";
import { isConcluded, presentTask, XinaState, type XinaTask, xinaState } from "./present";
import { resolveTargets, visibleTask } from "./refs";

/** At most this many ids are listed in a refusal. */
const LISTED = 10;

function ids(views: readonly TaskView[]): string {
  const listed = views.slice(0, LISTED).map((view) => view.id);
  return views.length > LISTED
    ? `${listed.join(", ")} and ${views.length - LISTED} more`
    : listed.join(", ");
}

function lower(events: readonly string[]): string {
  return events.map((event) => event.toLowerCase()).join(", ") || "nothing";
}

export async function conclude(
  engine: EngineApi,
  tenant: string,
  id: number,
  delayMs: number,
): Promise<XinaTask[]> {
  const view = await visibleTask(engine, tenant, id, "task");
  if (isConcluded(view)) {
    throw new XinaError(XinaErrorCode.TaskConcluded, `task: task ${id} has already concluded`);
  }
  try {
    return [presentTask(await engine.conclude(tenant, id, delayMs))];
  } catch (error) {
    if (!(error instanceof IllegalTransitionError)) throw error;
    const now = await visibleTask(engine, tenant, id, "task");
    if (isConcluded(now)) {
      throw new XinaError(XinaErrorCode.TaskConcluded, `task: task ${id} has already concluded`);
    }
    // Only an open task whose actions have started is concluded by CONCLUDE (3.5, 3.7).
    const why = now.open ? "" : " (it is not open: it concludes when its actions end)";
    throw new XinaError(
      XinaErrorCode.CannotConclude,
      `task: task ${id} cannot be concluded in state ${error.state}${why}; it accepts: ${lower(error.accepted)}`,
      { cause: error },
    );
  }
}

/** Queued targets first, each group in the order named. */
function cancelOrder(views: readonly TaskView[]): TaskView[] {
  const queued = views.filter((view) => xinaState(view) === XinaState.Queued);
  return [...queued, ...views.filter((view) => xinaState(view) !== XinaState.Queued)];
}

/** Cancels the non-concluded `views`; their views after it, by id. */
async function cancelAll(
  engine: EngineApi,
  tenant: string,
  views: readonly TaskView[],
): Promise<Map<number, TaskView>> {
  const after = new Map<number, TaskView>();
  for (const view of cancelOrder(views.filter((v) => !isConcluded(v)))) {
    after.set(view.id, await cancelOne(engine, tenant, view));
  }
  return after;
}

/** Cancels one non-concluded task; one that concluded meanwhile is returned as it is. */
async function cancelOne(engine: EngineApi, tenant: string, view: TaskView): Promise<TaskView> {
  try {
    return await engine.cancel(tenant, view.id);
  } catch (error) {
    if (!(error instanceof IllegalTransitionError)) throw error;
    const now = await engine.get(tenant, view.id);
    if (isConcluded(now)) return now;
    throw error;
  }
}

/** Deletes one concluded task; false if something else deleted it meanwhile. */
async function cleanOne(engine: EngineApi, tenant: string, id: number): Promise<boolean> {
  try {
    await engine.clean(tenant, id);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

/**
 * Cancels the non-concluded targets. Concluded ones are an error that changes
 * nothing, unless `ignore`, which skips them. The reply lists the cancelled tasks.
 */
export async function cancel(
  engine: EngineApi,
  tenant: string,
  targets: readonly TaskTarget[],
  ignore: boolean,
): Promise<XinaTask[]> {
  const views = await resolveTargets(engine, tenant, targets);
  const concluded = views.filter(isConcluded);
  if (concluded.length > 0 && !ignore) {
    throw new XinaError(
      XinaErrorCode.TaskConcluded,
      `tasks: task(s) ${ids(concluded)} already concluded and cannot be canceled; nothing was changed (ignore: true skips them)`,
    );
  }
  const after = await cancelAll(engine, tenant, views);
  return views.flatMap((view) => {
    const cancelled = after.get(view.id);
    return cancelled === undefined ? [] : [presentTask(cancelled)];
  });
}

/**
 * Deletes the concluded targets for good, with their files. Non-concluded ones are an
 * error that changes nothing, unless `ignore`, which skips them. The reply lists the
 * deleted tasks as they were.
 */
export async function clean(
  engine: EngineApi,
  tenant: string,
  targets: readonly TaskTarget[],
  ignore: boolean,
): Promise<XinaTask[]> {
  const views = await resolveTargets(engine, tenant, targets);
  const open = views.filter((view) => !isConcluded(view));
  if (open.length > 0 && !ignore) {
    throw new XinaError(
      XinaErrorCode.TaskNotConcluded,
      `tasks: task(s) ${ids(open)} have not concluded and cannot be cleaned; nothing was changed (ignore: true skips them)`,
    );
  }
  const cleaned: XinaTask[] = [];
  for (const view of views) {
    if (isConcluded(view) && (await cleanOne(engine, tenant, view.id))) {
      cleaned.push(presentTask(view));
    }
  }
  return cleaned;
}

/** Cancels (when not concluded) and cleans every target, whatever its state. */
export async function destroy(
  engine: EngineApi,
  tenant: string,
  targets: readonly TaskTarget[],
): Promise<XinaTask[]> {
  const views = await resolveTargets(engine, tenant, targets);
  const after = await cancelAll(engine, tenant, views);
  const destroyed: XinaTask[] = [];
  for (const view of views) {
    const last = after.get(view.id) ?? view;
    if (await cleanOne(engine, tenant, view.id)) destroyed.push(presentTask(last));
  }
  return destroyed;
}
