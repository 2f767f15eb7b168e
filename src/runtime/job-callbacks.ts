/**
 * The job engine's callback queue (seed-spec 4.15): POSTs of step and job events to a
 * job's `rest_endpoints`. Sent by a few workers; one job's callbacks to one URL go
 * one at a time, in order (a retry holds back the ones after it), retried with
 * backoff, and never fatal: every outcome is reported (to the job's log) and the
 * job goes on regardless. The queue lives in memory: a callback not yet sent when
 * the engine stops is lost (its job's log says what was sent).
 */
import type { Clock } from "../clock";

export interface Callback {
  readonly jobId: number;
  readonly taskId: number;
  readonly url: string;
  readonly body: Record<string, unknown>;
}

export interface CallbackOutcome {
  readonly ok: boolean;
  /** "200", or why it failed. */
  readonly detail: string;
  readonly attempts: number;
}

export interface CallbackOptions {
  readonly workers?: number;
  readonly attempts?: number;
  readonly backoffMs?: number;
  readonly timeoutMs?: number;
}

interface Queued extends Callback {
  attempt: number;
}

export class JobCallbacks {
  readonly workers: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly queue: Queued[] = [];
  /** Job and URL pairs with a callback in flight or waiting to be retried. */
  private readonly busy = new Set<string>();
  private active = 0;
  private waitingRetry = 0;
  private stopped = false;

  constructor(
    private readonly clock: Pick<Clock, "setTimeout">,
    private readonly report: (callback: Callback, outcome: CallbackOutcome) => void,
    options: CallbackOptions = {},
  ) {
    this.workers = options.workers ?? 2;
    this.attempts = options.attempts ?? 5;
    this.backoffMs = options.backoffMs ?? 1_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Queues a POST of `body` to each URL. */
  send(jobId: number, taskId: number, urls: readonly string[], body: Record<string, unknown>) {
    for (const url of urls) this.queue.push({ jobId, taskId, url, body, attempt: 0 });
    this.drain();
  }

  get stats(): { workers: number; working: number; pending: number } {
    return {
      workers: this.workers,
      working: this.active,
      pending: this.queue.length + this.waitingRetry,
    };
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private drain() {
    while (!this.stopped && this.active < this.workers) {
      const at = this.queue.findIndex((c) => !this.busy.has(keyOf(c)));
      if (at < 0) return;
      const [next] = this.queue.splice(at, 1) as [Queued];
      this.active++;
      this.busy.add(keyOf(next));
      void this.post(next).then((retrying) => {
        this.active--;
        if (!retrying) this.busy.delete(keyOf(next));
        this.drain();
      });
    }
  }

  /** Resolves true when the callback will be retried (its key stays busy). */
  private async post(callback: Queued): Promise<boolean> {
    callback.attempt++;
    let detail: string;
    try {
      const response = await fetch(callback.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(callback.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) {
        this.report(callback, {
          ok: true,
          detail: String(response.status),
          attempts: callback.attempt,
        });
        return false;
      }
      detail = `HTTP ${response.status}`;
    } catch (error) {
      detail = error instanceof Error ? error.message : String(error);
    }
    if (this.stopped) return false;
    if (callback.attempt >= this.attempts) {
      this.report(callback, { ok: false, detail, attempts: callback.attempt });
      return false;
    }
    // Exponential backoff, first in line for its job and URL when it comes back.
    this.waitingRetry++;
    this.clock.setTimeout(
      () => {
        this.waitingRetry--;
        this.busy.delete(keyOf(callback));
        if (this.stopped) return;
        this.queue.unshift(callback);
        this.drain();
      },
      this.backoffMs * 2 ** (callback.attempt - 1),
    );
    return true;
  }
}

function keyOf(callback: Callback): string {
  return `${callback.jobId} ${callback.url}`;
}
