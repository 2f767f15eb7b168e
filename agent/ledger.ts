/**
 * The agent's memory of attempts by execId. A `run` whose execId is known answers
 * the known state instead of running again (fencing, DESIGN.md section 5). Running
 * attempts keep their handle here; every state is also written to the agent's state
 * store, so the fence holds across agent restarts.
 */
import type { AttemptState } from "../src/protocol";
import type { RunningAction } from "./actions/action";
import type { AgentStateStore } from "./state";

interface Running {
  readonly taskId: number;
  readonly handle: RunningAction;
  state: AttemptState;
}

export class ExecLedger {
  private readonly running = new Map<string, Running>();
  private finishedSinceTrim = 0;

  constructor(
    private readonly store: AgentStateStore,
    /** Finished attempts remembered; older ones are forgotten in bulk. */
    private readonly capacity = 10_000,
  ) {}

  /** The attempt's state, or undefined when the agent has never seen it. */
  state(execId: string): AttemptState | undefined {
    return this.running.get(execId)?.state ?? this.store.getAttempt(execId)?.state;
  }

  handle(execId: string): RunningAction | undefined {
    return this.running.get(execId)?.handle;
  }

  /** Records a started attempt (before it can report anything). */
  started(execId: string, taskId: number, handle: RunningAction): void {
    this.running.set(execId, { taskId, handle, state: "running" });
    this.store.putAttempt({ execId, taskId, state: "running", pid: handle.pid ?? null });
  }

  /** A running attempt was paused or resumed. */
  changed(execId: string, state: AttemptState): void {
    const entry = this.running.get(execId);
    if (!entry) return;
    entry.state = state;
    this.store.putAttempt({ execId, taskId: entry.taskId, state, pid: entry.handle.pid ?? null });
  }

  /** The attempt is over (or was refused before it started). */
  finished(execId: string, taskId: number, state: AttemptState): void {
    this.running.delete(execId);
    this.store.putAttempt({ execId, taskId, state, pid: null });
    if (++this.finishedSinceTrim >= Math.ceil(this.capacity / 10)) {
      this.finishedSinceTrim = 0;
      this.store.trimAttempts(this.capacity);
    }
  }

  /** execIds whose attempt is running or paused now. */
  runningIds(): string[] {
    return [...this.running.keys()];
  }
}
