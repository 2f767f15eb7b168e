import { describe, expect, it } from "vitest";
import type { AnyStateMachine, AnyStateNode } from "xstate";
import {
  agentMachine,
  batchMachine,
  jobMachine,
  laneMachine,
  scheduleMachine,
  taskMachine,
} from "../../../machines";

function stateNodes(node: AnyStateNode): AnyStateNode[] {
  return [node, ...Object.values(node.states).flatMap((child) => stateNodes(child))];
}

const machines: [string, AnyStateMachine][] = [
  ["task", taskMachine],
  ["lane", laneMachine],
  ["batch", batchMachine],
  ["schedule", scheduleMachine],
  ["job", jobMachine],
  ["agent", agentMachine],
];

// Named, described states are what the visualizer shows operators (STYLE.md #1).
describe.each(machines)("the %s machine", (name, machine) => {
  it("has its own id", () => {
    expect(machine.id).toBe(name);
  });

  it("describes every state", () => {
    const undescribed = stateNodes(machine.root)
      .filter((node) => !node.description)
      .map((node) => node.id);
    expect(undescribed).toEqual([]);
  });
});
