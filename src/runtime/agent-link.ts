/**
 * The engine's side of the agent protocol: commands out on `fw.agent.<id>.cmd`,
 * reports in on `fw.report.<id>`, hello and heartbeats in on `fw.agent.<id>.hello` and
 * `fw.agent.<id>.heartbeat`, instance exits in on `fw.agent.<id>.instance-exit` (relayed
 * as events, which agents may not publish).
 *
 * Who sent a message is the agent id in its subject: with the NATS permissions of
 * deploy/nats/ an agent can publish only on its own subjects, so the subject is what the
 * server vouches for. A hello, heartbeat or instance exit whose body names another agent
 * is refused; a report names no agent, and the engine takes it only for a task that
 * agent runs. Reports are validated here; what they mean for a task is the engine's
 * business.
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
  agentIdOfSubject,
  type CommandReply,
  EntityKind,
  InstanceExit,
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
const instanceExitCheck = TypeCompiler.Compile(InstanceExit);

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
          const agentId = agentIdOfSubject(message.subject);
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
        patterns.hellos,
        (message) => {
          if (!helloCheck.Check(message.data)) {
            const first = helloCheck.Errors(message.data).First();
            message.respond?.({ ok: false, message: `malformed hello at ${first?.path}` });
            return;
          }
          const refused = this.spokeForAnother(message.subject, message.data.agentId, "hello");
          if (refused !== undefined) {
            message.respond?.({ ok: false, message: refused });
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
          if (!heartbeatCheck.Check(message.data)) return;
          if (this.spokeForAnother(message.subject, message.data.agentId, "heartbeat")) return;
          handlers.heartbeat(message.data);
        },
        { queue: "fw-engine" },
      ),
      this.bus.subscribe(
        patterns.instanceExits,
        (message) => {
          if (!instanceExitCheck.Check(message.data)) return;
          const exit = message.data;
          if (this.spokeForAnother(message.subject, exit.agentId, "instance exit")) return;
          try {
            this.bus.publish(
              subjects.event(EntityKind.Agent, exit.agentId, "instanceExited"),
              exit,
            );
          } catch (error) {
            this.log.debug({ err: error, agentId: exit.agentId }, "instance exit not relayed");
          }
        },
        { queue: "fw-engine" },
      ),
    );
  }

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

  /**
   * Why a message is refused when its body names another agent than its subject (the
   * sender's own, as NATS permissions see it); undefined when they agree.
   */
  private spokeForAnother(subject: string, claimed: string, what: string): string | undefined {
    const sender = agentIdOfSubject(subject);
    if (sender === claimed) return undefined;
    this.log.warn({ subject, sender, claimed }, `${what} for another agent refused`);
    return `${what} on ${subject} names agent ${claimed}: an agent speaks only for itself`;
  }
}
