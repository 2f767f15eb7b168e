/**
 * What the periodic-command routes need from the engine: the schedule host's commands
 * and queries, as plain data. Defined here so src/api does not import the runtime;
 * the runtime's `Schedules` satisfies it structurally.
 */

/** Which agents run the command; both parts must match. Absent: every agent. */
export interface PeriodicSelector {
  readonly ids?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
}

export interface PeriodicCreate {
  readonly command: string;
  /** Exactly one of `everyMs` and `cron`. */
  readonly everyMs?: number;
  readonly cron?: string;
  readonly agents?: PeriodicSelector;
  readonly timeoutMs?: number;
}

export interface PeriodicSchedule {
  readonly id: string;
  readonly command: string;
  readonly everyMs: number | null;
  readonly cron: string | null;
  readonly agents: PeriodicSelector | null;
  readonly timeoutMs: number | null;
  /** `active` or `paused`. */
  readonly state: string;
  readonly nextAt: number | null;
  readonly lastTickAt: number | null;
  /** Agents whose run is going. */
  readonly running: readonly string[];
  readonly createdAt: number;
}

export interface PeriodicOutput {
  readonly agentId: string;
  readonly stdout?: string;
  readonly stderr?: string;
}

export interface PeriodicLatest {
  readonly completionTime: number | null;
  readonly outputs: readonly PeriodicOutput[];
}

export interface PeriodicRun {
  readonly agentId: string;
  readonly taskId: number | null;
  readonly startedAt: number;
  readonly completedAt: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly ok: boolean;
}

export interface PeriodicReport {
  readonly serverId: string;
  readonly stdout?: string;
  readonly stderr?: string;
}

/**
 * Every method takes the caller's tenant: another tenant's schedule is a NotFoundError,
 * exactly like a missing one. Bad input is an InvalidInputError naming the field, a
 * refused command an IllegalTransitionError.
 */
export interface PeriodicApi {
  /** Resolves with the new schedule's id once it is durable. */
  create(tenant: string, spec: PeriodicCreate): Promise<string>;
  get(tenant: string, id: string): Promise<PeriodicSchedule>;
  list(tenant: string): Promise<readonly PeriodicSchedule[]>;
  pause(tenant: string, id: string): Promise<PeriodicSchedule>;
  resume(tenant: string, id: string): Promise<PeriodicSchedule>;
  delete(tenant: string, id: string): Promise<void>;
  complete(tenant: string, id: string, report: PeriodicReport): Promise<void>;
  latestOutput(tenant: string, id: string): Promise<PeriodicLatest>;
  /** Newest first; `limit` 1..1000. */
  history(tenant: string, id: string, limit: number): Promise<readonly PeriodicRun[]>;
}
