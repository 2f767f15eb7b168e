/**
 * The agents the engine knows: one agent actor each, online while its heartbeats keep
 * coming. Agents are not persisted: after an engine restart each one is known again
 * from its next hello or heartbeat.
 */
import { type Actor, createActor } from "xstate";
import { type AgentContext, agentMachine } from "../../machines";
import type { Clock } from "../clock";
import { type AgentHeartbeat, type AgentHello, EntityKind } from "../protocol";
import type { AgentView } from "./commands";
import type { Inspect } from "./engine-options";
import type { Journal } from "./journal";
import { statePath } from "./task-records";
import type { TimerService } from "./timer-service";

export interface AgentCallbacks {
  /** The agent went offline: settle the attempts it was running. */
  lost(agentId: string): void;
  /** The agent said hello: settle attempts the engine thinks it runs and it does not. */
  reconcile(agentId: string): void;
  /** A heartbeat from an agent the engine has no hello from (it restarted): ask for one. */
  unknown(agentId: string): void;
}

type AgentActor = Actor<typeof agentMachine>;

export class Agents {
  private readonly actors = new Map<string, AgentActor>();
  private readonly instances = new Map<string, readonly Record<string, unknown>[]>();
  private readonly logic;

  constructor(
    private readonly timers: TimerService,
    private readonly clock: Clock,
    private readonly journal: Journal,
    private readonly heartbeatTimeoutMs: number,
    private readonly callbacks: AgentCallbacks,
    private readonly inspect?: Inspect,
  ) {
    this.logic = agentMachine.provide({
      actions: {
        // Deferred: they send events to task actors, outside this actor's transition.
        agentLost: ({ context }) => queueMicrotask(() => callbacks.lost(context.id)),
        reconcile: ({ context }) => queueMicrotask(() => callbacks.reconcile(context.id)),
      },
    });
  }

  hello(hello: AgentHello): void {
    this.instances.set(hello.agentId, hello.instances);
    const at = this.clock.now();
    const actor = this.actors.get(hello.agentId);
    const event = {
      type: "HELLO" as const,
      labels: hello.labels,
      capabilities: hello.capabilities,
      version: hello.version,
      running: hello.running,
      at,
    };
    if (actor) actor.send(event);
    else this.start(hello.agentId, hello.labels, hello.capabilities, hello.version).send(event);
  }

  heartbeat(heartbeat: AgentHeartbeat): void {
    const at = this.clock.now();
    let actor = this.actors.get(heartbeat.agentId);
    if (!actor) {
      // Online from now on, but its labels and instances come with the hello it is asked for.
      actor = this.start(heartbeat.agentId, {}, [], "unknown");
      this.callbacks.unknown(heartbeat.agentId);
    }
    actor.send({ type: "HEARTBEAT", running: heartbeat.running, at });
  }

  isOnline(agentId: string): boolean {
    return this.actors.get(agentId)?.getSnapshot().value === "online";
  }

  list(): AgentView[] {
    return [...this.actors.values()].map((actor) => this.view(actor.getSnapshot().context, actor));
  }

  stop(): void {
    for (const actor of this.actors.values()) actor.stop();
    this.actors.clear();
  }

  private view(context: AgentContext, actor: AgentActor): AgentView {
    return {
      id: context.id,
      status: actor.getSnapshot().value === "online" ? "online" : "offline",
      labels: context.labels,
      capabilities: context.capabilities,
      instances: this.instances.get(context.id) ?? [],
      version: context.version,
      running: context.running,
      lastSeenAt: context.lastSeenAt,
    };
  }

  private start(
    id: string,
    labels: Readonly<Record<string, string>>,
    capabilities: readonly string[],
    version: string,
  ): AgentActor {
    const actor = createActor(this.logic, {
      input: {
        id,
        labels,
        capabilities,
        version,
        heartbeatTimeoutMs: this.heartbeatTimeoutMs,
        now: this.clock.now(),
      },
      clock: this.timers,
      inspect: this.inspect,
    });
    let last = "";
    actor.subscribe((snapshot) => {
      const state = statePath(snapshot.value);
      if (state === last) return;
      last = state;
      this.journal.record(EntityKind.Agent, id, state, state, "", snapshot.context.updatedAt);
    });
    this.actors.set(id, actor);
    actor.start();
    return actor;
  }
}
