/**
 * What the schedule host exchanges with the engine and the API, how a schedule is
 * persisted, and the pure rules around it: the create checks, agent selection, and
 * turning a finished task into a run.
 */
import type { ScheduleContext } from "../../machines";
import { InvalidInputError } from "../errors";
import type { ScheduleRow, ScheduleRunRow } from "../store/store";
import { validateCron } from "./cron";

/** Which agents a schedule runs on; both parts must match. Absent: every agent. */
export interface AgentSelector {
  /** Only these agent ids. */
  readonly ids?: readonly string[];
  /** Only agents carrying every one of these labels with these values. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface CreateSchedule {
  /** Run with `sh -c` on each selected agent. */
  readonly command: string;
  /** Interval in ms (≥ 1 s); exactly one of `everyMs` and `cron`. */
  readonly everyMs?: number;
  /** Cron expression, 5 or 6 fields, read in UTC. */
  readonly cron?: string;
  readonly agents?: AgentSelector;
  /** A run still going after this long is stopped. @default the engine's execution limit */
  readonly timeoutMs?: number;
}

export interface ScheduleView {
  readonly id: string;
  readonly tenant: string;
  readonly command: string;
  readonly everyMs: number | null;
  readonly cron: string | null;
  readonly agents: AgentSelector | null;
  readonly timeoutMs: number | null;
  /** `active` or `paused`. */
  readonly state: string;
  readonly nextAt: number | null;
  readonly lastTickAt: number | null;
  readonly ticks: number;
  /** Agents whose run has started and not finished. */
  readonly running: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Commands the schedule accepts now: PAUSE, RESUME, DELETE. */
  readonly accepts: readonly string[];
}

/** One agent's latest run; an empty stream is left out (seed 5.6). */
export interface AgentOutput {
  readonly agentId: string;
  readonly stdout?: string;
  readonly stderr?: string;
}

export interface LatestOutput {
  /** When the newest of the agents' latest runs completed; null before any run. */
  readonly completionTime: number | null;
  readonly outputs: readonly AgentOutput[];
}

export interface ScheduleRun {
  readonly agentId: string;
  /** Null for a run reported from outside (POST .../complete). */
  readonly taskId: number | null;
  readonly startedAt: number;
  readonly completedAt: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly ok: boolean;
}

/** A run reported by a reporter that is not one of the engine's agents (seed 5.5). */
export interface CompletedRun {
  readonly serverId: string;
  readonly stdout?: string;
  readonly stderr?: string;
}

/** What the engine needs to start one run. */
export interface RunRequest {
  readonly id: string;
  readonly tenant: string;
  readonly command: string;
  readonly timeoutMs: number | null;
}

/** The parts of a finished task a run is made of; the engine's TaskView has them all. */
export interface FinishedTask {
  readonly refId: string | null;
  readonly agentId: string | null;
  readonly outcome: string | null;
  readonly results: readonly unknown[];
  readonly error: string | null;
  readonly finishedAt: number | null;
}

/** The run in flight on one agent, kept with the schedule so a restart knows it. */
export interface RunInFlight {
  /** Null until the engine has answered with the task it submitted. */
  taskId: number | null;
  readonly startedAt: number;
}

/** A schedule's `snapshot` column. */
export interface PersistedSchedule {
  readonly state: string;
  readonly context: ScheduleContext;
  readonly agents: AgentSelector | null;
  readonly timeoutMs: number | null;
  readonly createdAt: number;
  readonly runs: Readonly<Record<string, RunInFlight>>;
}

/** What the host keeps beside the machine's context, and persists with it. */
export interface ScheduleHost {
  readonly agents: AgentSelector | null;
  readonly timeoutMs: number | null;
  readonly createdAt: number;
  /** By agent id; an entry exists exactly while the machine lists the agent as busy. */
  readonly runs: Map<string, RunInFlight>;
}

export function scheduleRow(
  state: string,
  context: ScheduleContext,
  host: ScheduleHost,
): ScheduleRow {
  const persisted: PersistedSchedule = {
    state,
    context,
    agents: host.agents,
    timeoutMs: host.timeoutMs,
    createdAt: host.createdAt,
    runs: Object.fromEntries(host.runs),
  };
  return {
    id: context.id,
    tenant: context.tenant,
    state,
    createdAt: host.createdAt,
    updatedAt: context.updatedAt,
    snapshot: JSON.stringify(persisted),
  };
}

export function scheduleView(
  state: string,
  c: ScheduleContext,
  host: ScheduleHost,
  accepts: readonly string[],
): ScheduleView {
  return {
    id: c.id,
    tenant: c.tenant,
    command: c.command,
    everyMs: c.everyMs,
    cron: c.cron,
    agents: host.agents,
    timeoutMs: host.timeoutMs,
    state,
    // A paused schedule has no next tick, whatever its context still says.
    nextAt: state === "active" ? c.nextAt : null,
    lastTickAt: c.lastTickAt,
    ticks: c.ticks,
    running: [...c.busy],
    createdAt: host.createdAt,
    updatedAt: c.updatedAt,
    accepts,
  };
}

