/**
 * A steady stream of exec tasks through two HTTP API families (native `POST /tasks`
 * and XINA `POST /xina/action`), paced at a fixed rate, keeping a record of every
 * submission and of what its answer was.
 *
 * Each task's command first appends `<FW_TASK_ID> <FW_EXEC_ID> <nonce> start <ns>` to
 * the run log the agent that runs it names in `FW_CHAOS_RUN_LOG`, and the same with
 * `end` when it is over, so what really ran, where, when and for which attempt is read
 * from the agents' side afterwards (see run-log.ts).
 */
import { AUTH } from "../helpers/server-process";
import type { EngineGate } from "./engine-gate";
import type { SeededRandom } from "./seeded-random";

export const ApiFamily = { Native: "native", Xina: "xina" } as const;
export type ApiFamily = (typeof ApiFamily)[keyof typeof ApiFamily];

export const SubmissionOutcome = {
  /** A 2xx with the task's id came back. */
  Acknowledged: "acknowledged",
  /** The request died with the connection (the engine was killed): no answer. */
  Unacknowledged: "unacknowledged",
  /** The engine answered, but not with a 2xx and an id. */
  Refused: "refused",
} as const;
export type SubmissionOutcome = (typeof SubmissionOutcome)[keyof typeof SubmissionOutcome];

export interface Submission {
  /** Unique in the run; the task's name, so an unanswered submission can be found. */
  readonly nonce: string;
  readonly family: ApiFamily;
  readonly agent: string;
  readonly actionCount: number;
  /** The first attempt of its only action exits 1, and its retry policy runs it again. */
  readonly failsFirstAttempt: boolean;
  /** The lane (XINA: thread) it queues in, whose tasks must run one at a time. */
  readonly lane?: string;
  outcome?: SubmissionOutcome;
  id?: number;
  /** What a refusal or a dead request said. */
  detail?: string;
}

export interface TaskLoadOptions {
  readonly gate: EngineGate;
  readonly random: SeededRandom;
  /** The agents tasks are spread over (round robin). */
  readonly agents: readonly string[];
  readonly ratePerSecond: number;
  /** Submissions in flight at once, at most. */
  readonly maxInFlight: number;
  /**
   * A request that gets no answer in this time counts as unacknowledged. Long enough
   * that only a dead engine explains it.
   */
  readonly requestTimeoutMs: number;
}

/** `sh` line that records this attempt's start or end in the running agent's run log. */
function recordRun(nonce: string, moment: "start" | "end"): string {
  return `printf '%s %s %s %s %s\\n' "$FW_TASK_ID" "$FW_EXEC_ID" ${nonce} ${moment} "$(date +%s%N)" >> "$FW_CHAOS_RUN_LOG"`;
}

/** Lanes (and XINA threads) the load queues some tasks in. */
const LANES = 3;

export class TaskLoad {
  readonly submissions: Submission[] = [];
  private stopped = false;
  private inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private sequence = 0;

  constructor(private readonly options: TaskLoadOptions) {}

  start(): void {
    this.loop = this.run();
  }

  /** Stops submitting and waits for the answers of what is in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.all(this.inFlight);
  }

  private async run(): Promise<void> {
    const { gate, ratePerSecond, maxInFlight } = this.options;
    const intervalMs = 1000 / ratePerSecond;
    let next = performance.now();
    while (!this.stopped) {
      const url = await gate.whenOpen();
      if (this.stopped) break;
      if (this.inFlight.size >= maxInFlight) {
        await Promise.race(this.inFlight);
        continue;
      }
      const request = this.submit(url).finally(() => this.inFlight.delete(request));
      this.inFlight.add(request);
      // Pacing, not waiting for a condition: the load is meant to be steady. After a
      // pause at the gate it resumes at the rate, without a burst to catch up.
      next = Math.max(next + intervalMs, performance.now());
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
    }
  }

  private plan(): Submission {
    const { random, agents } = this.options;
    const nonce = `chaos${++this.sequence}`;
    const family = random.chance(0.25) ? ApiFamily.Xina : ApiFamily.Native;
    const agent = agents[this.sequence % agents.length] as string;
    // Native tasks carry the mix: some run two actions, some fail their first attempt
    // and retry, so an honest count of double runs has retries to tell apart.
    const actionCount = family === ApiFamily.Native && random.chance(0.2) ? 2 : 1;
    const failsFirstAttempt =
      family === ApiFamily.Native && actionCount === 1 && random.chance(0.2);
    // Few enough, and short enough (below), that the lanes keep up with the load.
    const lane = random.chance(0.05)
      ? `chaos-${family === ApiFamily.Xina ? "thread" : "lane"}-${random.between(1, LANES)}`
      : undefined;
    return { nonce, family, agent, actionCount, failsFirstAttempt, lane };
  }

  /**
   * A command that some of the time lasts long enough to be running at a kill, and
   * now and then long enough to outlast the engine's restart.
   */
  private command(submission: Submission): string {
    const { random } = this.options;
    const parts = [recordRun(submission.nonce, "start")];
    if (random.chance(0.05) && !submission.lane) parts.push(`sleep ${random.between(2, 4)}`);
    else if (random.chance(0.3)) parts.push(`sleep 0.${random.between(1, 5)}`);
    parts.push(recordRun(submission.nonce, "end"));
    if (submission.failsFirstAttempt) parts.push(`case "$FW_EXEC_ID" in *-1) exit 1;; esac`);
    return parts.join("; ");
  }

  private body(submission: Submission): { path: string; body: unknown } {
    const { nonce, agent } = submission;
    if (submission.family === ApiFamily.Xina) {
      return {
        path: "/xina/action",
        body: {
          action: "run",
          tasks: [
            {
              name: nonce,
              ...(submission.lane ? { thread: submission.lane } : {}),
              conf: { agent, command: this.command(submission) },
            },
          ],
        },
      };
    }
    const actions = Array.from({ length: submission.actionCount }, () => ({
      type: "exec",
      params: { command: this.command(submission) },
    }));
    return {
      path: "/tasks",
      body: {
        name: nonce,
        refId: nonce,
        agent,
        ...(submission.lane ? { lane: submission.lane } : {}),
        actions,
        ...(submission.failsFirstAttempt ? { retry: { limit: 2, backoffMs: 50 } } : {}),
      },
    };
  }

  private async submit(url: string): Promise<void> {
    const submission = this.plan();
    this.submissions.push(submission);
    const { path, body } = this.body(submission);
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { ...AUTH, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
    } catch (error) {
      submission.outcome = SubmissionOutcome.Unacknowledged;
      submission.detail =
        error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return;
    }
    let text = "";
    try {
      text = await response.text();
    } catch (error) {
      // The headers came, the body died with the engine: no id, so no acknowledgement.
      submission.outcome = SubmissionOutcome.Unacknowledged;
      submission.detail = `body lost: ${String(error)}`;
      return;
    }
    const id = response.ok ? idOf(submission.family, text) : undefined;
    if (id === undefined) {
      submission.outcome = SubmissionOutcome.Refused;
      submission.detail = `${response.status} ${text.slice(0, 200)}`;
      return;
    }
    submission.outcome = SubmissionOutcome.Acknowledged;
    submission.id = id;
  }
}

/** The task id in a 2xx answer of either family, if there is one. */
function idOf(family: ApiFamily, text: string): number | undefined {
  try {
    const json = JSON.parse(text) as { id?: unknown; tasks?: { id?: unknown }[] };
    const id = family === ApiFamily.Xina ? json.tasks?.[0]?.id : json.id;
    return typeof id === "number" && Number.isInteger(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
