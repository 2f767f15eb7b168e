/**
 * The agent's memory of recent attempts by execId. A `run` whose execId is known
 * answers the known state instead of running again (fencing, DESIGN.md section 5).
 */
import type { AttemptState } from "../src/protocol";
import type { RunningAction } from "./actions/action";

export interface LedgerEntry {
  state: AttemptState;
  readonly taskId: number;
  running?: RunningAction;
}

export class ExecLedger {
  private readonly entries = new Map<string, LedgerEntry>();

  /** Finished attempts remembered; the oldest are forgotten past this. */
  constructor(private readonly capacity = 10_000) {}

  get(execId: string): LedgerEntry | undefined {
    return this.entries.get(execId);
  }

  add(execId: string, entry: LedgerEntry): void {
    this.entries.set(execId, entry);
    // Evict in bulk (a tenth of the capacity at a time) so the scan is amortised.
    if (this.entries.size > this.capacity + Math.ceil(this.capacity / 10)) this.forgetFinished();
  }

  /** execIds whose attempt is running or paused now. */
  running(): string[] {
    const ids: string[] = [];
    for (const [execId, entry] of this.entries) if (entry.running) ids.push(execId);
    return ids;
  }

  private forgetFinished() {
    // Maps iterate in insertion order: the first finished entries are the oldest.
    for (const [execId, entry] of this.entries) {
      if (this.entries.size <= this.capacity) return;
      if (!entry.running) this.entries.delete(execId);
    }
  }
}
