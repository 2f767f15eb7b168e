/**
 * How long each part of a soak lasts and how strictly its memory is judged, derived
 * from the one thing a caller chooses: the duration of the load. One place, so the
 * CLI and the test cannot drift apart.
 */

/**
 * Bounds on the RSS floors (the lowest sample of each window after the warm-up: what
 * the garbage collector comes back down to, which is what a leak raises).
 */
export interface RssBounds {
  /**
   * The RSS floors are taken per window of this length (only whole windows after the
   * warm-up): long enough that each holds a full collection cycle of every process,
   * so a floor is a post-collection level and not a point on the saw-tooth's ramp.
   */
  readonly floorWindowMs: number;
  /** Least-squares slope of all those floors, MiB per minute. */
  readonly maxFloorSlopeMiBPerMin: number;
  /** Last window's floor over the first post-warm-up window's. */
  readonly maxFloorRatio: number;
  /** Why these numbers, printed with the verdicts. */
  readonly why: string;
}

export interface SoakPlan {
  /** The open-loop load at half the peak. */
  readonly durationMs: number;
  /**
   * The start of the load that no verdict looks at: JIT compilation, caches filling
   * and the heaps growing to their working size happen here. max(20 s, a tenth of the run).
   */
  readonly warmupMs: number;
  /** Latency percentiles and RSS floors are computed per window of the load. */
  readonly windowMs: number;
  /** How often the RSS of every process is read. */
  readonly rssIntervalMs: number;
  readonly rssBounds: RssBounds;
  /** The closed-loop peak measurement before the load. */
  readonly peak: {
    readonly clients: number;
    readonly warmupMs: number;
    readonly measureMs: number;
  };
  /** How long acknowledged tasks may take to finish once the load stops. */
  readonly drainTimeoutMs: number;
  readonly agents: number;
  /**
   * pino level of the engine and the agents: warn, because at info the engine logs
   * every HTTP request and the soak would mostly measure its own log reading.
   */
  readonly logLevel: string;
}

/** Runs up to this long are "short" (the CI version): 10 s windows, 1 s samples. */
const SHORT_RUN_MS = 120_000;

/**
 * Long runs: the engine's RSS saw-tooths between about 130 and 280 MiB at ~930 tasks/s
 * and an agent's between 84 and 118 MiB, with collections 25 to 60 s apart, and a
 * 60 s window does not always hold one: with 60 s floors, two healthy 10-minute runs
 * at ~930 tasks/s gave slopes of +0.35 and +2.47 MiB/min from the same noise (floors
 * moving between 152 and 179 MiB with no direction). 120 s windows hold at least two
 * cycles, so each floor is a post-collection level. 2 MiB/min at ~930 tasks/s is
 * about 40 bytes a task: less than any record the engine could keep per task (a task
 * view is about 1 KB of JSON), so a per-task leak of any kind crosses it. The slope
 * is fitted over every floor after the warm-up, decided before the final runs.
 */
const LONG_RUN_RSS: RssBounds = {
  floorWindowMs: 120_000,
  maxFloorSlopeMiBPerMin: 2,
  maxFloorRatio: 1.15,
  why: "floors of 120 s windows (each holds >= 2 GC cycles, 25-60 s apart measured); slope fitted over every floor after the warm-up; 2 MiB/min is ~40 B a task at ~930 tasks/s, under any per-task record",
};

/**
 * Short runs: 40 s after the warm-up cannot hold a whole collection cycle, so the
 * floors of 10 s windows follow the saw-tooth's ramp (up to +37 MiB/min and ×1.08
 * measured on healthy 60 s runs). These bounds catch only gross leaks (90 MiB/min is
 * some 3 KB a task at 500 tasks/s, e.g. every task view or event kept); flatness is
 * the long run's verdict.
 */
const SHORT_RUN_RSS: RssBounds = {
  floorWindowMs: 10_000,
  maxFloorSlopeMiBPerMin: 90,
  maxFloorRatio: 1.5,
  why: "40 s cannot hold a GC cycle, floors follow its ramp (+37 MiB/min measured when healthy): a gross-leak guard only; the 10-min run judges flatness",
};

export function soakPlan(durationMs: number): SoakPlan {
  // 20 s of warm-up, then at least two 10 s windows to compare.
  if (!Number.isFinite(durationMs) || durationMs < 40_000) {
    throw new Error("a soak must last at least 40 s to leave two windows after its warm-up");
  }
  const short = durationMs <= SHORT_RUN_MS;
  return {
    durationMs,
    warmupMs: Math.max(20_000, Math.round(durationMs / 10)),
    windowMs: short ? 10_000 : 60_000,
    rssIntervalMs: short ? 1_000 : 5_000,
    rssBounds: short ? SHORT_RUN_RSS : LONG_RUN_RSS,
    peak: short
      ? { clients: 64, warmupMs: 3_000, measureMs: 10_000 }
      : { clients: 64, warmupMs: 5_000, measureMs: 20_000 },
    drainTimeoutMs: 30_000,
    agents: 4,
    logLevel: "warn",
  };
}
