/**
 * From what was submitted, what the engine holds after the last restart and what the
 * agents ran, to the crash harness's figures. Pure: the harness gathers the inputs.
 */
import type { Run } from "./run-log";
import { laneOverlaps, runsByExecId } from "./run-log";
import { type Submission, SubmissionOutcome } from "./task-load";

/** A task as `GET /tasks` shows it, the fields the figures read. */
export interface StoredTask {
  readonly id: number;
  readonly name: string;
  readonly state: string;
  readonly status: string;
  readonly actions: readonly unknown[];
  readonly execId: string | null;
  readonly timeoutReason: string | null;
  readonly error: string | null;
}

export const FINAL_STATUSES: readonly string[] = ["done", "failed", "cancelled", "timedOut"];

export interface CrashFigures {
  readonly submitted: number;
  readonly acknowledged: number;
  /** Acknowledged, by the API family they came through. */
  readonly acknowledgedByFamily: Readonly<Record<string, number>>;
  readonly unacknowledged: number;
  /** Of the unacknowledged, those the engine did keep (either is allowed). */
  readonly unacknowledgedStored: number;
  readonly refused: number;
  /** Acknowledged tasks not found after the last restart (or found holding another task). */
  readonly lost: readonly number[];
  readonly runs: number;
  /** execIds that ran more than once: one attempt run twice. */
  readonly doubleRuns: readonly string[];
  /** Runs of one lane that overlapped in time (a lane runs one task at a time). */
  readonly laneOverlaps: readonly string[];
  /** Runs of tasks in a lane, which the overlaps are looked for among. */
  readonly laneRuns: number;
  /** Tasks that ran an attempt past their first, and of those, the ones meant to. */
  readonly retriedTasks: number;
  readonly retriedByDesign: number;
  /** Done tasks with an action that never ran on an agent. */
  readonly doneWithoutRun: readonly number[];
  /** Runs of a task the engine does not hold (it ran something it then forgot). */
  readonly runsOfUnknownTasks: readonly string[];
  /** Tasks not in a final state when the settle window ended. */
  readonly stuck: readonly StoredTask[];
  /**
   * Final tasks that did not end done. Every task of the load is meant to succeed
   * (a failed first attempt is retried) and the agents never die, so any other end is
   * the engine giving up on work that was fine.
   */
  readonly notDone: readonly string[];
  /** Final tasks by status (timedOut split by reason). */
  readonly finalStatuses: Readonly<Record<string, number>>;
}

export function countFigures(input: {
  readonly submissions: readonly Submission[];
  /** Every task the engine lists after settling. */
  readonly stored: readonly StoredTask[];
  /** Looks an acknowledged task up by id when the list lacks it (undefined: 404). */
  readonly confirmed: ReadonlyMap<number, StoredTask | undefined>;
  readonly runs: readonly Run[];
}): CrashFigures {
  const { submissions, stored, confirmed, runs } = input;
  const byId = new Map(stored.map((task) => [task.id, task]));
  const byName = new Map(stored.map((task) => [task.name, task]));
  const acknowledged = submissions.filter((s) => s.outcome === SubmissionOutcome.Acknowledged);
  const unacknowledged = submissions.filter((s) => s.outcome === SubmissionOutcome.Unacknowledged);

  const lost: number[] = [];
  for (const submission of acknowledged) {
    const id = submission.id as number;
    const task = byId.has(id) ? byId.get(id) : confirmed.get(id);
    // A task under the acknowledged id that holds another submission means the id was
    // handed out again: the acknowledged one is gone all the same.
    if (task?.name !== submission.nonce) lost.push(id);
  }

  const byExecId = runsByExecId(runs);
  const doubleRuns = [...byExecId].filter(([, list]) => list.length > 1).map(([execId]) => execId);
  const laneOfNonce = new Map(submissions.map((s) => [s.nonce, s.lane]));
  const overlaps = laneOverlaps(runs, (run) => laneOfNonce.get(run.nonce));
  const retried = new Set(runs.filter((run) => run.attempt > 1).map((run) => run.nonce));
  const byDesign = new Set(submissions.filter((s) => s.failsFirstAttempt).map((s) => s.nonce));

  const ranActions = new Set(runs.map((run) => `${run.taskId}-${run.actionIdx}`));
  const doneWithoutRun = stored
    .filter((task) => task.status === "done")
    .filter((task) => task.actions.some((_, idx) => !ranActions.has(`${task.id}-${idx}`)))
    .map((task) => task.id);

  const runsOfUnknownTasks = runs
    .filter((run) => byId.get(run.taskId)?.name !== run.nonce)
    .map((run) => `${run.execId} (${run.nonce} on ${run.agent})`);

  const acknowledgedByFamily: Record<string, number> = {};
  for (const submission of acknowledged) {
    acknowledgedByFamily[submission.family] = (acknowledgedByFamily[submission.family] ?? 0) + 1;
  }

  const finalStatuses: Record<string, number> = {};
  for (const task of stored) {
    if (!FINAL_STATUSES.includes(task.status)) continue;
    const key = task.timeoutReason ? `${task.status} (${task.timeoutReason})` : task.status;
    finalStatuses[key] = (finalStatuses[key] ?? 0) + 1;
  }

  return {
    submitted: submissions.length,
    acknowledged: acknowledged.length,
    acknowledgedByFamily,
    unacknowledged: unacknowledged.length,
    unacknowledgedStored: unacknowledged.filter((s) => byName.has(s.nonce)).length,
    refused: submissions.filter((s) => s.outcome === SubmissionOutcome.Refused).length,
    lost,
    runs: runs.length,
    doubleRuns,
    laneOverlaps: overlaps,
    laneRuns: runs.filter((run) => laneOfNonce.get(run.nonce) !== undefined).length,
    retriedTasks: retried.size,
    retriedByDesign: [...retried].filter((nonce) => byDesign.has(nonce)).length,
    doneWithoutRun,
    runsOfUnknownTasks,
    stuck: stored.filter((task) => !FINAL_STATUSES.includes(task.status)),
    notDone: stored
      .filter((task) => FINAL_STATUSES.includes(task.status) && task.status !== "done")
      .map((task) => `${task.id} ${task.status} (${task.timeoutReason ?? task.error ?? "?"})`),
    finalStatuses,
  };
}
