/** Runs one checked call against the executor tasks and shapes its result (seed-spec 1). */
import type { ExecutorApi, ExecutorNotification } from "../../runtime/commands";
import type { Call } from "./calls";
import { RpcError } from "./errors";
import { presentDefinition, presentLog, presentSettings, presentTask } from "./present";

/** 1.8: a long-poll waits this long by default. */
const LONG_POLL_MS = 60_000;

function notification(
  params: Extract<Call, { method: "awf.task/notify" }>["params"],
): ExecutorNotification {
  const type = params.notification.replace(/^awf\.task\//, "");
  if (type === "heartbeat") {
    return {
      type: "heartbeat",
      ...(params.message === undefined ? {} : { message: params.message }),
    };
  }
  const current = params["progress-current"];
  if (current === undefined) {
    throw new RpcError(422, "params.progress-current is required for a progress notification");
  }
  return {
    type: "progress",
    current,
    ...(params["progress-total"] === undefined ? {} : { total: params["progress-total"] }),
    ...(params["progress-unit"] === undefined ? {} : { unit: params["progress-unit"] }),
  };
}

/** 1.9: what to claim from; workflows have no decision tasks here, so they claim none. */
function claimFrom(params: { taskDefinitions?: string[]; workflowDefinitions?: string[] }) {
  if (params.taskDefinitions === undefined && params.workflowDefinitions === undefined) {
    throw new RpcError(422, "params: taskDefinitions or workflowDefinitions is required");
  }
  return params.taskDefinitions ?? [];
}

function executeAt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const at = Date.parse(text);
  if (!Number.isFinite(at)) throw new RpcError(422, "params.executeAt must be an ISO 8601 time");
  return at;
}

export async function perform(
  executor: ExecutorApi,
  tenant: string,
  call: Call,
  signal?: AbortSignal,
): Promise<unknown> {
  switch (call.method) {
    case "awf.task/poll": {
      const definitions = claimFrom(call.params);
      const max = call.params.maxBatchSize ?? 1;
      const tasks = definitions.length === 0 ? [] : await executor.poll(tenant, definitions, max);
      return { resources: tasks.map(presentTask) };
    }
    case "awf.task/long-poll": {
      const definitions = claimFrom(call.params);
      const max = call.params.maxBatchSize ?? 1;
      const timeout = call.params.timeout ?? LONG_POLL_MS;
      const tasks =
        definitions.length === 0
          ? await new Promise<never[]>((resolve) => {
              // Nothing can be claimed: wait out the timeout as a long-poll does.
              const timer = setTimeout(() => resolve([]), timeout);
              signal?.addEventListener("abort", () => {
                clearTimeout(timer);
                resolve([]);
              });
            })
          : await executor.longPoll(tenant, definitions, max, timeout, signal);
      return { resources: tasks.map(presentTask) };
    }
    case "awf.task/start":
      return {
        resource: presentTask(await executor.start(tenant, call.params.id, call.params.execId)),
      };
    case "awf.task/notify": {
      const { id, execId } = call.params;
      const at = await executor.notify(tenant, id, execId, notification(call.params));
      return { inProgressTimeoutAt: new Date(at).toISOString() };
    }
    case "awf.task/success": {
      const { id, execId, result } = call.params;
      return { resource: presentTask(await executor.success(tenant, id, execId, result)) };
    }
    case "awf.task/fail": {
      const { id, execId, error } = call.params;
      return { resource: presentTask(await executor.fail(tenant, id, execId, error)) };
    }
    case "awf.task/create-and-execute": {
      const { definition, params, id, label } = call.params;
      const task = await executor.create(tenant, {
        definition,
        params,
        ...(id === undefined ? {} : { id }),
        ...(label === undefined ? {} : { label }),
        executeAt: executeAt(call.params.executeAt),
      });
      return { resource: presentTask(task) };
    }
    case "awf.task/status": {
      const task = await executor.get(tenant, call.params.id);
      const log = call.params["include-log"]
        ? (await executor.log(tenant, call.params.id)).map((entry) => presentLog(task, entry))
        : undefined;
      return {
        resource: presentTask(task),
        ...(call.params["include-settings"] ? { settings: presentSettings(task.definition) } : {}),
        ...(log === undefined ? {} : { log }),
      };
    }
    case "awf.task/cancel":
      return { resource: presentTask(await executor.cancel(tenant, call.params.id)) };
    case "awf.task/list": {
      const { filter = {}, sort, limit } = call.params;
      const [field, order] = Object.entries(sort ?? {})[0] ?? [];
      if (sort && Object.keys(sort).length > 1) {
        throw new RpcError(422, "params.sort: sort by createdAt or by lastUpdated, not both");
      }
      const tasks = await executor.list(tenant, {
        ...filter,
        ...(field === undefined
          ? {}
          : {
              sort: {
                field: field as "createdAt" | "lastUpdated",
                order: order as "asc" | "desc",
              },
            }),
        ...(limit === undefined ? {} : { limit }),
      });
      return { resources: tasks.map(presentTask) };
    }
    case "awf.task/define":
      return { definition: presentDefinition(await executor.define(tenant, call.params)) };
    case "awf.task/definitions":
      return { definitions: executor.definitions(tenant).map(presentDefinition) };
  }
}
