/**
 * Lane actors: one per (tenant, lane key) that has been used. A lane grants its slot
 * to one task at a time; the engine dispatches the granted task.
 */
import { type Actor, createActor } from "xstate";
import { type LaneContext, laneMachine } from "../../machines";
import type { Clock } from "../clock";
import { EntityKind } from "../protocol";
import type { GroupCommitWriter } from "../store/group-commit";
import type { LaneRow } from "../store/store";
import type { Inspect } from "./engine-options";
import type { Journal } from "./journal";
import { statePath, stateValue } from "./task-records";
import type { TimerService } from "./timer-service";

export interface LaneCallbacks {
  /** The lane gives its slot to this task. */
  grant(tenant: string, taskId: number): void;
  /** Resume the paused task holding the lane (RESUME with continue). */
  continueLocked(tenant: string, taskId: number): void;
}

interface PersistedLane {
  readonly state: string;
  readonly context: LaneContext;
}

type LaneActor = Actor<typeof laneMachine>;

function laneKey(tenant: string, key: string): string {
  return `${tenant}\u0000${key}`;
}

export class Lanes {
  private readonly actors = new Map<string, LaneActor>();
  private readonly logic;

  constructor(
    private readonly timers: TimerService,
    private readonly clock: Clock,
    private readonly writer: GroupCommitWriter,
    private readonly journal: Journal,
    callbacks: LaneCallbacks,
    private readonly inspect?: Inspect,
  ) {
    this.logic = laneMachine.provide({
      actions: {
        grant: ({ context }, params) => callbacks.grant(context.tenant, params.taskId),
        continueLocked: ({ context }, params) =>
          callbacks.continueLocked(context.tenant, params.taskId),
      },
    });
  }

  /** Restores lanes from their rows (on start, before tasks are re-armed). */
  restore(rows: readonly LaneRow[]): void {
    for (const row of rows) {
      const persisted = JSON.parse(row.snapshot) as PersistedLane;
      const snapshot = this.logic.resolveState({
        value: stateValue(persisted.state),
        context: persisted.context,
      });
      // `input` is required by the type but unused when a snapshot is given.
      const input = { key: row.key, tenant: row.tenant, now: row.updatedAt };
      this.start(
        row.tenant,
        row.key,
        createActor(this.logic, { snapshot, input, clock: this.timers, inspect: this.inspect }),
      );
    }
  }

  /** The task holding the lane, or null. */
  holder(tenant: string, key: string): number | null {
    return this.actors.get(laneKey(tenant, key))?.getSnapshot().context.running ?? null;
  }

  enqueue(tenant: string, key: string, taskId: number, priority: number): void {
    this.lane(tenant, key).send({ type: "ENQUEUE", taskId, priority, at: this.clock.now() });
  }

  /** A task left the lane (finished, cancelled, or gone): free its slot or queue place. */
  remove(tenant: string, key: string, taskId: number): void {
    this.actors.get(laneKey(tenant, key))?.send({ type: "REMOVE", taskId, at: this.clock.now() });
  }

  pause(tenant: string, key: string): void {
    this.lane(tenant, key).send({ type: "PAUSE", at: this.clock.now() });
  }

  resume(tenant: string, key: string, continueLocked: boolean): void {
    this.lane(tenant, key).send({ type: "RESUME", continue: continueLocked, at: this.clock.now() });
  }

  /** Every lane's holder, for reconciling after a restart. */
  holders(): { tenant: string; key: string; taskId: number }[] {
    const result: { tenant: string; key: string; taskId: number }[] = [];
    for (const actor of this.actors.values()) {
      const { tenant, key, running } = actor.getSnapshot().context;
      if (running !== null) result.push({ tenant, key, taskId: running });
    }
    return result;
  }

  /** The lanes of `owners` (a tenant, and "*" for shared ones), for the visualizer. */
  list(owners: readonly string[]): { state: string; context: LaneContext }[] {
    const result: { state: string; context: LaneContext }[] = [];
    for (const actor of this.actors.values()) {
      const snapshot = actor.getSnapshot();
      if (owners.includes(snapshot.context.tenant)) {
        result.push({ state: statePath(snapshot.value), context: snapshot.context });
      }
    }
    return result;
  }

  state(tenant: string, key: string): { state: string; context: LaneContext } | undefined {
    const actor = this.actors.get(laneKey(tenant, key));
    if (!actor) return undefined;
    const snapshot = actor.getSnapshot();
    return { state: statePath(snapshot.value), context: snapshot.context };
  }

  private lane(tenant: string, key: string): LaneActor {
    const existing = this.actors.get(laneKey(tenant, key));
    if (existing) return existing;
    const actor = createActor(this.logic, {
      input: { key, tenant, now: this.clock.now() },
      clock: this.timers,
      inspect: this.inspect,
    });
    return this.start(tenant, key, actor);
  }

  private start(tenant: string, key: string, actor: LaneActor): LaneActor {
    const id = laneKey(tenant, key);
    this.actors.set(id, actor);
    let last = "";
    const serialize = (): LaneRow => {
      const snapshot = actor.getSnapshot();
      const state = statePath(snapshot.value);
      const persisted: PersistedLane = { state, context: snapshot.context };
      return {
        tenant,
        key,
        state,
        updatedAt: snapshot.context.updatedAt,
        snapshot: JSON.stringify(persisted),
      };
    };
    actor.subscribe((snapshot) => {
      this.writer.markLane(id, serialize);
      const state = statePath(snapshot.value);
      if (state !== last) {
        if (last !== "") {
          const event = state.startsWith("paused") ? "paused" : "open";
          this.journal.record(
            EntityKind.Lane,
            key,
            event,
            state,
            tenant,
            snapshot.context.updatedAt,
          );
        }
        last = state;
      }
    });
    actor.start();
    last = statePath(actor.getSnapshot().value);
    return actor;
  }
}
