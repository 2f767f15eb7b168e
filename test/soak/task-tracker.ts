/**
 * Per-task latency, submit → final state, as a client of the engine sees it.
 *
 * The final state is taken from the engine's own events on NATS
 * (`fw.events.task.<id>.<final state>`), which the engine publishes anyway and only
 * after the state is committed: listening costs the engine nothing, unlike an SSE
 * stream it would have to serve, and an event seen means the outcome is durable. Only
 * the four final subjects are subscribed, one message a task.
 *
 * A task's final event can arrive before the answer to its POST (which carries the
 * id), so both halves are kept until they meet.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { FINAL_TASK_STATES } from "../../src/protocol/task-states";

export interface FinishedTask {
  readonly id: number;
  readonly state: string;
  /** performance.now() when the submit was sent. */
  readonly submittedAt: number;
  readonly latencyMs: number;
}

export class TaskTracker {
  /** Acknowledged tasks whose final event has not arrived: id → submit time. */
  private readonly pending = new Map<number, number>();
  /** Final events that arrived before their task's POST answer: id → [time, state]. */
  private readonly early = new Map<number, [number, string]>();
  private readonly finished: FinishedTask[] = [];
  private readonly statesSeen = new Map<string, number>();
  /** Closed-loop clients waiting for one task each: id → resolve. */
  private readonly waiters = new Map<number, () => void>();
  private acknowledged = 0;

  private constructor(private readonly nc: NatsConnection) {}

  /** Subscribes before the first submit, so no final event can be missed. */
  static async open(natsUrl: string): Promise<TaskTracker> {
    const nc = await connect({ servers: natsUrl, name: "fw-soak-tracker" });
    const tracker = new TaskTracker(nc);
    for (const state of FINAL_TASK_STATES) {
      nc.subscribe(`fw.events.task.*.${state}`, {
        callback: (error, message) => {
          if (error) throw error;
          const id = Number(message.subject.split(".")[3]);
          tracker.finalSeen(id, state, performance.now());
        },
      });
    }
    // The server has the subscriptions once a round trip is done.
    await nc.flush();
    return tracker;
  }

  /** A submit that the engine answered 2xx with this id; `startedAt` is performance.now(). */
  acknowledge(id: number, startedAt: number): void {
    this.acknowledged++;
    const early = this.early.get(id);
    if (early) {
      this.early.delete(id);
      this.finish(id, early[1], startedAt, early[0]);
    } else {
      this.pending.set(id, startedAt);
    }
  }

  /** Resolves when the acknowledged task `id` has reached a final state. */
  whenFinal(id: number): Promise<void> {
    if (!this.pending.has(id)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.set(id, resolve));
  }

  get acknowledgedCount(): number {
    return this.acknowledged;
  }

  get finishedCount(): number {
    return this.finished.length;
  }

  /** Acknowledged tasks with no final event yet. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Ids of acknowledged tasks with no final event yet (for asking the engine). */
  pendingIds(): number[] {
    return [...this.pending.keys()];
  }

  /** Final states seen, with their counts (all should be `done` for noop tasks). */
  finalStates(): ReadonlyMap<string, number> {
    return this.statesSeen;
  }

  /** Tasks finished so far, in the order their final events arrived. */
  finishedTasks(): readonly FinishedTask[] {
    return this.finished;
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }

  private finalSeen(id: number, state: string, at: number): void {
    const startedAt = this.pending.get(id);
    if (startedAt === undefined) {
      // Either its POST answer is still on the way, or the task is not ours (a task
      // from an earlier phase finishing late is still ours: it was acknowledged).
      this.early.set(id, [at, state]);
      return;
    }
    this.pending.delete(id);
    this.finish(id, state, startedAt, at);
  }

  private finish(id: number, state: string, startedAt: number, at: number): void {
    this.statesSeen.set(state, (this.statesSeen.get(state) ?? 0) + 1);
    this.finished.push({
      id,
      state,
      submittedAt: startedAt,
      latencyMs: at - startedAt,
    });
    const waiter = this.waiters.get(id);
    if (waiter) {
      this.waiters.delete(id);
      waiter();
    }
  }
}
