/**
 * The host agent: runs the action attempts the engine sends it and reports back.
 * It talks only through the bus (embedded in-process, or NATS), so the same code runs
 * beside the engine and on a remote host.
 */
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { Logger } from "pino";
import type { Bus, BusMessage, Subscription } from "../src/bus/bus";
import {
  AgentCommand,
  type AgentHeartbeat,
  type AgentHello,
  AttemptState,
  type CommandReply,
  type RunCommand,
  subjects,
} from "../src/protocol";
import type { ActionHandler } from "./actions/action";
import { ExecLedger } from "./ledger";
import { ReportOutbox } from "./outbox";

const commandCheck = TypeCompiler.Compile(AgentCommand);

export interface AgentOptions {
  readonly id: string;
  readonly bus: Bus;
  readonly log: Logger;
  /** The actions this agent runs; anything else is refused. */
  readonly actions: readonly ActionHandler[];
  readonly labels?: Readonly<Record<string, string>>;
  /** @default 5000 */
  readonly heartbeatMs?: number;
  readonly version?: string;
}

export class Agent {
  private readonly ledger = new ExecLedger();
  private readonly outbox: ReportOutbox;
  private readonly handlers: Map<
    string,
    { handler: ActionHandler; check: ReturnType<typeof TypeCompiler.Compile> }
  >;
  private subscription?: Subscription;
  private heartbeat?: ReturnType<typeof setInterval>;

  constructor(private readonly options: AgentOptions) {
    this.outbox = new ReportOutbox(options.bus, options.id, options.log);
    this.handlers = new Map(
      options.actions.map((handler) => [
        handler.type,
        { handler, check: TypeCompiler.Compile(handler.params) },
      ]),
    );
  }

  get id(): string {
    return this.options.id;
  }

  start(): void {
    const { bus, id, log } = this.options;
    this.subscription = bus.subscribe(subjects.command(id), (message) => this.onCommand(message));
    const hello: AgentHello = {
      agentId: id,
      version: this.options.version ?? "0",
      labels: { ...this.options.labels },
      capabilities: [...this.handlers.keys()],
      instances: [],
      running: this.ledger.running(),
    };
    bus.request(subjects.hello(), hello).catch((error: unknown) => {
      log.debug({ err: error }, "hello not answered");
    });
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs ?? 5_000);
    this.heartbeat.unref?.();
    log.info({ agentId: id, actions: [...this.handlers.keys()] }, "agent started");
  }

  /** Stops taking commands and waits (bounded) for pending reports. */
  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    clearInterval(this.heartbeat);
    await this.outbox.close();
  }

  private beat() {
    const heartbeat: AgentHeartbeat = {
      agentId: this.options.id,
      at: Date.now(),
      running: this.ledger.running(),
    };
    this.publish(subjects.heartbeat(this.options.id), heartbeat);
  }

  /** Fire-and-forget messages must not throw into timers once the bus is gone. */
  private publish(subject: string, data: unknown) {
    try {
      this.options.bus.publish(subject, data);
    } catch (error) {
      this.options.log.debug({ err: error, subject }, "publish failed");
    }
  }

  private onCommand(message: BusMessage) {
    const reply = (answer: CommandReply) => message.respond?.(answer);
    if (!commandCheck.Check(message.data)) {
      reply({ ok: false, state: AttemptState.Unknown, message: "malformed command" });
      return;
    }
    const command = message.data;
    if (command.kind === "run") {
      reply(this.run(command));
      return;
    }
    if (command.kind === "reconcile") {
      const unknown = command.execIds.filter((execId) => !this.ledger.get(execId));
      reply({ ok: true, state: AttemptState.Unknown, unknown });
      return;
    }
    const entry = this.ledger.get(command.execId);
    if (!entry) {
      reply({
        ok: false,
        state: AttemptState.Unknown,
        message: `unknown execId ${command.execId}`,
      });
      return;
    }
    const running = entry.running;
    if (running) {
      if (command.kind === "cancel") running.cancel();
      if (command.kind === "pause" && running.pause) {
        running.pause();
        entry.state = AttemptState.Paused;
      }
      if (command.kind === "resume" && running.resume) {
        running.resume();
        entry.state = AttemptState.Running;
      }
    }
    reply({ ok: true, state: entry.state });
  }

  private run(command: RunCommand): CommandReply {
    const known = this.ledger.get(command.execId);
    // Fencing: a repeated run answers what the agent knows; it never runs twice.
    if (known) return { ok: true, state: known.state };
    const { execId, taskId, action } = command;
    const entry = this.handlers.get(action.type);
    const at = Date.now();
    const fail = (message: string): CommandReply => {
      this.ledger.add(execId, { state: AttemptState.Failed, taskId });
      this.outbox.send({ kind: "result", execId, taskId, at, outcome: { ok: false, message } });
      return { ok: true, state: AttemptState.Failed, message };
    };
    if (!entry) return fail(`action ${action.type} is not enabled on agent ${this.options.id}`);
    const params = action.params ?? {};
    if (!entry.check.Check(params)) {
      const first = entry.check.Errors(params).First();
      const where = first?.path ? ` at ${first.path}` : "";
      return fail(`bad params for ${action.type}${where}: ${first?.message ?? "invalid"}`);
    }
    const { bus, id } = this.options;
    const running = entry.handler.start({
      execId,
      taskId,
      params,
      timeoutMs: command.timeoutMs,
      output: (stream, chunk) =>
        bus.publish(subjects.output(taskId, id), { execId, stream, chunk }),
    });
    const ledgerEntry = { state: AttemptState.Running, taskId, running } as {
      state: AttemptState;
      taskId: number;
      running?: typeof running;
    };
    this.ledger.add(execId, ledgerEntry);
    // A result implies the start; an action that is over within this turn of the
    // event loop (a noop, a failed spawn) reports only its result.
    setImmediate(() => {
      if (ledgerEntry.running)
        bus.publish(subjects.report(id), { kind: "started", execId, taskId, at });
    });
    running.done.then(
      (outcome) => {
        ledgerEntry.state = outcome.ok ? AttemptState.Succeeded : AttemptState.Failed;
        ledgerEntry.running = undefined;
        this.outbox.send({ kind: "result", execId, taskId, at: Date.now(), outcome });
      },
      (error: unknown) => {
        ledgerEntry.state = AttemptState.Failed;
        ledgerEntry.running = undefined;
        const message = error instanceof Error ? error.message : String(error);
        this.outbox.send({
          kind: "result",
          execId,
          taskId,
          at: Date.now(),
          outcome: { ok: false, message },
        });
      },
    );
    return { ok: true, state: AttemptState.Running };
  }
}
