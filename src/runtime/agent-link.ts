/**
 * The engine's side of the agent protocol: commands out on `fw.agent.<id>.cmd`,
 * reports in on `fw.report.<id>`, hello and heartbeats in on `fw.agent.hello` and
 * `fw.agent.<id>.heartbeat`.
 * Reports are validated here; what they mean for a task is the engine's business.
 */
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { TaskContext } from "../../machines";
import type { Bus, Subscription } from "../bus/bus";
import type { Logger } from "../log";
import {
  type AgentCommand,
  AgentHeartbeat,
  AgentHello,
  AgentReport,
  type CommandReply,
  patterns,
  type ReportAck,
  type RunCommand,
  subjects,
} from "../protocol";

const reportCheck = TypeCompiler.Compile(AgentReport);
/** Backoff between attempts to deliver a run that did not get through. */
const RUN_RETRY_FIRST_MS = 100;
const RUN_RETRY_MAX_MS = 2_000;
const heartbeatCheck = TypeCompiler.Compile(AgentHeartbeat);
const helloCheck = TypeCompiler.Compile(AgentHello);

export interface AgentLinkHandlers {
  /** Resolves with the answer for the agent, once the report is durable. */
  report(agentId: string, report: AgentReport): Promise<ReportAck>;
  heartbeat(heartbeat: AgentHeartbeat): void;
  hello(hello: AgentHello): void;
}

export interface AgentLinkOptions {
  /** How long to wait for an agent to answer a command. @default 5000 */
  readonly commandTimeoutMs: number;
}

export class AgentLink {
  private subscriptions: Subscription[] = [];
  private stopped = false;

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly options: AgentLinkOptions,
  ) {}

  start(handlers: AgentLinkHandlers): void {
    this.subscriptions.push(
      this.bus.subscribe(
        patterns.reports,
        (message) => {
          const agentId = message.subject.slice(message.subject.lastIndexOf(".") + 1);
          if (!reportCheck.Check(message.data)) {
            this.log.warn({ agentId }, "malformed report ignored");
            message.respond?.({ durable: false, ignored: true } satisfies ReportAck);
            return;
          }
          handlers.report(agentId, message.data).then(
            (ack) => message.respond?.(ack),
            (error: unknown) => {
              // No answer: the agent keeps the report in its outbox and sends it again.
              this.log.warn({ agentId, err: error }, "report not acknowledged");
            },
          );
        },
        { queue: "fw-engine" },
      ),
      this.bus.subscribe(
        subjects.hello(),
        (message) => {
          if (!helloCheck.Check(message.data)) {
            const first = helloCheck.Errors(message.data).First();
            message.respond?.({ ok: false, message: `malformed hello at ${first?.path}` });
            return;
          }
          handlers.hello(message.data);
          message.respond?.({ ok: true });
        },
        { queue: "fw-engine" },
      ),
      this.bus.subscribe(
        patterns.heartbeats,
        (message) => {
          if (heartbeatCheck.Check(message.data)) handlers.heartbeat(message.data);
        },
        { queue: "fw-engine" },
      ),
    );
  }

  /** Sends the task's current attempt to its agent. */
  /**
   * Sends the task's current attempt to its agent. A run that does not get through
   * (no agent listening, NATS down, no answer) is sent again with backoff for as long
   * as `stillWaiting` says the attempt waits for its start; the agent's ledger makes a
   * repeat harmless, and the task's delivery timeout decides when to give up.
   */
  run(context: TaskContext, stillWaiting: () => boolean): void {
    const { agentId, execId } = context;
    const action = context.actions[context.currentActionIdx];
    if (!agentId || !execId || !action) return;
    const command: RunCommand = {
      kind: "run",
      execId,
      taskId: context.id,
      actionIdx: context.currentActionIdx,
      action,
      timeoutMs: context.timeouts.executionMs,
    };
    let wait = RUN_RETRY_FIRST_MS;
    const attempt = () => {
      this.send(agentId, command, () => {
        if (this.stopped || !stillWaiting()) return;
        const timer = setTimeout(attempt, wait);
        timer.unref?.();
        wait = Math.min(RUN_RETRY_MAX_MS, wait * 2);
      });
    };
    attempt();
  }

  /** Cancel, pause or resume the task's current attempt, if one may be running. */
  control(kind: "cancel" | "pause" | "resume", context: TaskContext): void {
    const { agentId, execId } = context;
    if (!agentId || !execId || !context.attemptActive) return;
    this.send(agentId, { kind, execId, taskId: context.id });
  }

  /** Asks the agent to say hello again (the engine restarted and does not know it). */
  askHello(agentId: string): void {
    this.send(agentId, { kind: "hello" });
  }

  /** Asks the agent which of these attempts it has never seen. */
  async unknownAttempts(agentId: string, execIds: readonly string[]): Promise<string[]> {
    const reply = await this.bus.request<CommandReply>(
      subjects.command(agentId),
      { kind: "reconcile", execIds: [...execIds] } satisfies AgentCommand,
      { timeoutMs: this.options.commandTimeoutMs },
    );
    return reply.unknown ?? [];
  }

  stop(): void {
    this.stopped = true;
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions = [];
  }

  private send(
    agentId: string,
    command: Exclude<AgentCommand, { kind: "reconcile" }>,
    undelivered: () => void = () => {},
  ): void {
    let request: Promise<CommandReply>;
    try {
      request = this.bus.request<CommandReply>(subjects.command(agentId), command, {
        timeoutMs: this.options.commandTimeoutMs,
      });
    } catch (error) {
      request = Promise.reject(error);
    }
    request.then(
      (reply) => {
        if (!reply.ok) this.log.warn({ agentId, command: command.kind, reply }, "agent refused");
      },
      (error: unknown) => {
        this.log.debug({ agentId, command: command.kind, err: error }, "command not delivered");
        undelivered();
      },
    );
  }
}
