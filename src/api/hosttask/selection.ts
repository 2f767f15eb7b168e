/**
 * Which application instances a create acts on (spec 2.7–2.9, 2.13). The instances
 * are those the agents announce (each agent config's `instances`); a create selects
 * by id, by fleet, by region and by label, and gets the de-duplicated union.
 * Each instance has its own lane, so its tasks run one at a time, and a task paused
 * while it holds the lane keeps the others of that instance waiting.
 */
import type { AgentView, TaskView } from "../../runtime/commands";
import type { FieldError } from "./errors";

export interface HostInstance {
  readonly agentId: string;
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly fleetId: number | null;
  readonly regionId: number | null;
  /** The actions its agent runs. */
  readonly capabilities: readonly string[];
}

export interface Selector {
  readonly applicationInstanceIds?: readonly (string | number)[];
  readonly fleetId?: number;
  readonly regionId?: number;
  readonly labels?: readonly { readonly key: string; readonly value: string }[];
}

const positiveInt = (value: unknown): number | null =>
  typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : null;

function stringLabels(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null) return {};
  const labels: Record<string, string> = {};
  for (const [key, label] of Object.entries(value)) {
    if (typeof label === "string") labels[key] = label;
  }
  return labels;
}

/** Every instance the agents have announced, in announcement order. */
export function announcedInstances(agents: readonly AgentView[]): HostInstance[] {
  return agents.flatMap((agent) =>
    agent.instances.flatMap((instance) => {
      const id = instance.id;
      if (typeof id !== "string" && typeof id !== "number") return [];
      return [
        {
          agentId: agent.id,
          id: String(id),
          labels: stringLabels(instance.labels),
          fleetId: positiveInt(instance.fleetId),
          regionId: positiveInt(instance.regionId),
          capabilities: agent.capabilities,
        },
      ];
    }),
  );
}

/**
 * The selected instances, or every reason there are none to act on: an id no agent
 * announces (all or nothing), or a selection that matches nothing.
 */
export function selectInstances(
  all: readonly HostInstance[],
  selector: Selector,
): { instances: HostInstance[] } | { errors: FieldError[] } {
  const chosen = new Map<string, HostInstance>();
  const add = (instance: HostInstance) => {
    const key = `${instance.agentId}\u0000${instance.id}`;
    if (!chosen.has(key)) chosen.set(key, instance);
  };
  const errors: FieldError[] = [];
  (selector.applicationInstanceIds ?? []).forEach((raw, i) => {
    // Ids are compared as text: 42 and "42" are the same instance.
    const id = String(raw);
    const matches = all.filter((instance) => instance.id === id);
    if (matches.length === 0) {
      errors.push({
        property: `applicationInstanceIds[${i}]`,
        message: `no agent announces application instance ${id}`,
      });
    }
    matches.forEach(add);
  });
  const { fleetId, regionId } = selector;
  // 0 selects nothing (spec 2.8: only a fleet or region id > 0 adds instances).
  if (fleetId) all.filter((instance) => instance.fleetId === fleetId).forEach(add);
  if (regionId) all.filter((instance) => instance.regionId === regionId).forEach(add);
  // Each label is a selector of its own: the union, like every other criterion.
  for (const { key, value } of selector.labels ?? []) {
    all.filter((instance) => instance.labels[key] === value).forEach(add);
  }
  if (errors.length > 0) return { errors };
  if (chosen.size === 0) {
    return {
      errors: [
        {
          property: "applicationInstanceIds",
          message:
            "the selection (applicationInstanceIds, fleetId, regionId, labels) matches no application instance",
        },
      ],
    };
  }
  return { instances: [...chosen.values()] };
}

/** The actions of `types` the instance's agent does not run. */
export function missingCapabilities(instance: HostInstance, types: readonly string[]): string[] {
  return [...new Set(types)].filter((type) => !instance.capabilities.includes(type));
}

const LANE_PREFIX = "i-";
const MAX_LANE = 128;

/**
 * The lane of an instance's tasks: `i-<instanceId>`, with anything but letters,
 * digits, `_` and `-` replaced and cut to the engine's 128 characters. Two ids that
 * become the same lane only run one after the other, never together.
 */
export function laneOf(instanceId: string): string {
  return `${LANE_PREFIX}${instanceId.replace(/[^A-Za-z0-9_-]/g, "_")}`.slice(0, MAX_LANE);
}

/** A task this family created: its ref id is its instance, its lane that instance's. */
export function isHostTask(view: TaskView): boolean {
  return view.refId !== null && view.lane === laneOf(view.refId);
}
