/**
 * The schedule machine with the runtime's actions bound: `fire` (start the tick's
 * runs) and a `computeNextTick` that knows cron as well as intervals.
 */
import { assign } from "xstate";
import { scheduleMachine } from "../../machines";
import { nextCronTime } from "./cron";

/** The interval rule of the machine's own computeNextTick: the next tick in phase. */
function nextIntervalTick(previous: number, everyMs: number, at: number): number {
  if (previous > at) return previous;
  return previous + (Math.floor((at - previous) / everyMs) + 1) * everyMs;
}

/** @param fire called on each tick with the schedule's id, inside its transition */
export function scheduleLogic(fire: (id: string) => void) {
  return scheduleMachine.provide({
    actions: {
      fire: ({ context }) => fire(context.id),
      // The machine computes interval ticks only; providing it replaces it whole, so
      // this one does both.
      computeNextTick: assign(({ context, event }) => {
        if (context.nextAt === null) return {};
        // A tick carries no time: recordTick has just set updatedAt to it.
        const at = "at" in event ? event.at : context.updatedAt;
        if (context.cron !== null) {
          return { nextAt: context.nextAt > at ? context.nextAt : nextCronTime(context.cron, at) };
        }
        if (context.everyMs === null) return {};
        return { nextAt: nextIntervalTick(context.nextAt, context.everyMs, at) };
      }),
    },
  });
}

export type ScheduleLogic = ReturnType<typeof scheduleLogic>;
