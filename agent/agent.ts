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
import { type AgentStateStore, MemoryAgentState } from "./state";

const commandCheck = TypeCompiler.Compile(AgentCommand);

export interface AgentOptions {
  readonly id: string;
  readonly bus: Bus;
  readonly log: Logger;
  /** The actions this agent runs; anything else is refused. */
  readonly actions: readonly ActionHandler[];
  readonly labels?: Readonly<Record<string, string>>;
  /** Announced in hello; the engine keeps the registry. */
  readonly instances?: readonly Record<string, unknown>[];
  /** @default 5000 */
  readonly heartbeatMs?: number;
  readonly version?: string;
  /** Where attempts and unacknowledged results survive a restart. @default in memory */
  readonly state?: AgentStateStore;
}

export class Agent {
  private readonly ledger: ExecLedger;
  private readonly outbox: ReportOutbox;
  private readonly state: AgentStateStore;
  private readonly handlers: Map<
    string,
    { handler: ActionHandler; check: ReturnType<typeof TypeCompiler.Compile> }
  >;
  private subscription?: Subscription;
  private heartbeat?: ReturnType<typeof setInterval>;
  /** Every line names the agent. */
  private readonly log: Logger;

  constructor(private readonly options: AgentOptions) {
    this.log = options.log.child({ agentId: options.id });
    this.state = options.state ?? new MemoryAgentState();
    this.ledger = new ExecLedger(this.state);
    this.outbox = new ReportOutbox(options.bus, options.id, this.state, this.log);
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
    const { bus, id } = this.options;
    const log = this.log;
    this.settleInterrupted();
    const resent = this.outbox.resend();
    this.subscription = bus.subscribe(subjects.command(id), (message) => this.onCommand(message));
    this.hello();
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs ?? 5_000);
    this.heartbeat.unref?.();
    log.info({ actions: [...this.handlers.keys()], resent }, "agent started");
  }

  /**
   * Stops taking commands, cancels what is still running (its results go out as
   * failures) and waits, bounded, for pending reports to be acknowledged.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.subscription?.unsubscribe();
    clearInterval(this.heartbeat);
    const running = this.ledger.runningIds().flatMap((execId) => {
      const handle = this.ledger.handle(execId);
      if (!handle) return [];
      handle.cancel();
      // Wait for the result to be in the outbox, so it is handed back below.
      return [handle.done.then(() => new Promise<void>((resolve) => setImmediate(resolve)))];
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(running),
      new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
    await this.outbox.close();
  }

  /**
   * Attempts that were running when the agent last died are over: their processes
   * are stopped if any survived, and each is reported failed (never run again).
   */
  private settleInterrupted() {
    for (const attempt of this.state.runningAttempts()) {
      if (attempt.pid !== null) {
        try {
          process.kill(-attempt.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      this.ledger.finished(attempt.execId, attempt.taskId, AttemptState.Failed);
      this.outbox.send({
        kind: "result",
        execId: attempt.execId,
        taskId: attempt.taskId,
        at: Date.now(),
        outcome: { ok: false, message: "the agent restarted during the attempt" },
      });
    }
  }

  private beat() {
    const heartbeat: AgentHeartbeat = {
      agentId: this.options.id,
      at: Date.now(),
      running: this.ledger.runningIds(),
    };
    this.publish(subjects.heartbeat(this.options.id), heartbeat);
  }

  /** Announces this agent: on start, and again when a restarted engine asks. */
  private hello() {
    const { bus, id } = this.options;
    const log = this.log;
    const hello: AgentHello = {
      agentId: id,
      version: this.options.version ?? "0",
      labels: { ...this.options.labels },
      capabilities: [...this.handlers.keys()],
      instances: (this.options.instances ?? []).map((instance) => ({ ...instance })),
      running: this.ledger.runningIds(),
    };
    bus.request(subjects.hello(id), hello).catch((error: unknown) => {
      log.debug({ err: error }, "hello not answered");
    });
  }

  /** Fire-and-forget messages must not throw into timers once the bus is gone. */
  private publish(subject: string, data: unknown) {
    try {
      this.options.bus.publish(subject, data);
    } catch (error) {
      this.log.debug({ err: error, subject }, "publish failed");
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
    if (command.kind === "hello") {
      this.hello();
      reply({ ok: true, state: AttemptState.Unknown });
      return;
    }
    if (command.kind === "reconcile") {
      const unknown = command.execIds.filter((execId) => this.ledger.state(execId) === undefined);
      reply({ ok: true, state: AttemptState.Unknown, unknown });
      return;
    }
    const state = this.ledger.state(command.execId);
    if (state === undefined) {
      reply({
        ok: false,
        state: AttemptState.Unknown,
        message: `unknown execId ${command.execId}`,
      });
      return;
    }
    const running = this.ledger.handle(command.execId);
    if (running) {
      if (command.kind === "cancel") running.cancel();
      if (command.kind === "pause" && running.pause) {
        running.pause();
        this.ledger.changed(command.execId, AttemptState.Paused);
      }
      if (command.kind === "resume" && running.resume) {
        running.resume();
        this.ledger.changed(command.execId, AttemptState.Running);
      }
    }
    reply({ ok: true, state: this.ledger.state(command.execId) ?? AttemptState.Unknown });
  }

  private run(command: RunCommand): CommandReply {
    const known = this.ledger.state(command.execId);
    // Fencing: a repeated run answers what the agent knows; it never runs twice.
    if (known !== undefined) return { ok: true, state: known };
    const { execId, taskId, action } = command;
    const entry = this.handlers.get(action.type);
    const at = Date.now();
    const fail = (message: string): CommandReply => {
      this.ledger.finished(execId, taskId, AttemptState.Failed);
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
    const id = this.options.id;
    const running = entry.handler.start({
      execId,
      taskId,
      params,
      timeoutMs: command.timeoutMs,
      output: (stream, chunk) =>
        this.publish(subjects.output(taskId, id), { execId, stream, chunk }),
    });
    this.ledger.started(execId, taskId, running);
    this.log.debug({ taskId, execId, action: action.type }, "action started");
    // A result implies the start; an action that is over within this turn of the
    // event loop (a noop, a failed spawn) reports only its result.
    setImmediate(() => {
      if (this.ledger.handle(execId)) {
        this.publish(subjects.report(id), { kind: "started", execId, taskId, at });
      }
    });
    running.done.then(
      (outcome) => this.finish(execId, taskId, outcome),
      (error: unknown) =>
        this.finish(execId, taskId, {
          ok: false,
          message: error instanceof Error ? error.message : String(error),
        }),
    );
    return { ok: true, state: AttemptState.Running };
  }

  private finish(
    execId: string,
    taskId: number,
    outcome: { ok: boolean; message?: string; exitCode?: number; stdout?: string; stderr?: string },
  ) {
    this.log.debug(
      { taskId, execId, ok: outcome.ok, exitCode: outcome.exitCode },
      "action finished",
    );
    this.ledger.finished(execId, taskId, outcome.ok ? AttemptState.Succeeded : AttemptState.Failed);
    this.outbox.send({ kind: "result", execId, taskId, at: Date.now(), outcome });
  }
}
