/**
 * A machine as a graph for the visualizer: its states (nested) and transitions
 * (labelled with their events), read from the machine definition itself, so a
 * changed machine redraws itself.
 */
import type { AnyStateMachine } from "xstate";

export interface GraphNode {
  /** The state's path from the root, `running.executing`; "" for the root. */
  readonly id: string;
  readonly key: string;
  readonly parent: string | null;
  readonly type: string;
  readonly description: string | null;
  /** The parent's initial state. */
  readonly initial: boolean;
}

export interface GraphEdge {
  readonly source: string;
  readonly target: string;
  /** The event, `after <delay>` for a timer, `always` for an eventless transition. */
  readonly label: string;
  readonly guard: string | null;
}

export interface MachineGraph {
  readonly id: string;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
}

interface DefinitionNode {
  readonly id: string;
  readonly key: string;
  readonly type: string;
  readonly description?: string;
  readonly initial?: { readonly target?: readonly { readonly id?: string }[] | readonly string[] };
  readonly states: Readonly<Record<string, DefinitionNode>>;
  readonly transitions: readonly {
    readonly eventType: string;
    readonly target?: readonly (string | { readonly id: string })[];
    readonly guard?: unknown;
  }[];
}

/** `#task.running.executing` or `task.running.executing` → `running.executing`. */
function pathOf(machineId: string, id: string): string {
  const plain = id.startsWith("#") ? id.slice(1) : id;
  if (plain === machineId) return "";
  return plain.startsWith(`${machineId}.`) ? plain.slice(machineId.length + 1) : plain;
}

function labelOf(machineId: string, eventType: string): string {
  if (eventType === "") return "always";
  // xstate.after.<delay>.<state id>
  const after = /^xstate\.after\.([^.]+)\./.exec(eventType);
  if (after) return `after ${after[1]}`;
  if (eventType.startsWith(`xstate.done.state.${machineId}`)) return "done";
  return eventType;
}

function guardOf(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === "string") return guard;
  if (typeof guard === "object" && "type" in guard)
    return String((guard as { type: unknown }).type);
  return "guarded";
}

export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const machineId = machine.id;
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const visit = (node: DefinitionNode, parent: string | null, initialKey: string | null) => {
    const id = pathOf(machineId, node.id);
    nodes.push({
      id,
      key: node.key,
      parent,
      type: node.type,
      description: node.description ?? null,
      initial: initialKey === node.key,
    });
    for (const transition of node.transitions) {
      for (const target of transition.target ?? []) {
        edges.push({
          source: id,
          target: pathOf(machineId, typeof target === "string" ? target : target.id),
          label: labelOf(machineId, transition.eventType),
          guard: guardOf(transition.guard),
        });
      }
    }
    const initialTarget = node.initial?.target?.[0];
    const initialId =
      typeof initialTarget === "string" ? initialTarget : (initialTarget?.id ?? null);
    const childInitial =
      initialId === null ? null : (pathOf(machineId, initialId).split(".").pop() ?? null);
    for (const child of Object.values(node.states)) visit(child, id, childInitial);
  };
  visit(machine.root.definition as unknown as DefinitionNode, null, null);
  // Eventless transitions are on the state nodes, not in their definitions.
  const always = (stateId: string) =>
    (machine.getStateNodeById(stateId) as unknown as { always?: DefinitionNode["transitions"] })
      .always ?? [];
  for (const node of nodes) {
    const stateId = node.id === "" ? machineId : `${machineId}.${node.id}`;
    for (const transition of always(stateId)) {
      for (const target of transition.target ?? []) {
        edges.push({
          source: node.id,
          target: pathOf(machineId, typeof target === "string" ? target : target.id),
          label: "always",
          guard: guardOf(transition.guard),
        });
      }
    }
  }
  return { id: machineId, nodes, edges };
}
