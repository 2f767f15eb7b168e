/**
 * Where the engine's latency tail comes from, in its own words (`GET /metrics`, read
 * once after the run): how long its event loop was held up, and how many group commits
 * (SQLite writes and fsync, run on that same thread) took long. Shown next to the
 * latency windows, not judged: they explain a p99, they are not a verdict.
 */
import { sample } from "../helpers/prometheus";
import { AUTH } from "../helpers/server-process";

export interface EngineStalls {
  /** Event-loop delay since the engine started (prom-client), ms. */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  readonly commits: number;
  /** Commits that took longer than 100 ms. */
  readonly slowCommits: number;
  /** Seconds spent committing, over the whole run. */
  readonly commitSeconds: number;
}

/** The histogram bucket bound that `slowCommits` counts from (a bucket prom-client has). */
const SLOW_COMMIT_LE = "0.1";

export async function readEngineStalls(engineUrl: string): Promise<EngineStalls> {
  const response = await fetch(`${engineUrl}/metrics`, { headers: AUTH });
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  const text = await response.text();
  const value = (name: string, labels: Record<string, string> = {}) => {
    const found = sample(text, name, labels);
    if (found === undefined) throw new Error(`the engine's /metrics has no ${name}`);
    return found;
  };
  const commits = value("fleetwork_store_commit_duration_seconds_count");
  return {
    loopDelayP99Ms: value("nodejs_eventloop_lag_p99_seconds") * 1000,
    loopDelayMaxMs: value("nodejs_eventloop_lag_max_seconds") * 1000,
    commits,
    slowCommits:
      commits - value("fleetwork_store_commit_duration_seconds_bucket", { le: SLOW_COMMIT_LE }),
    commitSeconds: value("fleetwork_store_commit_duration_seconds_sum"),
  };
}
