/**
 * The two loads a soak applies, both through the native HTTP API (`POST /tasks`, one
 * `noop` task each, round-robin over the agents):
 *
 * - closed loop: N clients each submit a task, wait for its final state, submit the
 *   next. Finished tasks per second at saturation is the setup's peak throughput.
 * - open loop: tasks are submitted on a fixed schedule whatever the engine does, as
 *   independent users would; a slow engine shows up as a backlog and growing latency
 *   instead of quietly lowering the offered load (which a closed loop would do).
 */
import { AUTH } from "../helpers/server-process";
import type { TaskTracker } from "./task-tracker";

export interface LoadTarget {
  readonly engineUrl: string;
  readonly agentIds: readonly string[];
  readonly tracker: TaskTracker;
}

/** Submits refused by the engine or lost on the way, by HTTP status or error name. */
export type SubmitFailures = Map<string, number>;

const NOOP_ACTIONS = [{ type: "noop" }];

/**
 * Submits one task; returns its id once acknowledged, undefined (counted in
 * `failures`) otherwise.
 */
async function submit(
  target: LoadTarget,
  n: number,
  failures: SubmitFailures,
): Promise<number | undefined> {
  const agent = target.agentIds[n % target.agentIds.length];
  const startedAt = performance.now();
  let reason: string;
  try {
    const response = await fetch(`${target.engineUrl}/tasks`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/json" },
      body: JSON.stringify({ agent, actions: NOOP_ACTIONS }),
    });
    if (response.status === 201) {
      const { id } = (await response.json()) as { id: number };
      target.tracker.acknowledge(id, startedAt);
      return id;
    }
    await response.body?.cancel();
    reason = `HTTP ${response.status}`;
  } catch (error) {
    reason = describeFailure(error);
  }
  failures.set(reason, (failures.get(reason) ?? 0) + 1);
  return undefined;
}

/** A failed fetch by name, code and message: "TypeError" alone does not say what broke. */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${error.name}${code === undefined ? "" : ` ${String(code)}`}: ${error.message}`;
}

export interface PeakResult {
  /** Tasks that reached a final state inside the measured interval, per second. */
  readonly tasksPerSec: number;
  readonly clients: number;
  readonly measuredMs: number;
  readonly failures: SubmitFailures;
}

/**
 * Closed loop with `clients` concurrent clients for `warmupMs + measureMs`; only
 * final states seen during the last `measureMs` count, so start-up (first JIT, first
 * allocation of every cache) does not lower the figure.
 */
export async function measurePeak(
  target: LoadTarget,
  options: { clients: number; warmupMs: number; measureMs: number },
): Promise<PeakResult> {
  const failures: SubmitFailures = new Map();
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const end = measureFrom + options.measureMs;
  let finishedInWindow = 0;
  let n = 0;
  const client = async () => {
    while (performance.now() < end) {
      const id = await submit(target, n++, failures);
      if (id === undefined) continue;
      await target.tracker.whenFinal(id);
      const now = performance.now();
      if (now >= measureFrom && now < end) finishedInWindow++;
    }
  };
  await Promise.all(Array.from({ length: options.clients }, client));
  return {
    tasksPerSec: finishedInWindow / (options.measureMs / 1000),
    clients: options.clients,
    measuredMs: options.measureMs,
    failures,
  };
}

export interface OpenLoopResult {
  /** Submits issued (on schedule, whatever their answer). */
  readonly issued: number;
  readonly acknowledged: number;
  readonly failures: SubmitFailures;
  /** performance.now() when the schedule began and ended. */
  readonly startedAt: number;
  readonly endedAt: number;
}

/**
 * Issues `ratePerSec` submits a second for `durationMs` on a fixed schedule: task k is
 * due at k / rate seconds after the start. A timer wakes the loop when the next one is
 * due (pacing, not waiting for a condition); when a wake-up comes late, every task that
 * fell due meanwhile goes at once, so the offered rate does not drift down.
 */
export async function runOpenLoop(
  target: LoadTarget,
  options: { ratePerSec: number; durationMs: number; firstTaskNumber: number },
): Promise<OpenLoopResult> {
  const failures: SubmitFailures = new Map();
  const inFlight = new Set<Promise<unknown>>();
  const startedAt = performance.now();
  const intervalMs = 1000 / options.ratePerSec;
  const total = Math.floor((options.durationMs / 1000) * options.ratePerSec);
  let issued = 0;
  let acknowledged = 0;
  while (issued < total) {
    const elapsed = performance.now() - startedAt;
    const due = Math.min(total, Math.floor(elapsed / intervalMs) + 1);
    while (issued < due) {
      const request = submit(target, options.firstTaskNumber + issued, failures).then((id) => {
        if (id !== undefined) acknowledged++;
        inFlight.delete(request);
      });
      inFlight.add(request);
      issued++;
    }
    const nextDueMs = issued * intervalMs - (performance.now() - startedAt);
    if (nextDueMs > 0) await new Promise((resolve) => setTimeout(resolve, nextDueMs));
  }
  const endedAt = performance.now();
  await Promise.all(inFlight);
  return { issued, acknowledged, failures, startedAt, endedAt };
}
