/**
 * Resident memory of running processes, as the kernel counts it (VmRSS in
 * /proc/<pid>/status): what an operator's `top` shows, garbage collector and native
 * allocations included, not what the JavaScript heap believes it holds.
 */
import { readFileSync } from "node:fs";
import type { SoakPlan } from "./plan";
import { leastSquaresSlope } from "./trend";

const MiB = 2 ** 20;

/** VmRSS of `pid` in bytes; throws when the process is gone (a crash is a finding). */
export function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match?.[1]) throw new Error(`no VmRSS in /proc/${pid}/status (a zombie?)`);
  return Number(match[1]) * 1024;
}

export interface RssSample {
  /** Milliseconds since the load started. */
  readonly atMs: number;
  readonly bytes: number;
}

/** Samples every named process at a fixed interval until stopped. */
export class RssSampler {
  private readonly series = new Map<string, RssSample[]>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly pids: ReadonlyMap<string, number>,
    private readonly intervalMs: number,
  ) {
    for (const name of pids.keys()) this.series.set(name, []);
  }

  /** Takes a sample now and then every interval; `origin` is the load's start. */
  start(origin: number): void {
    this.sample(origin);
    this.timer = setInterval(() => this.sample(origin), this.intervalMs);
  }

  /** Stops, takes a last sample, and throws if a process vanished along the way. */
  stop(origin: number): ReadonlyMap<string, readonly RssSample[]> {
    clearInterval(this.timer);
    this.sample(origin);
    if (this.failure) throw this.failure;
    return this.series;
  }

  /** One sample of every process; a process that is gone is remembered as the failure. */
  private sample(origin: number): void {
    const atMs = performance.now() - origin;
    for (const [name, pid] of this.pids) {
      try {
        this.series.get(name)?.push({ atMs, bytes: readRssBytes(pid) });
      } catch (error) {
        this.failure ??= new Error(`${name} (pid ${pid}) disappeared during the soak`, {
          cause: error,
        });
      }
    }
  }
}

/** What the verdicts read of one process's samples. */
export interface RssFigures {
  /**
   * The lowest sample of each whole floor window after the warm-up (what a collection
   * returns to).
   */
  readonly floors: readonly { readonly atMs: number; readonly bytes: number }[];
  /** The first and the last of those floors. */
  readonly startBytes: number;
  readonly endBytes: number;
  readonly maxBytes: number;
  /** Least-squares slope of the floors, MiB per minute: the judged trend. */
  readonly floorSlopeMiBPerMin: number;
  /** Least-squares slope of every post-warm-up sample, MiB per minute (saw-tooth and all). */
  readonly sampleSlopeMiBPerMin: number;
  readonly samples: number;
}

const perMinute = (bytesPerMs: number) => (bytesPerMs * 60_000) / MiB;

export function summarizeRss(samples: readonly RssSample[], plan: SoakPlan): RssFigures {
  const judged = samples.filter((s) => s.atMs >= plan.warmupMs);
  const floors: { atMs: number; bytes: number }[] = [];
  const windowMs = plan.rssBounds.floorWindowMs;
  // Whole windows only: a short last window may hold no collection at all.
  for (let from = plan.warmupMs; from + windowMs <= plan.durationMs; from += windowMs) {
    const inWindow = judged.filter((s) => s.atMs >= from && s.atMs < from + windowMs);
    if (inWindow.length === 0) continue;
    const bytes = Math.min(...inWindow.map((s) => s.bytes));
    floors.push({ atMs: from + windowMs / 2, bytes });
  }
  const first = floors[0];
  const last = floors.at(-1);
  if (!first || !last || floors.length < 2) {
    throw new Error(`RSS samples after the warm-up fill ${floors.length} window(s); 2 needed`);
  }
  return {
    floors,
    startBytes: first.bytes,
    endBytes: last.bytes,
    maxBytes: Math.max(...judged.map((s) => s.bytes)),
    floorSlopeMiBPerMin: perMinute(
      leastSquaresSlope(floors.map((f) => ({ x: f.atMs, y: f.bytes }))),
    ),
    sampleSlopeMiBPerMin: perMinute(
      leastSquaresSlope(judged.map((s) => ({ x: s.atMs, y: s.bytes }))),
    ),
    samples: judged.length,
  };
}
