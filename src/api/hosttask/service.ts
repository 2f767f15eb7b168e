/**
 * The host task API's operations over the engine (spec 2.6–2.14), knowing nothing of
 * HTTP: each takes the tenant and checked input, and returns what the route answers
 * or throws a HostTaskError.
 */
import type { BatchTask, BatchView, EngineApi, ListTasks, TaskView } from "../../runtime/commands";
import { conflict, entityNotFound, type FieldError, invalidInput } from "./errors";
import { CreateTaskBody, compile, parseId } from "./schemas";
import {
  announcedInstances,
  isHostTask,
  laneOf,
  missingCapabilities,
  selectInstances,
} from "./selection";
import { buildActions, resolveParams, type TaskTemplate, templateView } from "./templates";
import {
  isFinished,
  isPausing,
  presentBatch,
  presentTask,
  type ResultCode,
  resultCode,
  type TaskBatchStatus,
  type TaskStatus,
} from "./views";

/** Spec 2.10. */
export const LIST_LIMIT = 100;
export const ENTITY_LIST_LIMIT = 50;
/** Lists skip tasks other APIs created; they read at most this many pages to fill up. */
/** The kind of batch this API makes; it lists and shows no other. */
const HOST_TASK_BATCH = "hostTask";
const LIST_PAGE = 200;
const LIST_MAX_PAGES = 10;

const createCheck = compile(CreateTaskBody);

export class HostTasks {
  private readonly templates: ReadonlyMap<number, TaskTemplate>;

  constructor(
    private readonly engine: EngineApi,
    templates: readonly TaskTemplate[],
  ) {
    this.templates = new Map(templates.map((template) => [template.id, template]));
  }

  listTemplates() {
    return [...this.templates.values()].map(templateView);
  }

  /** Spec 2.7–2.9: one batch, one task per selected instance; all or nothing. */
  async create(tenant: string, body: unknown): Promise<TaskBatchStatus[]> {
    const checked = createCheck.check(body);
    if ("errors" in checked) throw invalidInput(checked.errors);
    const request = checked.value;
    const errors: FieldError[] = [];
    const template = this.templates.get(Number(request.taskTemplateId));
    if (!template) {
      errors.push({
        property: "taskTemplateId",
        message: `no task template ${request.taskTemplateId} (see GET /v3/applicationInstance/task/template)`,
      });
    }
    const params = template ? resolveParams(template, request.taskActionParam ?? []) : undefined;
    if (params && "errors" in params) errors.push(...params.errors);
    const selection = selectInstances(announcedInstances(this.engine.agents()), request);
    if ("errors" in selection) errors.push(...selection.errors);
    if (template && "instances" in selection) {
      const types = template.actions.map((action) => action.type);
      for (const instance of selection.instances) {
        const missing = missingCapabilities(instance, types);
        if (missing.length === 0) continue;
        errors.push({
          property: "taskTemplateId",
          message: `agent ${instance.agentId} of application instance ${instance.id} does not run ${missing.join(", ")} (its config does not allow it)`,
        });
      }
    }
    if (!template || !params || "errors" in params || "errors" in selection || errors.length > 0) {
      throw invalidInput(errors);
    }
    const tasks: BatchTask[] = selection.instances.map((instance) => ({
      name: template.name,
      agentId: instance.agentId,
      lane: laneOf(instance.id),
      // One task at a time per instance, whichever client asked (spec 2.13).
      sharedLane: true,
      refId: instance.id,
      actions: buildActions(template, params.values, instance.id),
      // Spec 2.3: a failed action ends the task "done, with error"; no silent retry.
      retry: { limit: 0 },
    }));
    const executeAt = request.executeAt ? request.executeAt * 1000 : undefined;
    const { batch, tasks: views } = await this.engine.submitBatch(tenant, tasks, {
      executeAt,
      kind: HOST_TASK_BATCH,
    });
    return [presentBatch(batch, new Map(views.map((view) => [view.id, resultCode(view)])))];
  }

  async get(tenant: string, taskId: string): Promise<TaskStatus[]> {
    const view = await this.hostTask(tenant, taskId);
    return [presentTask(view)];
  }

  /** Spec 2.11: 0, 1 or 2 → 124; a finished task cannot be. */
  async cancel(tenant: string, taskId: string): Promise<TaskStatus[]> {
    const view = await this.hostTask(tenant, taskId);
    if (isFinished(view)) throw conflict("Task cannot be cancelled");
    let cancelled: TaskView;
    try {
      // Spec 2.11 [I]: a running action finishes; no later one starts.
      cancelled = await this.engine.cancel(tenant, view.id, "afterAction");
    } catch (error) {
      // It finished between the read and the cancel.
      if (isFinished(await this.engine.get(tenant, view.id))) {
        throw conflict("Task cannot be cancelled");
      }
      throw error;
    }
    return [presentTask(cancelled)];
  }

