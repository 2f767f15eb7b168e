/** The native API's answers, as far as the command line reads them (README "Native API"). */

export interface TaskAction {
  readonly type: string;
  readonly params?: Record<string, unknown>;
}

export interface Task {
  readonly id: number;
  readonly name: string;
  readonly state: string;
  readonly status: string;
  readonly outcome: string | null;
  readonly agent: string | null;
  readonly lane: string | null;
  readonly actions: readonly TaskAction[];
  readonly currentActionIdx: number;
  readonly priority: number;
  readonly attempt: number;
  readonly results: readonly unknown[];
  readonly error: string | null;
  readonly timeoutReason: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly accepts: readonly string[];
}

export interface Agent {
  readonly id: string;
  readonly status: "online" | "offline";
  readonly labels: Readonly<Record<string, string>>;
  readonly capabilities: readonly string[];
  readonly instances: readonly Record<string, unknown>[];
  readonly version: string;
  readonly running: readonly string[];
  readonly lastSeenAt: string;
}

/** An exec action's result: `{ok, exitCode?, stdout?, stderr?, message?}`. */
export interface ActionResult {
  readonly ok?: boolean;
  readonly exitCode?: number;
  readonly stdout?: string;
  readonly stderr?: string;
  readonly message?: string;
}

/** Statuses a task does not leave. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set([
  "done",
  "failed",
  "cancelled",
  "timedOut",
]);

export function actionResult(value: unknown): ActionResult | null {
  return value && typeof value === "object" ? (value as ActionResult) : null;
}
