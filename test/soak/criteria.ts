/**
 * The soak's pass criteria (issue 8, item 6), each a bound on a figure, with the reason
 * for the bound next to it. The CLI prints them and exits non-zero when one fails; the
 * test asserts them.
 */
import type { SoakFigures } from "./soak";

/** Last window's p99 over the first post-warm-up window's. */
export const MAX_P99_GROWTH = 3;
/** p99 values up to this are equal for the growth check (one commit stall). */
export const P99_NOISE_FLOOR_MS = 250;
/**
 * Achieved rate may fall short of (or exceed) the target by this fraction. The rate
 * counts tasks final by the end of the load, so it misses only those in flight at that
 * moment (rate × latency, well under 1% of a minute's load); a bigger shortfall means
 * the engine fell behind the offered load.
 */
export const MAX_RATE_DEVIATION = 0.03;

export interface Verdict {
  readonly name: string;
  readonly bound: string;
  readonly measured: string;
  readonly pass: boolean;
}

const MiB = 2 ** 20;

/**
 * Per process, on the RSS floors after the warm-up (see `RssBounds` in plan.ts for
 * the bounds and why): the least-squares slope of the floors over the judged span is
 * at most the plan's bound, and the last floor is at most the plan's ratio times the
 * first. Both must hold: the slope says whether memory is still growing at the end,
 * the ratio how much it grew in all.
 */
function rssFlat(figures: SoakFigures): Verdict[] {
  const bounds = figures.plan.rssBounds;
  return [...figures.rss].map(([name, rss]) => {
    const ratio = rss.endBytes / rss.startBytes;
    return {
      name: `RSS flat: ${name}`,
      bound: `slope of the ${bounds.floorWindowMs / 1000} s floors <= ${bounds.maxFloorSlopeMiBPerMin} MiB/min and end/start <= ${bounds.maxFloorRatio}`,
      measured: `${rss.floorSlopeMiBPerMin.toFixed(2)} MiB/min, ${(rss.startBytes / MiB).toFixed(0)} → ${(rss.endBytes / MiB).toFixed(0)} MiB (×${ratio.toFixed(2)})`,
      pass:
        rss.floorSlopeMiBPerMin <= bounds.maxFloorSlopeMiBPerMin && ratio <= bounds.maxFloorRatio,
    };
  });
}

/**
 * The last window's p99 is at most MAX_P99_GROWTH times the first post-warm-up
 * window's, both raised to P99_NOISE_FLOOR_MS first. Why the floor: the engine commits
 * (and fsyncs) on its one event-loop thread, and on this machine single commits were
 * measured at 250-500 ms now and then (its commit-duration histogram), so a window's
 * p99 can be one such stall and says nothing about a trend. What this guards against,
 * a backlog or a per-task cost that grows with history, grows latency without bound:
 * seconds within minutes, far past three times a stall.
 */
function p99Stable(figures: SoakFigures): Verdict {
  const judged = figures.windows.filter((w) => !w.warmup);
  const first = judged[0];
  const last = judged.at(-1);
  if (!first || !last) {
    return { name: "p99 stable", bound: "", measured: "no window after the warm-up", pass: false };
  }
  const floor = (ms: number) => Math.max(ms, P99_NOISE_FLOOR_MS);
  return {
    name: "p99 stable",
    bound: `last window <= ${MAX_P99_GROWTH} × first after warm-up (each at least ${P99_NOISE_FLOOR_MS} ms)`,
    measured: `${first.p99Ms.toFixed(1)} ms → ${last.p99Ms.toFixed(1)} ms`,
    pass: floor(last.p99Ms) <= MAX_P99_GROWTH * floor(first.p99Ms),
  };
}

function noErrorsLogged(figures: SoakFigures): Verdict {
  let errors = 0;
  const by: string[] = [];
  for (const [name, counts] of figures.logs) {
    const bad = counts.error + counts.unstructured;
    errors += bad;
    if (bad > 0) by.push(`${name}: ${bad}`);
  }
  return {
    name: "no error logged",
    bound: "0 lines at level >= 50 (error, fatal) or not pino JSON, in every process",
    measured: errors === 0 ? "0" : `${errors} (${by.join(", ")})`,
    pass: errors === 0,
  };
}

function allTasksFinal(figures: SoakFigures): Verdict[] {
  const failures = [...figures.submitFailures.values()].reduce((a, b) => a + b, 0);
  const notDone = [...figures.finalStates]
    .filter(([state]) => state !== "done")
    .reduce((sum, [, n]) => sum + n, 0);
  return [
    {
      name: "every submit acknowledged",
      bound: "0 refused or failed",
      measured:
        failures === 0
          ? "0"
          : `${failures} (${[...figures.submitFailures].map(([r, n]) => `${r}: ${n}`).join(", ")})`,
      pass: failures === 0,
    },
    {
      name: "all tasks final",
      bound: "0 without a final event, 0 listed non-final by the engine",
      measured: `${figures.unfinishedSeen} without a final event, ${figures.unfinishedInEngine} non-final in the engine`,
      pass: figures.unfinishedSeen === 0 && figures.unfinishedInEngine === 0,
    },
    {
      name: "all tasks done",
      bound: "0 failed, cancelled or timed out",
      measured: String(notDone),
      pass: notDone === 0,
    },
  ];
}

function rateAchieved(figures: SoakFigures): Verdict {
  const deviation =
    Math.abs(figures.achievedRatePerSec - figures.targetRatePerSec) / figures.targetRatePerSec;
  return {
    name: "achieved rate",
    bound: `within ${MAX_RATE_DEVIATION * 100}% of the target`,
    measured: `${figures.achievedRatePerSec.toFixed(1)} of ${figures.targetRatePerSec.toFixed(1)} tasks/s (${(deviation * 100).toFixed(2)}% off)`,
    pass: deviation <= MAX_RATE_DEVIATION,
  };
}

export function judge(figures: SoakFigures): Verdict[] {
  return [
    ...rssFlat(figures),
    p99Stable(figures),
    noErrorsLogged(figures),
    ...allTasksFinal(figures),
    rateAchieved(figures),
  ];
}
