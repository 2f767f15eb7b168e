/**
 * The journal of state changes. Every change becomes an event row written in the
 * same group commit as the state itself, and is published on the bus only after that
 * commit: a subscriber never sees a change the engine could forget in a crash.
 */
import type { Bus } from "../bus/bus";
import { type EntityEvent, type EntityKind, subjects } from "../protocol";
import type { GroupCommitWriter } from "../store/group-commit";
import type { EventRow } from "../store/store";

export class Journal {
  private seq: number;
  /** Recorded, not yet committed, in seq order. */
  private unpublished: EntityEvent[] = [];

  constructor(
    private readonly writer: GroupCommitWriter,
    private readonly bus: Bus,
    lastSeq: number,
  ) {
    this.seq = lastSeq;
  }

  get lastSeq(): number {
    return this.seq;
  }

  record(
    kind: EntityKind,
    id: number | string,
    event: string,
    state: string,
    tenant: string,
    at: number,
    data?: unknown,
  ): void {
    const seq = ++this.seq;
    const entityId = String(id);
    this.writer.appendEvent({
      seq,
      kind,
      entityId,
      event,
      state,
      tenant,
      at,
      data: data === undefined ? null : JSON.stringify(data),
    });
    this.unpublished.push({ seq, kind, id: entityId, event, state, tenant, at, data });
  }

  /** Takes back the uncommitted events of an entity that was never committed. */
  forget(kind: EntityKind, id: number | string): void {
    const entityId = String(id);
    this.writer.forgetEvents((row) => row.kind === kind && row.entityId === entityId);
    this.unpublished = this.unpublished.filter(
      (event) => !(event.kind === kind && String(event.id) === entityId),
    );
  }

  /** Publishes the events a commit made durable. */
  publishCommitted(committed: readonly EventRow[]): void {
    const last = committed[committed.length - 1];
    if (!last) return;
    let published = 0;
    for (const event of this.unpublished) {
      if (event.seq > last.seq) break;
      this.bus.publish(subjects.event(event.kind as EntityKind, event.id, event.event), event);
      published++;
    }
    this.unpublished =
      published === this.unpublished.length ? [] : this.unpublished.slice(published);
  }
}
