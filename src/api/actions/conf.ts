/**
 * What a task definition's `conf` runs.
 *
 * XINA leaves conf's format to each kind of task ("format depends on task") and checks
 * only that it is an object (seed-spec 3.2). This engine runs actions on agents, so
 * our reading of "conf names the action(s) it runs" is: conf holds exactly one of
 *
 * - `actions`: `[{type, params?}, ...]`, 1 to 100 actions run in order;
 * - `action`: `{type, params?}`, one action;
 * - `command`: a non-empty string, one `exec` action `{command}` (run with `sh -c`);
 *
 * and optionally `agent`, the id of the agent that runs them. Without `agent` the
 * engine's default (embedded) agent runs them; an engine without one (NATS mode)
 * refuses such a conf, naming `conf.agent`. Any other conf property is accepted and
 * ignored: beyond what we run, conf's format is the task's own business.
 */
import { Type as T } from "@sinclair/typebox";
import type { TaskAction } from "../../protocol";
import { SUBJECT_TOKEN_PATTERN } from "../../protocol";
import { XinaError, XinaErrorCode } from "./errors";
import { check, compile } from "./validate";

const ConfAction = T.Object(
  {
    type: T.String({ minLength: 1, maxLength: 64, description: "action type, e.g. exec" }),
    params: T.Optional(T.Record(T.String(), T.Unknown())),
  },
  { additionalProperties: false },
);

/** Other properties are allowed: see above. */
const Conf = T.Object({
  actions: T.Optional(T.Array(ConfAction, { minItems: 1, maxItems: 100 })),
  action: T.Optional(ConfAction),
  command: T.Optional(T.String({ minLength: 1, maxLength: 64 * 1024 })),
  agent: T.Optional(T.String({ pattern: SUBJECT_TOKEN_PATTERN, description: "agent id" })),
});

const confCheck = compile(Conf);

/** The runnable part of a conf. */
export interface RunnableConf {
  readonly actions: readonly TaskAction[];
  /** Absent: the engine's default agent. */
  readonly agentId?: string;
}

const RUNNABLE_KEYS = ["actions", "action", "command"] as const;

/** Reads `conf` (already known to be an object) at `field`, e.g. `tasks[0].conf`. */
export function runnableConf(conf: Record<string, unknown>, field: string): RunnableConf {
  check(confCheck, conf, field, () => XinaErrorCode.InvalidConf);
  const given = RUNNABLE_KEYS.filter((key) => conf[key] !== undefined);
  if (given.length !== 1) {
    const named = RUNNABLE_KEYS.map((key) => `${field}.${key}`).join(", ");
    throw new XinaError(
      XinaErrorCode.InvalidConf,
      given.length === 0
        ? `${field} names nothing to run: give one of ${named}`
        : `${field} names more than one thing to run (${given.join(", ")}): give only one of ${named}`,
    );
  }
  let actions: readonly TaskAction[];
  if (conf.actions !== undefined) actions = conf.actions;
  else if (conf.action !== undefined) actions = [conf.action];
  else actions = [{ type: "exec", params: { command: String(conf.command) } }];
  return conf.agent === undefined ? { actions } : { actions, agentId: conf.agent };
}
