/**
 * The periodic family's wire names: snake_case, RFC 3339 times, and empty output
 * streams left out (seed 5.6). Also the "every N units" text both ways.
 */
import { InvalidInputError } from "../../errors";
import type { PeriodicLatest, PeriodicRun, PeriodicSchedule } from "./periodic-api";
import { FREQUENCY_PATTERN } from "./schemas";

const UNIT_MS = { seconds: 1_000, minutes: 60_000, hours: 3_600_000 } as const;
const FREQUENCY = new RegExp(FREQUENCY_PATTERN);

const rfc3339 = (ms: number) => new Date(ms).toISOString();

/** "every 5 minutes" → 300000; the schema has checked the form already. */
export function frequencyMs(frequency: string): number {
  const match = FREQUENCY.exec(frequency);
  if (!match) {
    throw new InvalidInputError(
      'frequency must be "every <n> seconds|minutes|hours" with n ≥ 1',
      "frequency",
    );
  }
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  // A count whose milliseconds are not exact in a double is no real schedule.
  if (!Number.isSafeInteger(ms)) throw new InvalidInputError("frequency is too large", "frequency");
  return ms;
}

/** 300000 → "every 5 minutes": the largest unit that divides it. */
export function frequencyText(ms: number): string {
  if (ms % UNIT_MS.hours === 0) return `every ${ms / UNIT_MS.hours} hours`;
  if (ms % UNIT_MS.minutes === 0) return `every ${ms / UNIT_MS.minutes} minutes`;
  return `every ${ms / UNIT_MS.seconds} seconds`;
}

const streams = (stdout: string | undefined, stderr: string | undefined) => ({
  ...(stdout ? { stdout } : {}),
  ...(stderr ? { stderr } : {}),
});

export function presentLatest(latest: PeriodicLatest) {
  return {
    // A task that has not run yet has no completion time at all (seed 5.6 [I]).
    ...(latest.completionTime === null ? {} : { completion_time: rfc3339(latest.completionTime) }),
    outputs: latest.outputs.map((output) => ({
      agent_id: output.agentId,
      ...streams(output.stdout, output.stderr),
    })),
  };
}

export function presentRun(run: PeriodicRun) {
  return {
    agent_id: run.agentId,
    task_id: run.taskId,
    started_at: rfc3339(run.startedAt),
    completion_time: rfc3339(run.completedAt),
    ...streams(run.stdout, run.stderr),
    exit_code: run.exitCode,
    ok: run.ok,
  };
}

export function presentSchedule(schedule: PeriodicSchedule) {
  const agents = schedule.agents;
  return {
    command_id: schedule.id,
    command: schedule.command,
    ...(schedule.everyMs === null ? {} : { frequency: frequencyText(schedule.everyMs) }),
    ...(schedule.cron === null ? {} : { cron: schedule.cron }),
    ...(agents === null
      ? {}
      : {
          agents: {
            ...(agents.ids === undefined ? {} : { ids: [...agents.ids] }),
            ...(agents.labels === undefined ? {} : { labels: { ...agents.labels } }),
          },
        }),
    ...(schedule.timeoutMs === null ? {} : { timeout: Math.ceil(schedule.timeoutMs / 1_000) }),
    state: schedule.state,
    ...(schedule.nextAt === null ? {} : { next_run_time: rfc3339(schedule.nextAt) }),
    ...(schedule.lastTickAt === null ? {} : { last_run_time: rfc3339(schedule.lastTickAt) }),
    running: [...schedule.running],
    created_at: rfc3339(schedule.createdAt),
  };
}
