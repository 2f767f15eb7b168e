/** A crash run's figures as a plain-text table, aligned, with what must be 0 marked. */
import type { CrashRun } from "./crash-harness";

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : Math.round(((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2);
}

/** How many items a detail line lists before it says "and N more". */
const DETAIL_LIMIT = 20;

export function crashTable(run: CrashRun): string {
  const f = run.figures;
  const zero = (n: number) => (n === 0 ? "ok" : "FAIL");
  const rows: [string, string, string][] = [
    ["rounds", String(run.rounds), ""],
    [
      "kills (SIGKILL of the engine)",
      `${run.kills} (${run.killsWhileStarting} while it started)`,
      "",
    ],
    [
      "restart, spawn to ready: median / max",
      `${median(run.restartMs)} / ${Math.max(0, ...run.restartMs)} ms`,
      "",
    ],
    ["tasks submitted", String(f.submitted), ""],
    [
      "tasks acknowledged (2xx with an id)",
      `${f.acknowledged} (${Object.entries(f.acknowledgedByFamily)
        .map(([family, n]) => `${family} ${n}`)
        .join(", ")})`,
      "",
    ],
    [
      "tasks unacknowledged (connection died)",
      `${f.unacknowledged} (${f.unacknowledgedStored} kept anyway)`,
      "",
    ],
    ["tasks refused (non-2xx answer)", String(f.refused), ""],
    ["acknowledged tasks lost", String(f.lost.length), `must be 0: ${zero(f.lost.length)}`],
    ["action attempts run on agents", String(f.runs), ""],
    [
      "attempts run twice (same execId)",
      String(f.doubleRuns.length),
      `must be 0: ${zero(f.doubleRuns.length)}`,
    ],
    [
      "lane runs that overlapped",
      `${f.laneOverlaps.length} (of ${f.laneRuns} in lanes)`,
      `must be 0: ${zero(f.laneOverlaps.length)}`,
    ],
    ["tasks with a retried attempt", `${f.retriedTasks} (${f.retriedByDesign} by design)`, ""],
    [
      "done tasks with an action never run",
      String(f.doneWithoutRun.length),
      `must be 0: ${zero(f.doneWithoutRun.length)}`,
    ],
    [
      "runs of tasks the engine does not hold",
      String(f.runsOfUnknownTasks.length),
      `must be 0: ${zero(f.runsOfUnknownTasks.length)}`,
    ],
    [
      "tasks not final after settling",
      String(f.stuck.length),
      `must be 0: ${zero(f.stuck.length)}`,
    ],
    [
      "tasks that ended other than done",
      String(f.notDone.length),
      `must be 0: ${zero(f.notDone.length)}`,
    ],
    [
      "final states",
      Object.entries(f.finalStatuses)
        .sort(([, a], [, b]) => b - a)
        .map(([status, n]) => `${status} ${n}`)
        .join(", "),
      "",
    ],
    ["settled in", `${run.settledInMs} ms`, ""],
    ["total duration", `${(run.durationMs / 1000).toFixed(1)} s`, ""],
    ["seed", String(run.seed), ""],
  ];
  const header: [string, string, string] = ["figure", "value", "check"];
  const widths = [0, 1, 2].map((col) =>
    Math.max(...[header, ...rows].map((row) => (row[col] as string).length)),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, col) => cell.padEnd(widths[col] as number))
      .join("  ")
      .trimEnd();
  const out = [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
  const details: [string, readonly unknown[]][] = [
    ["lost task ids", f.lost],
    ["execIds run twice", f.doubleRuns],
    ["lane runs that overlapped", f.laneOverlaps],
    ["done tasks with an action never run", f.doneWithoutRun],
    ["runs of tasks the engine does not hold", f.runsOfUnknownTasks],
    ["tasks not final", f.stuck.map((task) => `${task.id} ${task.state}`)],
    ["tasks that ended other than done", f.notDone],
  ];
  for (const [what, items] of details) {
    if (items.length === 0) continue;
    const shown = items.slice(0, DETAIL_LIMIT).join(", ");
    const more = items.length > DETAIL_LIMIT ? ` and ${items.length - DETAIL_LIMIT} more` : "";
    out.push(`${what}: ${shown}${more}`);
  }
  if (run.dir) out.push(`logs kept in ${run.dir}`);
  return out.join("\n");
}
