/**
 * Pauses asked for while an action runs (spec 2.12). The engine takes such a pause
 * "after this action": the task keeps running until the action ends, and its view
 * does not say a pause is pending. This remembers which tasks were asked, so they
 * read as paused (2) from the moment the client asked. Memory only: after a restart
 * such a task reads as in progress (1) until its action ends and it pauses.
 */

/** More than this many pending pauses at once, and the oldest are forgotten. */
const MAX_ENTRIES = 10_000;

export class PauseRequests {
  private readonly pending = new Set<string>();

  private key(tenant: string, id: number): string {
    return `${tenant}\u0000${id}`;
  }

  add(tenant: string, id: number): void {
    this.pending.add(this.key(tenant, id));
    if (this.pending.size > MAX_ENTRIES) {
      const oldest = this.pending.values().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
  }

  has(tenant: string, id: number): boolean {
    return this.pending.has(this.key(tenant, id));
  }

  delete(tenant: string, id: number): void {
    this.pending.delete(this.key(tenant, id));
  }
}
