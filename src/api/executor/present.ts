/**
 * Executor tasks as the executor API shows them: AidboxTask resources (seed-spec 1.3,
 * 1.4) and AidboxTaskLog entries (1.17).
 */
import type { ExecutorLogEntry, ExecutorTask, TaskDefinition } from "../../runtime/commands";

const iso = (ms: number) => new Date(ms).toISOString();

const REASON_MESSAGE: Readonly<Record<string, string>> = {
  "awf.task/failed-by-executor": "Failed by executor",
  "awf.task/failed-due-to-in-progress-timeout": "In-progress timeout",
};

/** The definition's settings, as a task and `status {include-settings}` show them. */
export function presentSettings(definition: TaskDefinition) {
  return {
    requestedToStartTimeout: definition.requestedToStartTimeout,
    inProgressTimeout: definition.inProgressTimeout,
    allowedRetryCount: definition.allowedRetryCount,
    retryDelay: definition.retryDelay,
    ...(definition.concurrencyLimit === null
      ? {}
      : { concurrencyLimit: definition.concurrencyLimit }),
    ...(definition.concurrencyPath === null ? {} : { concurrencyPath: definition.concurrencyPath }),
  };
}

export function presentDefinition(definition: TaskDefinition) {
  return {
    name: definition.name,
    ...(definition.description === null ? {} : { description: definition.description }),
    ...(definition.params === null ? {} : { params: definition.params }),
    ...(definition.result === null ? {} : { result: definition.result }),
    ...(definition.error === null ? {} : { error: definition.error }),
    ...presentSettings(definition),
    source: definition.source,
  };
}

export function presentTask(task: ExecutorTask): Record<string, unknown> {
  const view = task.task;
  const value = (view.results[0] as { value?: unknown } | null | undefined)?.value;
  const live = task.status === "requested" || task.status === "in-progress";
  return {
    resourceType: "AidboxTask",
    id: task.id,
    definition: task.definition.name,
    ...(task.label === null ? {} : { label: task.label }),
    params: task.params,
    status: task.status,
    ...(task.outcome === null ? {} : { outcome: task.outcome }),
    ...(task.outcomeReason === null
      ? {}
      : {
          outcomeReason: {
            type: task.outcomeReason,
            message: REASON_MESSAGE[task.outcomeReason] ?? task.outcomeReason,
          },
        }),
    ...(task.outcome === "succeeded" && value !== undefined ? { result: value } : {}),
    ...(task.outcome === "failed" && value !== undefined ? { error: value } : {}),
    ...(view.execId !== null && (live || task.status === "done") ? { execId: view.execId } : {}),
    ...(task.status === "in-progress" && view.heartbeatDeadline !== null
      ? { inProgressTimeoutAt: iso(view.heartbeatDeadline) }
      : {}),
    retryCount: task.retryCount,
    executeAt: iso(view.executeAt),
    requester: { resourceType: "Client", id: task.requester },
    ...presentSettings(task.definition),
    meta: {
      createdAt: iso(view.createdAt),
      lastUpdated: iso(view.updatedAt),
      versionId: String(view.updatedAt),
    },
  };
}

export function presentLog(task: ExecutorTask, entry: ExecutorLogEntry) {
  return {
    resourceType: "AidboxTaskLog",
    task: { resourceType: "AidboxTask", id: task.id },
    action: entry.action,
    "status-before": entry.statusBefore,
    "status-after": entry.statusAfter,
    "action-params": entry.params,
    meta: { createdAt: iso(entry.at) },
  };
}
