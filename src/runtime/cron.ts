/**
 * Cron expressions for schedules, through croner. Five fields (minute precision) or
 * six (a leading seconds field); nicknames such as `@hourly` too. Times are read in
 * UTC, so a schedule fires at the same instants whatever the engine host's zone is.
 */
import { Cron } from "croner";
import { InvalidInputError } from "../errors";

const OPTIONS = { mode: "5-or-6-parts", timezone: "UTC" } as const;

/** Longer is not a cron expression anyone means; it only costs parsing. */
export const MAX_CRON_LENGTH = 200;

function parse(expression: string, field: string): Cron {
  if (expression.length > MAX_CRON_LENGTH) {
    throw new InvalidInputError(`${field} is longer than ${MAX_CRON_LENGTH} characters`, field);
  }
  try {
    return new Cron(expression, OPTIONS);
  } catch (error) {
    // croner's messages name the part that is wrong ("Invalid value for minute: 61").
    const reason = error instanceof Error ? error.message.replace(/^CronPattern: /, "") : "";
    throw new InvalidInputError(`${field} is not a valid cron expression: ${reason}`, field);
  }
}

/**
 * Checks that `expression` parses and fires at least once after `now`; throws an
 * InvalidInputError naming `field` otherwise (e.g. `0 0 30 2 *`, February 30th).
 */
export function validateCron(expression: string, now: number, field = "cron"): void {
  if (parse(expression, field).nextRun(new Date(now)) === null) {
    throw new InvalidInputError(`${field} never fires: ${expression}`, field);
  }
}

/** The first time the expression fires strictly after `after`, or null for never. */
export function nextCronTime(expression: string, after: number): number | null {
  return parse(expression, "cron").nextRun(new Date(after))?.getTime() ?? null;
}
