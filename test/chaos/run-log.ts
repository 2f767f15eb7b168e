/**
 * What the agents really ran: each agent's run log holds two lines per action attempt
 * its `sh` ran, `<taskId> <execId> <nonce> start|end <epoch ns>`, written by the
 * command itself (see task-load.ts).
 */
import { existsSync, readFileSync } from "node:fs";

export interface Run {
  readonly agent: string;
  readonly taskId: number;
  /** `<taskId>-<actionIdx>-<attempt>` */
  readonly execId: string;
  readonly actionIdx: number;
  readonly attempt: number;
  readonly nonce: string;
  /** Epoch milliseconds (fractional) on the agent's host. */
  readonly startedAt: number;
  /** Undefined when the command never got to its end. */
  endedAt?: number;
}

const LINE = /^(\d+) ((\d+)-(\d+)-(\d+)) (\S+) (start|end) (\d+)$/;

/** The runs one agent recorded; a missing log means it ran nothing. */
export function readRunLog(agent: string, file: string): Run[] {
  if (!existsSync(file)) return [];
  const runs: Run[] = [];
  /** Runs without their end yet, by execId, oldest first. */
  const open = new Map<string, Run[]>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line === "") continue;
    const match = LINE.exec(line);
    // A line without an execId means the agent did not tell the command its attempt:
    // then nothing here can be counted, so stop rather than report a false zero.
    if (!match || match[1] !== match[3]) {
      throw new Error(`${file}: run line "${line}" does not name its task and attempt`);
    }
    const [, taskId, execId, , actionIdx, attempt, nonce, moment, ns] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      "start" | "end",
      string,
    ];
    const at = Number(BigInt(ns) / 1000n) / 1000;
    if (moment === "start") {
      const run: Run = {
        agent,
        taskId: Number(taskId),
        execId,
        actionIdx: Number(actionIdx),
        attempt: Number(attempt),
        nonce,
        startedAt: at,
      };
      runs.push(run);
      open.set(execId, [...(open.get(execId) ?? []), run]);
    } else {
      const run = open.get(execId)?.shift();
      if (run) run.endedAt = at;
    }
  }
  return runs;
}

/** Runs grouped by execId: more than one run of an execId is an attempt run twice. */
export function runsByExecId(runs: readonly Run[]): Map<string, Run[]> {
  const byExecId = new Map<string, Run[]>();
  for (const run of runs) {
    const list = byExecId.get(run.execId);
    if (list) list.push(run);
    else byExecId.set(run.execId, [run]);
  }
  return byExecId;
}

/**
 * Pairs of runs in one lane that overlapped in time (a lane runs one task at a time).
 * `laneOf` names a run's lane, or undefined when it has none.
 */
export function laneOverlaps(
  runs: readonly Run[],
  laneOf: (run: Run) => string | undefined,
): string[] {
  const byLane = new Map<string, Run[]>();
  for (const run of runs) {
    const lane = laneOf(run);
    if (lane === undefined) continue;
    byLane.set(lane, [...(byLane.get(lane) ?? []), run]);
  }
  // A run that never got to its end lasts, as far as anyone can tell, for ever.
  const end = (run: Run) => run.endedAt ?? Number.POSITIVE_INFINITY;
  const overlaps: string[] = [];
  for (const [lane, list] of byLane) {
    list.sort((a, b) => a.startedAt - b.startedAt);
    /** The run that ends last among those started so far. */
    let latest: Run | undefined;
    for (const run of list) {
      // Two actions of one task run one after the other too, so any overlap counts.
      if (latest && run.startedAt < end(latest)) {
        overlaps.push(`${lane}: ${latest.execId} and ${run.execId}`);
      }
      if (!latest || end(run) > end(latest)) latest = run;
    }
  }
  return overlaps;
}
