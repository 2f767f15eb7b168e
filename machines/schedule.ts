/**
 * The schedule: a command run periodically on every selected agent. Ticks come from a
 * named delay; a target whose previous run is still going is skipped on a tick, so
 * runs never overlap per target.
 */
import { assign, setup } from "xstate";
import { eventTime, remaining, type Timed } from "./time";

const UNIT_MS = { seconds: 1_000, minutes: 60_000, hours: 3_600_000 } as const;
const FREQUENCY = /^every ([1-9]\d*) (seconds|minutes|hours)$/;

/**
 * Parses "every N seconds|minutes|hours" (N ≥ 1, plural units only, nothing else on
 * the line) into milliseconds, or null when it does not match.
 */
export function parseFrequency(frequency: string): number | null {
  const match = FREQUENCY.exec(frequency);
  if (!match) return null;
  const count = Number(match[1]);
  const ms = count * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : null;
}

export interface ScheduleInput {
  readonly id: string;
  readonly tenant: string;
  readonly command: string;
  /** Interval in ms, for "every N units"; null when `cron` is set. */
  readonly everyMs: number | null;
  /** A cron expression; its next times are computed by the runtime. */
  readonly cron: string | null;
  /** First tick time. */
  readonly firstAt: number;
  readonly now: number;
}

export interface ScheduleContext extends Omit<ScheduleInput, "now" | "firstAt"> {
  readonly nextAt: number | null;
  /** Targets whose run has started and not finished. */
  readonly busy: readonly string[];
  readonly ticks: number;
  readonly lastTickAt: number | null;
  readonly updatedAt: number;
}

export type ScheduleEvent =
  | ({ type: "RUN_STARTED"; target: string } & Timed)
  | ({ type: "RUN_FINISHED"; target: string } & Timed)
  | ({ type: "PAUSE" } & Timed)
  | ({ type: "RESUME" } & Timed)
  | ({ type: "DELETE" } & Timed)
  | ({ type: "REARM" } & Timed);

export const SCHEDULE_COMMANDS = ["PAUSE", "RESUME", "DELETE"] as const;

function now(context: ScheduleContext, event: { type: string }): number {
  return eventTime(event, context.updatedAt);
}

/** The first interval tick strictly after `at`, keeping the original phase. */
function nextIntervalTick(previous: number, everyMs: number, at: number): number {
  if (previous > at) return previous;
  const missed = Math.floor((at - previous) / everyMs) + 1;
  return previous + missed * everyMs;
}

export const scheduleMachine = setup({
  types: {
    context: {} as ScheduleContext,
    events: {} as ScheduleEvent,
    input: {} as ScheduleInput,
  },
  actions: {
    // Bound by the runtime: start a run on every selected target that is not busy.
    fire: () => {},
    /**
     * Moves `nextAt` past now. Interval schedules are computed here; the runtime
     * provides a cron-aware version.
     */
    computeNextTick: assign(({ context, event }) => {
      const at = now(context, event);
      if (context.everyMs === null || context.nextAt === null) return {};
      return { nextAt: nextIntervalTick(context.nextAt, context.everyMs, at) };
    }),
    recordTick: assign(({ context, event }) => {
      // The tick timer's event carries no time: it fires at nextAt.
      const at = context.nextAt ?? now(context, event);
      return { ticks: context.ticks + 1, lastTickAt: at, updatedAt: at };
    }),
    markBusy: assign(({ context, event }) => {
      if (event.type !== "RUN_STARTED") return {};
      return { busy: [...context.busy, event.target], updatedAt: event.at };
    }),
    markIdle: assign(({ context, event }) => {
      if (event.type !== "RUN_FINISHED") return {};
      return { busy: context.busy.filter((t) => t !== event.target), updatedAt: event.at };
    }),
    touch: assign(({ context, event }) => ({ updatedAt: now(context, event) })),
  },
  guards: {
    targetIdle: ({ context, event }) =>
      event.type === "RUN_STARTED" && !context.busy.includes(event.target),
    targetBusy: ({ context, event }) =>
      event.type === "RUN_FINISHED" && context.busy.includes(event.target),
  },
  delays: {
    untilNextTick: ({ context, event }) => remaining(context.nextAt, now(context, event)),
  },
}).createMachine({
  id: "schedule",
  description: "A command run every interval (or cron time) on every selected agent.",
  context: ({ input }) => ({
    id: input.id,
    tenant: input.tenant,
    command: input.command,
    everyMs: input.everyMs,
    cron: input.cron,
    nextAt: input.firstAt,
    busy: [],
    ticks: 0,
    lastTickAt: null,
    updatedAt: input.now,
  }),
  initial: "active",
  on: {
    RUN_FINISHED: { guard: "targetBusy", actions: "markIdle" },
  },
  states: {
    active: {
      description: "Ticks at nextAt; each tick starts runs on idle targets.",
      after: {
        untilNextTick: {
          target: "active",
          reenter: true,
          actions: ["recordTick", "fire", "computeNextTick"],
        },
      },
      on: {
        RUN_STARTED: { guard: "targetIdle", actions: "markBusy" },
        PAUSE: { target: "paused", actions: "touch" },
        DELETE: { target: "deleted", actions: "touch" },
        REARM: { target: "active", reenter: true, actions: "computeNextTick" },
      },
    },
    paused: {
      description: "No ticks; runs already going finish.",
      on: {
        RESUME: { target: "active", actions: ["touch", "computeNextTick"] },
        DELETE: { target: "deleted", actions: "touch" },
      },
    },
    deleted: {
      description: "Removed; never ticks again.",
      type: "final",
    },
  },
});

export type ScheduleMachine = typeof scheduleMachine;
