import { describe, expect, it } from "vitest";
import type { AnyStateNode } from "xstate";
import { taskMachine } from "../../../machines";
import { TASK_STATE_PATHS } from "../../../src/runtime/task-records";

function leafPaths(node: AnyStateNode, prefix: string[] = []): string[] {
  const children = Object.values(node.states);
  if (children.length === 0) return [prefix.join(".")];
  return children.flatMap((child) => leafPaths(child, [...prefix, child.key]));
}

describe("listing by status", () => {
  it("knows every state a task can be stored in", () => {
    // `created` is transient: a task never rests (or is stored) there.
    const stored = leafPaths(taskMachine.root).filter((path) => path !== "created");
    expect(Object.values(TASK_STATE_PATHS).flat().sort()).toEqual(stored.sort());
  });

  it("maps each status to its own top-level state", () => {
    for (const [status, paths] of Object.entries(TASK_STATE_PATHS)) {
      for (const path of paths) expect(path.split(".")[0]).toBe(status);
    }
  });
});
