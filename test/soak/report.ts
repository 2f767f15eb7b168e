/** The soak's figures and verdicts as Markdown tables, ready to paste into the README. */
import { fmt, table } from "../../bench/harness";
import type { Verdict } from "./criteria";
import type { SoakFigures } from "./soak";

const MiB = 2 ** 20;
const seconds = (ms: number) => fmt(ms / 1000);
const mib = (bytes: number) => `${fmt(bytes / MiB)} MiB`;

function summary(f: SoakFigures): string {
  const done = [...f.finalStates].map(([state, n]) => `${fmt(n)} ${state}`).join(", ") || "none";
  const failures = [...f.submitFailures.values()].reduce((a, b) => a + b, 0);
  return table(
    ["figure", "value"],
    [
      [
        "peak (closed loop, HTTP submit → done)",
        `${fmt(f.peakTasksPerSec)} tasks/s (${f.peakClients} clients)`,
      ],
      ["target rate (half the peak)", `${fmt(f.targetRatePerSec, 1)} tasks/s`],
      ["achieved rate (final by the end of the load)", `${fmt(f.achievedRatePerSec, 1)} tasks/s`],
      [
        "submitted / acknowledged / failed",
        `${fmt(f.issued)} / ${fmt(f.acknowledged)} / ${fmt(failures)}`,
      ],
      ["load-phase tasks by final state", done],
      [
        "tasks not final at the end (seen / engine)",
        `${f.unfinishedSeen} / ${f.unfinishedInEngine}`,
      ],
      [
        "tasks created by the engine / acknowledged to the client (peak phase included)",
        `${fmt(f.createdInEngine)} / ${fmt(f.acknowledgedInAll)}`,
      ],
      [
        "engine event-loop delay p99 / max (whole run)",
        `${fmt(f.engineStalls.loopDelayP99Ms, 1)} ms / ${fmt(f.engineStalls.loopDelayMaxMs)} ms`,
      ],
      [
        "engine group commits: count / over 100 ms / time in them",
        `${fmt(f.engineStalls.commits)} / ${fmt(f.engineStalls.slowCommits)} / ${fmt(f.engineStalls.commitSeconds, 1)} s`,
      ],
    ],
  );
}

function latencies(f: SoakFigures): string {
  return table(
    ["window (s)", "tasks", "p50", "p99", "max", ""],
    f.windows.map((w) => [
      `${seconds(w.fromMs)}–${seconds(w.toMs)}`,
      fmt(w.tasks),
      `${fmt(w.p50Ms, 1)} ms`,
      `${fmt(w.p99Ms, 1)} ms`,
      `${fmt(w.maxMs, 1)} ms`,
      w.warmup ? "warm-up" : "",
    ]),
  );
}

const trend = (mibPerMin: number) => `${mibPerMin >= 0 ? "+" : ""}${fmt(mibPerMin, 2)} MiB/min`;

function memoryAndLogs(f: SoakFigures): string {
  return table(
    [
      "process",
      "RSS start",
      "RSS end",
      "RSS max",
      "floor trend (judged)",
      "all samples",
      "log lines",
      "warn",
      "error+",
    ],
    [...f.rss].map(([name, rss]) => {
      const logs = f.logs.get(name);
      return [
        name,
        mib(rss.startBytes),
        mib(rss.endBytes),
        mib(rss.maxBytes),
        trend(rss.floorSlopeMiBPerMin),
        trend(rss.sampleSlopeMiBPerMin),
        fmt(logs?.lines ?? Number.NaN),
        fmt(logs?.warn ?? Number.NaN),
        fmt((logs?.error ?? Number.NaN) + (logs?.unstructured ?? Number.NaN)),
      ];
    }),
  );
}

function verdicts(list: readonly Verdict[]): string {
  return table(
    ["criterion", "bound", "measured", "result"],
    list.map((v) => [v.name, v.bound, v.measured, v.pass ? "pass" : "**FAIL**"]),
  );
}

export function formatReport(f: SoakFigures, list: readonly Verdict[]): string {
  const p = f.plan;
  const samples = [...f.logs.values()].flatMap((l) => l.samples).slice(0, 5);
  return [
    `soak ${f.date}, ${f.machine}: ${seconds(p.durationMs)} s at half the peak, ${p.agents} agents (noop), ` +
      `warm-up ${seconds(p.warmupMs)} s, RSS every ${seconds(p.rssIntervalMs)} s, latency windows of ${seconds(p.windowMs)} s`,
    "",
    summary(f),
    "",
    latencies(f),
    "",
    `RSS after the warm-up, ${f.rss.get("engine")?.samples ?? 0} samples a process: start and end are the floors ` +
      `(lowest sample) of the first and last whole ${seconds(p.rssBounds.floorWindowMs)} s windows; trends are ` +
      `least-squares slopes of those floors (judged) and of every sample; log lines as captured at level ${p.logLevel}, ` +
      `"error+" = level >= 50 or not pino JSON`,
    "",
    memoryAndLogs(f),
    "",
    verdicts(list),
    "",
    `memory bounds: ${p.rssBounds.why}`,
    ...(samples.length > 0 ? ["", "first error lines:", ...samples] : []),
    "",
    list.every((v) => v.pass) ? "soak: PASS" : "soak: FAIL",
  ].join("\n");
}
