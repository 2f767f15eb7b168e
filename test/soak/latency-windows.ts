/**
 * Latency percentiles per window of submit time: a trend in the tail shows as windows
 * that get worse, which one percentile over the whole run would average away.
 */
import { percentile } from "../../bench/harness";
import type { SoakPlan } from "./plan";
import type { FinishedTask } from "./task-tracker";

export interface LatencyWindow {
  /** Submit-time window, ms since the load started. */
  readonly fromMs: number;
  readonly toMs: number;
  /** Inside the warm-up: shown, never judged. */
  readonly warmup: boolean;
  readonly tasks: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** `tasks` were submitted during the load that started at `loadStart` (performance.now()). */
export function latencyWindows(
  tasks: readonly FinishedTask[],
  loadStart: number,
  plan: SoakPlan,
): LatencyWindow[] {
  const windows: LatencyWindow[] = [];
  for (let fromMs = 0; fromMs < plan.durationMs; fromMs += plan.windowMs) {
    const toMs = Math.min(plan.durationMs, fromMs + plan.windowMs);
    const latencies = tasks
      .filter((t) => {
        const at = t.submittedAt - loadStart;
        return at >= fromMs && at < toMs;
      })
      .map((t) => t.latencyMs);
    windows.push({
      fromMs,
      toMs,
      warmup: toMs <= plan.warmupMs,
      tasks: latencies.length,
      p50Ms: latencies.length === 0 ? Number.NaN : percentile(latencies, 50),
      p99Ms: latencies.length === 0 ? Number.NaN : percentile(latencies, 99),
      maxMs: latencies.length === 0 ? Number.NaN : latencies.reduce((a, b) => Math.max(a, b)),
    });
  }
  return windows;
}
