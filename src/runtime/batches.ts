/**
 * Batch actors: one task per target, created together. A batch counts its tasks'
 * outcomes and finishes with the last one; once that is on disk it leaves memory.
 */
import { type Actor, createActor } from "xstate";
import { type BatchContext, batchMachine, type TaskOutcome } from "../../machines";
import type { Clock } from "../clock";
import { NotFoundError } from "../errors";
import { EntityKind } from "../protocol";
import type { GroupCommitWriter } from "../store/group-commit";
import type { BatchRow } from "../store/store";
import type { BatchView } from "./commands";
import type { Inspect } from "./engine-options";
import type { Journal } from "./journal";
import { statePath, stateValue } from "./task-records";
import type { TimerService } from "./timer-service";

interface PersistedBatch {
  readonly state: string;
  readonly context: BatchContext;
}

type BatchActor = Actor<typeof batchMachine>;

export function batchView(state: string, context: BatchContext): BatchView {
  return {
    id: context.id,
    tenant: context.tenant,
    // Absent from snapshots written before batches had kinds.
    kind: context.kind ?? "",
    status: state === "finished" ? "finished" : "running",
    taskIds: context.taskIds,
    outcomes: context.outcomes,
    counts: context.counts,
    createdAt: context.createdAt,
    executeAt: context.executeAt,
    finishedAt: context.finishedAt,
  };
}

export function parseBatchRow(row: BatchRow): BatchView {
  const persisted = JSON.parse(row.snapshot) as PersistedBatch;
  return batchView(persisted.state, persisted.context);
}

export class Batches {
  private readonly actors = new Map<number, BatchActor>();
  private readonly logic;
  private lastId: number;

  constructor(
    private readonly timers: TimerService,
    private readonly clock: Clock,
    private readonly writer: GroupCommitWriter,
    private readonly journal: Journal,
    lastId: number,
    /** Cancel every task of the batch that has not finished. */
    cancelTasks: (tenant: string, taskIds: readonly number[]) => void,
    private readonly inspect?: Inspect,
  ) {
    this.lastId = lastId;
    this.logic = batchMachine.provide({
      actions: {
        cancelTasks: ({ context }) =>
          queueMicrotask(() =>
            cancelTasks(
              context.tenant,
              context.taskIds.filter((id) => context.outcomes[id] === undefined),
            ),
          ),
      },
    });
  }

  /** The id the next batch will get (tasks are created with it before the batch). */
  nextId(): number {
    return ++this.lastId;
  }

  create(
    id: number,
    tenant: string,
    kind: string,
    taskIds: readonly number[],
    executeAt: number,
  ): BatchView {
    const now = this.clock.now();
    const actor = createActor(this.logic, {
      input: { id, tenant, kind, taskIds, executeAt, now },
      clock: this.timers,
      inspect: this.inspect,
    });
    this.start(actor, "");
    const snapshot = actor.getSnapshot();
    return batchView(statePath(snapshot.value), snapshot.context);
  }

  /** Restores unfinished batches (on start). */
  restore(rows: readonly BatchRow[]): void {
    for (const row of rows) {
      const persisted = JSON.parse(row.snapshot) as PersistedBatch;
      const snapshot = this.logic.resolveState({
        value: stateValue(persisted.state),
        context: persisted.context,
      });
      const { id, tenant, kind, taskIds, executeAt, createdAt } = persisted.context;
      const input = { id, tenant, kind, taskIds, executeAt, now: createdAt };
      this.start(
        createActor(this.logic, { snapshot, input, clock: this.timers, inspect: this.inspect }),
        persisted.state,
      );
    }
  }

  taskFinished(batchId: number, taskId: number, outcome: TaskOutcome): void {
    this.actors
      .get(batchId)
      ?.send({ type: "TASK_FINISHED", taskId, outcome, at: this.clock.now() });
  }

  cancel(tenant: string, id: number): void {
    const actor = this.actors.get(id);
    if (!actor || actor.getSnapshot().context.tenant !== tenant) {
      throw new NotFoundError("batch", id);
    }
    actor.send({ type: "CANCEL", at: this.clock.now() });
  }

  /** The live batch's view, or undefined when it is not in memory. */
  get(id: number): BatchView | undefined {
    const actor = this.actors.get(id);
    if (!actor) return undefined;
    const snapshot = actor.getSnapshot();
    return batchView(statePath(snapshot.value), snapshot.context);
  }

  /** Takes back a batch whose creation was never committed (the store refused it). */
  withdraw(id: number): void {
    this.actors.get(id)?.stop();
    this.actors.delete(id);
    this.writer.forgetBatch(id);
    this.journal.forget(EntityKind.Batch, id);
  }

  /** A finished batch leaves memory once its final state is on disk. */
  committed(id: number, state: string): void {
    if (state === "finished") this.actors.delete(id);
  }

  private start(actor: BatchActor, restoredPath: string) {
    const { id, tenant } = actor.getSnapshot().context;
    this.actors.set(id, actor);
    let last = restoredPath;
    const serialize = (): BatchRow => {
      const snapshot = actor.getSnapshot();
      const state = statePath(snapshot.value);
      const persisted: PersistedBatch = { state, context: snapshot.context };
      return {
        id,
        tenant,
        kind: snapshot.context.kind ?? "",
        state,
        createdAt: snapshot.context.createdAt,
        updatedAt: snapshot.context.updatedAt,
        finishedAt: snapshot.context.finishedAt,
        snapshot: JSON.stringify(persisted),
      };
    };
    actor.subscribe((snapshot) => {
      this.writer.markBatch(id, serialize);
      const state = statePath(snapshot.value);
      if (state === last) return;
      last = state;
      this.journal.record(EntityKind.Batch, id, state, state, tenant, snapshot.context.updatedAt, {
        counts: snapshot.context.counts,
      });
    });
    actor.start();
    if (restoredPath === "") {
      this.writer.markBatch(id, serialize);
      last = statePath(actor.getSnapshot().value);
      this.journal.record(EntityKind.Batch, id, "running", last, tenant, this.clock.now());
    }
  }
}