/** The engine's floor: a command run more often than once a second is a load test. */
export const MIN_EVERY_MS = 1_000;
export const MAX_COMMAND_LENGTH = 10_000;
/** The most runs one history read returns. */
export const MAX_HISTORY = 1_000;
/** Thirty days, the longest execution limit the engine accepts for a task. */
export const MAX_TIMEOUT_MS = 2_592_000_000;

/** The refId of the tasks a schedule submits: how the engine tells them apart. */
export const SCHEDULE_REF_PREFIX = "schedule:";

export function scheduleRef(id: string): string {
  return `${SCHEDULE_REF_PREFIX}${id}`;
}

/** The schedule id of a task's refId, or null when the task is not a schedule's run. */
export function scheduleOfRef(refId: string | null): string | null {
  return refId?.startsWith(SCHEDULE_REF_PREFIX) ? refId.slice(SCHEDULE_REF_PREFIX.length) : null;
}

const isCount = (n: number, min: number, max: number) =>
  Number.isSafeInteger(n) && n >= min && n <= max;

/** Throws an InvalidInputError naming the first field that is wrong. */
export function validateCreate(spec: CreateSchedule, now: number): void {
  if (typeof spec.command !== "string" || spec.command.trim() === "") {
    throw new InvalidInputError("command must not be empty", "command");
  }
  if (spec.command.length > MAX_COMMAND_LENGTH) {
    throw new InvalidInputError(
      `command is longer than ${MAX_COMMAND_LENGTH} characters`,
      "command",
    );
  }
  if ((spec.everyMs === undefined) === (spec.cron === undefined)) {
    throw new InvalidInputError("give exactly one of frequency (every) and cron", "frequency");
  }
  if (spec.everyMs !== undefined && !isCount(spec.everyMs, MIN_EVERY_MS, Number.MAX_SAFE_INTEGER)) {
    throw new InvalidInputError("frequency must be at least every 1 seconds", "frequency");
  }
  if (spec.cron !== undefined) validateCron(spec.cron, now);
  if (spec.timeoutMs !== undefined && !isCount(spec.timeoutMs, 1, MAX_TIMEOUT_MS)) {
    throw new InvalidInputError(`timeout must be between 1 ms and ${MAX_TIMEOUT_MS} ms`, "timeout");
  }
  const ids = spec.agents?.ids;
  // An empty list would select nobody, silently: surely not what was meant.
  if (ids !== undefined && (ids.length === 0 || ids.some((id) => id === ""))) {
    throw new InvalidInputError("agents.ids must list at least one agent id", "agents.ids");
  }
}

export function selects(
  selector: AgentSelector | null,
  agent: { readonly id: string; readonly labels: Readonly<Record<string, string>> },
): boolean {
  if (selector === null) return true;
  if (selector.ids !== undefined && !selector.ids.includes(agent.id)) return false;
  for (const [key, value] of Object.entries(selector.labels ?? {})) {
    if (agent.labels[key] !== value) return false;
  }
  return true;
}

interface ExecResult {
  readonly stdout?: unknown;
  readonly stderr?: unknown;
  readonly exitCode?: unknown;
}

const text = (value: unknown) => (typeof value === "string" ? value : "");

/** The run a schedule's finished exec task stands for. */
export function runOfTask(
  task: FinishedTask,
  run: RunInFlight,
  now: number,
): Omit<ScheduleRun, "agentId" | "taskId"> {
  const first = task.results[0];
  const result: ExecResult = typeof first === "object" && first !== null ? first : {};
  const stdout = text(result.stdout);
  let stderr = text(result.stderr);
  // A run that never produced output (timed out before starting, agent lost) would
  // show nothing at all in latest_output; the engine's reason is the useful answer.
  if (first == null && stdout === "" && stderr === "" && task.error) stderr = task.error;
  return {
    startedAt: run.startedAt,
    completedAt: task.finishedAt ?? now,
    stdout,
    stderr,
    exitCode: typeof result.exitCode === "number" ? result.exitCode : null,
    ok: task.outcome === "succeeded",
  };
}

export function runOfRow(row: ScheduleRunRow): ScheduleRun {
  return {
    agentId: row.agentId,
    taskId: row.taskId,
    startedAt: row.startedAt,
    completedAt: row.completedAt,
    stdout: row.stdout,
    stderr: row.stderr,
    exitCode: row.exitCode,
    ok: row.ok,
  };
}

/** Each agent's latest run, empty streams left out; the newest completion time. */
export function latestOutputOf(rows: readonly ScheduleRunRow[]): LatestOutput {
  let completionTime: number | null = null;
  const outputs = rows.map((row) => {
    completionTime = Math.max(completionTime ?? row.completedAt, row.completedAt);
    return {
      agentId: row.agentId,
      ...(row.stdout === "" ? {} : { stdout: row.stdout }),
      ...(row.stderr === "" ? {} : { stderr: row.stderr }),
    };
  });
  return { completionTime, outputs };
}
