/**
 * Checks a submitted task and fills its defaults. The API layers validate shapes with
 * their own schemas; this is the engine's last word, so a CLI or a test that calls
 * the engine directly cannot put a task in a state no machine can handle.
 */
import type { RetryPolicy, TaskTimeouts } from "../../machines";
import { InvalidInputError } from "../errors";
import { SUBJECT_TOKEN_PATTERN } from "../protocol";
import { PULL_AGENT, type SubmitTask } from "./commands";
import type { EngineOptions } from "./engine-options";

const TOKEN = new RegExp(SUBJECT_TOKEN_PATTERN);
/** 30 days: longer limits are almost certainly a unit mistake. */
const MAX_DURATION_MS = 30 * 24 * 3_600_000;
const MAX_ACTIONS = 100;
/** The furthest time a JavaScript Date can hold, in epoch ms. */
const MAX_TIME_MS = 8.64e15;

export interface ValidSubmit {
  readonly name: string;
  readonly agentId: string | null;
  readonly timeouts: TaskTimeouts;
  readonly retry: RetryPolicy;
}

function duration(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || value > MAX_DURATION_MS) {
    throw new InvalidInputError(`${field} must be between 0 and ${MAX_DURATION_MS} ms`, field);
  }
  return value;
}

export function validateSubmit(
  spec: SubmitTask,
  options: Pick<EngineOptions, "defaultTimeouts" | "defaultRetry" | "defaultAgentId">,
): ValidSubmit {
  if (!Array.isArray(spec.actions) || spec.actions.length === 0) {
    throw new InvalidInputError("actions must list at least one action", "actions");
  }
  if (spec.actions.length > MAX_ACTIONS) {
    throw new InvalidInputError(`actions may list at most ${MAX_ACTIONS} actions`, "actions");
  }
  spec.actions.forEach((action, idx) => {
    if (typeof action?.type !== "string" || action.type.length === 0) {
      throw new InvalidInputError(
        `actions[${idx}].type must be a non-empty string`,
        `actions[${idx}].type`,
      );
    }
  });
  if (spec.pull !== undefined && (typeof spec.pull !== "string" || spec.pull.length === 0)) {
    throw new InvalidInputError("pull must name a queue", "pull");
  }
  // Pulled work goes to no agent: executors claim it.
  const agentId = spec.pull === undefined ? (spec.agentId ?? options.defaultAgentId) : PULL_AGENT;
  if (spec.pull !== undefined) {
    if (spec.lane !== undefined) throw new InvalidInputError("a pulled task has no lane", "lane");
  } else if (agentId !== null && !TOKEN.test(agentId)) {
    throw new InvalidInputError("agentId may use only letters, digits, _ and -", "agentId");
  }
  if (agentId === null) {
    throw new InvalidInputError(
      "agentId is required: this engine has no embedded agent",
      "agentId",
    );
  }
  if (spec.lane !== undefined && !TOKEN.test(spec.lane)) {
    throw new InvalidInputError("lane may use only letters, digits, _ and - (1 to 128)", "lane");
  }
  if (spec.priority !== undefined && !Number.isSafeInteger(spec.priority)) {
    throw new InvalidInputError("priority must be an integer", "priority");
  }
  // Past what a Date holds, the task could be stored but never shown (toISOString throws).
  if (
    spec.executeAt !== undefined &&
    !(Number.isFinite(spec.executeAt) && Math.abs(spec.executeAt) <= MAX_TIME_MS)
  ) {
    throw new InvalidInputError(
      `executeAt must be a time (epoch ms up to ${MAX_TIME_MS}, the year 275760)`,
      "executeAt",
    );
  }
  const t = spec.timeouts ?? {};
  const d = options.defaultTimeouts;
  const r = spec.retry ?? {};
  const dr = options.defaultRetry;
  const limit = r.limit ?? dr.limit;
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > 100) {
    throw new InvalidInputError("retry.limit must be an integer from 0 to 100", "retry.limit");
  }
  const factor = r.factor ?? dr.factor;
  if (!Number.isFinite(factor) || factor < 1 || factor > 10) {
    throw new InvalidInputError("retry.factor must be between 1 and 10", "retry.factor");
  }
  return {
    name: spec.name ?? spec.actions[0]?.type ?? "task",
    agentId,
    timeouts: {
      deliveryMs: duration(t.deliveryMs, d.deliveryMs, "timeouts.deliveryMs"),
      executionMs: duration(t.executionMs, d.executionMs, "timeouts.executionMs"),
      heartbeatMs: duration(t.heartbeatMs, d.heartbeatMs, "timeouts.heartbeatMs"),
    },
    retry: {
      limit,
      factor,
      backoffMs: duration(r.backoffMs, dr.backoffMs, "retry.backoffMs"),
      maxBackoffMs: duration(r.maxBackoffMs, dr.maxBackoffMs, "retry.maxBackoffMs"),
    },
  };
}
