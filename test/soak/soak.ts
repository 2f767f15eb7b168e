/**
 * One soak run: start the fleet, measure its peak throughput (closed loop), load it
 * at half that peak (open loop) for the plan's duration while reading every process's
 * RSS, let the backlog drain, and gather the figures the verdicts are made of.
 */
import { cpus, totalmem } from "node:os";
import { AUTH } from "../helpers/server-process";
import { until } from "../helpers/until";
import { type EngineStalls, readEngineStalls } from "./engine-stalls";
import { startFleet } from "./fleet";
import { type LatencyWindow, latencyWindows } from "./latency-windows";
import { measurePeak, runOpenLoop, type SubmitFailures } from "./load";
import type { LogLineCounts } from "./log-lines";
import type { SoakPlan } from "./plan";
import { type RssFigures, type RssSample, RssSampler, readRssBytes, summarizeRss } from "./rss";
import { TaskTracker } from "./task-tracker";

/** The load runs at this fraction of the measured peak (issue 8: half). */
export const LOAD_FRACTION = 0.5;

/** Statuses of a task that is not over (the native API's `status` filter). */
const NON_FINAL_STATUSES = "scheduled,ready,dispatched,running,paused,cancelling";
/** The native API lists at most this many a page: a count this size means "at least". */
const LIST_LIMIT = 1000;

export interface SoakFigures {
  readonly machine: string;
  readonly date: string;
  readonly plan: SoakPlan;
  readonly peakTasksPerSec: number;
  readonly peakClients: number;
  readonly targetRatePerSec: number;
  readonly issued: number;
  readonly acknowledged: number;
  readonly submitFailures: SubmitFailures;
  /** Load-phase tasks final by the time the load ended, per second of load. */
  readonly achievedRatePerSec: number;
  /** Final states of the load-phase tasks after the drain (`done` for all, ideally). */
  readonly finalStates: ReadonlyMap<string, number>;
  readonly windows: readonly LatencyWindow[];
  readonly rss: ReadonlyMap<string, RssFigures>;
  /** Every RSS sample, warm-up included, by process (for `--json`). */
  readonly rssSamples: ReadonlyMap<string, readonly RssSample[]>;
  readonly logs: ReadonlyMap<string, LogLineCounts>;
  /** Acknowledged tasks (peak and load) whose final event never arrived. */
  readonly unfinishedSeen: number;
  /** Tasks the engine itself lists in a non-final status after the drain. */
  readonly unfinishedInEngine: number;
  readonly engineStalls: EngineStalls;
  /** Tasks the engine created, peak phase included. */
  readonly createdInEngine: number;
  /** Tasks the client was answered 201 for, peak phase included. */
  readonly acknowledgedInAll: number;
}

const MiB = 2 ** 20;

/**
 * How many tasks the engine created: ids start at 1 on a fresh data dir and increase,
 * so the newest id. More than the client was answered 201 for means answers were lost
 * on the way (the client cannot tell whether a failed POST created its task).
 */
async function countCreatedInEngine(engineUrl: string): Promise<number> {
  const response = await fetch(`${engineUrl}/tasks?limit=1`, { headers: AUTH });
  if (!response.ok) throw new Error(`GET /tasks answered ${response.status}`);
  const [newest] = (await response.json()) as { id: number }[];
  return newest?.id ?? 0;
}

async function countUnfinishedInEngine(engineUrl: string): Promise<number> {
  const response = await fetch(
    `${engineUrl}/tasks?status=${NON_FINAL_STATUSES}&limit=${LIST_LIMIT}`,
    { headers: AUTH },
  );
  if (!response.ok) throw new Error(`GET /tasks answered ${response.status}`);
  return ((await response.json()) as unknown[]).length;
}

/** Progress lines for a long run; the test passes nothing and stays quiet. */
export type Progress = (line: string) => void;

