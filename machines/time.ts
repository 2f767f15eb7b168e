/**
 * Machines never read a clock (they stay pure and replayable). Every event carries
 * `at`, the engine's time when it was sent, and delays are computed from absolute
 * deadlines kept in the context, so a machine restored after a restart re-arms its
 * timers for exactly the time that was left.
 */

export interface Timed {
  /** Milliseconds since the Unix epoch, from the engine's clock. */
  readonly at: number;
}

/** The time an event happened, or a fallback for events without one (xstate.init). */
export function eventTime(event: { type: string }, fallback: number): number {
  const at = (event as Partial<Timed>).at;
  return typeof at === "number" ? at : fallback;
}

/**
 * Milliseconds from `now` until `deadline`. A missing deadline means "never", which
 * the engine's timer service treats as a timer that does not fire.
 */
export function remaining(deadline: number | null, now: number): number {
  if (deadline === null) return Number.POSITIVE_INFINITY;
  return Math.max(0, deadline - now);
}

/** A deadline `ms` after `now`, or null when `ms` is 0 (no limit). */
export function deadlineAfter(now: number, ms: number): number | null {
  return ms > 0 ? now + ms : null;
}
