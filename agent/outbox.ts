/**
 * Reports the agent must not lose: each is kept in the agent's state store, sent as
 * a request to the engine, and sent again with backoff until the engine answers that
 * it is durable. Reports left over from before a restart are sent again at start.
 */
import type { Logger } from "pino";
import type { Bus } from "../src/bus/bus";
import { type AgentReport, type ReportAck, subjects } from "../src/protocol";
import type { AgentStateStore } from "./state";

export class ReportOutbox {
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly bus: Bus,
    private readonly agentId: string,
    private readonly store: AgentStateStore,
    private readonly log: Logger,
    private readonly options = { timeoutMs: 5_000, firstRetryMs: 50, maxRetryMs: 5_000 },
  ) {}

  get size(): number {
    return this.pending.size;
  }

  send(report: AgentReport): void {
    this.store.putReport(report);
    this.track(report);
  }

  /** Sends again whatever the previous run of the agent left unacknowledged. */
  resend(): number {
    const reports = this.store.reports();
    for (const report of reports) this.track(report);
    return reports.length;
  }

  /** Waits (bounded) for what is in flight, then stops retrying. */
  async close(waitMs = 5_000): Promise<void> {
    const all = Promise.allSettled([...this.pending]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    this.closed = true;
  }

  private track(report: AgentReport) {
    const delivery = this.deliver(report).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  private async deliver(report: AgentReport): Promise<void> {
    let wait = this.options.firstRetryMs;
    while (!this.closed) {
      try {
        const ack = await this.bus.request<ReportAck>(subjects.report(this.agentId), report, {
          timeoutMs: this.options.timeoutMs,
        });
        if (ack.durable) {
          this.store.deleteReport(report);
          return;
        }
      } catch (error) {
        this.log.debug(
          { taskId: report.taskId, execId: report.execId, err: error },
          "report not acknowledged yet",
        );
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(this.options.maxRetryMs, wait * 2);
    }
  }
}