export async function runSoak(plan: SoakPlan, progress: Progress = () => {}): Promise<SoakFigures> {
  const date = new Date().toISOString();
  const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, bun ${Bun.version}`;
  progress(`starting nats-server, the engine and ${plan.agents} agents`);
  const fleet = await startFleet({ agents: plan.agents, logLevel: plan.logLevel });
  try {
    const tracker = await TaskTracker.open(fleet.natsUrl);
    try {
      const target = { engineUrl: fleet.engineUrl, agentIds: fleet.agentIds, tracker };
      const peak = await measurePeak(target, plan.peak);
      if (peak.failures.size > 0) {
        throw new Error(`submits failed while measuring the peak: ${[...peak.failures]}`);
      }
      const targetRatePerSec = peak.tasksPerSec * LOAD_FRACTION;
      progress(
        `peak ${peak.tasksPerSec.toFixed(0)} tasks/s (${peak.clients} clients); ` +
          `loading at ${targetRatePerSec.toFixed(0)} tasks/s for ${plan.durationMs / 1000} s`,
      );

      const loadStart = performance.now();
      const sampler = new RssSampler(fleet.pids, plan.rssIntervalMs);
      sampler.start(loadStart);
      const ticker = setInterval(() => {
        const s = ((performance.now() - loadStart) / 1000).toFixed(0);
        progress(
          `${s} s: ${tracker.finishedCount} final, ${tracker.pendingCount} pending, ` +
            `engine RSS ${(sampleNow(fleet.pids.get("engine")) / MiB).toFixed(0)} MiB`,
        );
      }, plan.windowMs);
      const load = await runOpenLoop(target, {
        ratePerSec: targetRatePerSec,
        durationMs: plan.durationMs,
        firstTaskNumber: 0,
      });
      clearInterval(ticker);
      const samples = sampler.stop(loadStart);

      const inLoad = (submittedAt: number) =>
        submittedAt >= load.startedAt && submittedAt < load.endedAt;
      const finalByEnd = tracker
        .finishedTasks()
        .filter((t) => inLoad(t.submittedAt) && t.submittedAt + t.latencyMs <= load.endedAt);
      const achievedRatePerSec = finalByEnd.length / ((load.endedAt - load.startedAt) / 1000);

      progress(`load over; waiting up to ${plan.drainTimeoutMs / 1000} s for the backlog`);
      await until(
        () => (tracker.pendingCount === 0 ? true : undefined),
        plan.drainTimeoutMs,
        50,
      ).catch(() => {
        // Not a failure of the run: the unfinished tasks are a figure, judged below.
      });
      const unfinishedInEngine = await countUnfinishedInEngine(fleet.engineUrl);
      const engineStalls = await readEngineStalls(fleet.engineUrl);
      const createdInEngine = await countCreatedInEngine(fleet.engineUrl);
      const logs = fleet.logCounts();

      const loadTasks = tracker.finishedTasks().filter((t) => inLoad(t.submittedAt));
      const finalStates = new Map<string, number>();
      for (const t of loadTasks) finalStates.set(t.state, (finalStates.get(t.state) ?? 0) + 1);
      const windows = latencyWindows(loadTasks, load.startedAt, plan);
      const rss = new Map<string, RssFigures>();
      for (const [name, series] of samples) rss.set(name, summarizeRss(series, plan));

      return {
        machine,
        date,
        plan,
        peakTasksPerSec: peak.tasksPerSec,
        peakClients: peak.clients,
        targetRatePerSec,
        issued: load.issued,
        acknowledged: load.acknowledged,
        submitFailures: load.failures,
        achievedRatePerSec,
        finalStates,
        windows,
        rss,
        rssSamples: samples,
        logs,
        unfinishedSeen: tracker.pendingCount,
        unfinishedInEngine,
        engineStalls,
        createdInEngine,
        acknowledgedInAll: tracker.acknowledgedCount,
      };
    } finally {
      await tracker.close();
    }
  } finally {
    await fleet.stop();
  }
}

function sampleNow(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    return readRssBytes(pid);
  } catch {
    return Number.NaN;
  }
}
