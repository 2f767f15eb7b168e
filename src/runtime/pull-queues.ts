/**
 * The claimable tasks of pulled work (tasks external executors claim over HTTP instead
 * of the engine sending them to an agent), per tenant and queue, oldest `executeAt`
 * first, and the long-polls waiting for one.
 *
 * A queue only orders ids; whether a task may still be claimed is the engine's to
 * check (it may have been cancelled or paused since it was offered). An offered id
 * is valid until it is offered again or forgotten, so stale entries need no search to
 * remove: they are dropped when a scan meets them.
 */

import type { Clock } from "../clock";

interface Entry {
  readonly id: number;
  readonly executeAt: number;
  readonly token: number;
}

interface Waiter {
  readonly tenant: string;
  readonly queues: ReadonlySet<string>;
  readonly wake: () => void;
}

const key = (tenant: string, queue: string) => `${tenant}\u0000${queue}`;

function before(a: Entry, b: Entry): boolean {
  return a.executeAt < b.executeAt || (a.executeAt === b.executeAt && a.id < b.id);
}

export class PullQueues {
  private readonly queues = new Map<string, Entry[]>();
  /** The token of each id's one valid entry. */
  private readonly tokens = new Map<number, number>();
  private readonly waiters: Waiter[] = [];
  private nextToken = 0;

  /** Long-polls time out on the engine's clock. */
  constructor(private readonly clock: Pick<Clock, "setTimeout" | "clearTimeout">) {}

  /** Makes the task claimable and wakes one long-poll that waits for its queue. */
  offer(tenant: string, queue: string, id: number, executeAt: number): void {
    const entry: Entry = { id, executeAt, token: ++this.nextToken };
    this.tokens.set(id, entry.token);
    const k = key(tenant, queue);
    let entries = this.queues.get(k);
    if (!entries) {
      entries = [];
      this.queues.set(k, entries);
    }
    // Tasks mostly become ready in executeAt order: appending is the common case.
    const last = entries[entries.length - 1];
    if (!last || before(last, entry)) entries.push(entry);
    else {
      let lo = 0;
      let hi = entries.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (before(entries[mid] as Entry, entry)) lo = mid + 1;
        else hi = mid;
      }
      entries.splice(lo, 0, entry);
    }
    this.wake(tenant, queue);
  }

  /** The task is no longer claimable (claimed, cancelled, paused, ...). */
  forget(id: number): void {
    this.tokens.delete(id);
  }

  /**
   * The claimable ids of `queues`, oldest first across them, that `take` accepts,
   * at most `max`. `take` claims the task (or says why not by returning false); a
   * taken id is removed. Ids `take` refuses stay queued for a later poll.
   */
  claim(
    tenant: string,
    queues: readonly string[],
    max: number,
    take: (id: number) => boolean,
  ): number[] {
    const lists = queues
      .map((queue) => this.queues.get(key(tenant, queue)))
      .filter((list): list is Entry[] => list !== undefined);
    const taken: number[] = [];
    const cursors = lists.map(() => 0);
    while (taken.length < max) {
      // The oldest valid entry at any cursor.
      let best = -1;
      for (let i = 0; i < lists.length; i++) {
        const list = lists[i] as Entry[];
        const at = cursors[i] as number;
        while (at < list.length) {
          const entry = list[at] as Entry;
          if (this.tokens.get(entry.id) === entry.token) break;
          list.splice(at, 1); // stale
        }
        cursors[i] = at;
        if (at >= list.length) continue;
        const entry = list[at] as Entry;
        if (best < 0 || before(entry, lists[best]?.[cursors[best] as number] as Entry)) best = i;
      }
      if (best < 0) break;
      const list = lists[best] as Entry[];
      const at = cursors[best] as number;
      const entry = list[at] as Entry;
      if (take(entry.id)) {
        list.splice(at, 1);
        if (this.tokens.get(entry.id) === entry.token) this.tokens.delete(entry.id);
        taken.push(entry.id);
      } else {
        cursors[best] = at + 1;
      }
    }
    return taken;
  }

  /**
   * Resolves when a task of one of `queues` is offered or capacity frees up (then
   * the caller claims again), or after `timeoutMs`, or when `signal` aborts.
   */
  wait(
    tenant: string,
    queues: readonly string[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        tenant,
        queues: new Set(queues),
        wake: () => {
          this.clock.clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        },
      };
      const done = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        waiter.wake();
      };
      const timer = this.clock.setTimeout(done, timeoutMs);
      signal?.addEventListener("abort", done, { once: true });
      if (signal?.aborted) done();
      else this.waiters.push(waiter);
    });
  }

  /** Wakes the longest-waiting long-poll for the queue, if any. */
  wake(tenant: string, queue: string): void {
    const i = this.waiters.findIndex((w) => w.tenant === tenant && w.queues.has(queue));
    if (i < 0) return;
    const [waiter] = this.waiters.splice(i, 1);
    waiter?.wake();
  }

  /** Wakes every long-poll (the engine is stopping). */
  wakeAll(): void {
    for (const waiter of this.waiters.splice(0)) waiter.wake();
  }

  get waiting(): number {
    return this.waiters.length;
  }
}
