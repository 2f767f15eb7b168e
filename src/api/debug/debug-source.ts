/**
 * What the visualizer's routes read. The engine side (src/runtime/inspection.ts) is
 * passed in by the composition root; the API layer knows only this shape.
 */
export type ActorKind = "task" | "lane" | "job" | "batch" | "schedule" | "agent";

export interface DebugActor {
  readonly kind: ActorKind;
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly updatedAt: number;
}

export interface DebugSource {
  /** Each kind's machine as a graph of nested states and labelled transitions. */
  machines(): Readonly<Record<ActorKind, unknown>>;
  actors(
    tenant: string,
    query: {
      readonly kind: ActorKind;
      readonly state?: string;
      readonly q?: string;
      readonly offset: number;
      readonly limit: number;
    },
  ): Promise<{ readonly items: readonly DebugActor[]; readonly total: number }>;
  /** One actor with its accepted commands, fields and history. */
  actor(tenant: string, kind: ActorKind, id: string): Promise<DebugActor>;
}