  /**
   * Spec 2.12: 0 or 1 → 2, 2 → 1 (or 0 when no action had started). A running action
   * finishes first; until it has, the pause cannot be taken back (the engine has no
   * command for that), so a second toggle then is refused.
   */
  async togglePause(tenant: string, taskId: string): Promise<TaskStatus[]> {
    const view = await this.hostTask(tenant, taskId);
    if (isFinished(view)) throw conflict("Task cannot be paused or resumed: it has finished");
    if (isPausing(view)) {
      throw conflict(
        "Task is pausing: its current action is still running; resume it once that action has ended",
      );
    }
    if (view.status === "paused") {
      const resumed = await this.engine.resume(tenant, view.id);
      return [presentTask(resumed)];
    }
    const paused = await this.engine.pause(tenant, view.id, "afterAction");
    return [presentTask(paused)];
  }

  /** Spec 2.10: the tenant's last 100 tasks of this API, newest first. */
  list(tenant: string): Promise<TaskStatus[]> {
    return this.collect(tenant, {}, LIST_LIMIT);
  }

  instanceTasks(tenant: string, instanceId: string): Promise<TaskStatus[]> {
    if (instanceId.length === 0 || instanceId.length > 128) {
      throw invalidInput([
        { property: "applicationInstanceId", message: "must be 1 to 128 characters" },
      ]);
    }
    return this.collect(tenant, { refIds: [instanceId] }, ENTITY_LIST_LIMIT);
  }

  /** A host is an agent: its id is the agent's. */
  hostTasks(tenant: string, hostId: string): Promise<TaskStatus[]> {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(hostId)) {
      throw invalidInput([
        { property: "hostId", message: "may use only letters, digits, _ and - (1 to 128)" },
      ]);
    }
    return this.collect(tenant, { agentId: hostId }, ENTITY_LIST_LIMIT);
  }

  async batch(tenant: string, batchId: string): Promise<TaskBatchStatus[]> {
    const id = parseId(batchId);
    if (id === null) {
      throw invalidInput([{ property: "taskBatchId", message: "must be a positive integer" }]);
    }
    const batch = await this.engine.getBatch(tenant, id);
    // Another API's batch is not a task batch here.
    if (batch.kind !== HOST_TASK_BATCH) {
      throw entityNotFound("taskBatchId", `task batch ${id} not found`);
    }
    return [await this.presentBatch(tenant, batch)];
  }

  /** Spec 2.10: the tenant's last 100 batches, newest first. */
  async batches(tenant: string): Promise<TaskBatchStatus[]> {
    const batches = await this.engine.listBatches(tenant, {
      kind: HOST_TASK_BATCH,
      limit: LIST_LIMIT,
    });
    return Promise.all(batches.map((batch) => this.presentBatch(tenant, batch)));
  }

  private async hostTask(tenant: string, taskId: string): Promise<TaskView> {
    const id = parseId(taskId);
    if (id === null) {
      throw invalidInput([{ property: "taskId", message: "must be a positive integer" }]);
    }
    const view = await this.engine.get(tenant, id);
    // A task another API created is not an application instance task.
    if (!isHostTask(view)) throw entityNotFound("taskId", `task ${id} not found`);
    return view;
  }

  private async presentBatch(tenant: string, batch: BatchView): Promise<TaskBatchStatus> {
    const codes = new Map<number, ResultCode>();
    if (batch.status !== "finished") {
      const views = await this.engine.list(tenant, {
        batchId: batch.id,
        limit: batch.taskIds.length,
      });
      for (const view of views) {
        codes.set(view.id, resultCode(view));
      }
    }
    return presentBatch(batch, codes);
  }

  private async collect(tenant: string, query: ListTasks, limit: number): Promise<TaskStatus[]> {
    const found: TaskStatus[] = [];
    let beforeId: number | undefined;
    for (let page = 0; page < LIST_MAX_PAGES && found.length < limit; page++) {
      const views = await this.engine.list(tenant, { ...query, beforeId, limit: LIST_PAGE });
      for (const view of views) {
        if (found.length === limit) break;
        if (isHostTask(view)) found.push(presentTask(view));
      }
      const last = views.at(-1);
      if (views.length < LIST_PAGE || last === undefined) break;
      beforeId = last.id;
    }
    return found;
  }
}
