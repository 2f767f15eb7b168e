/**
 * How a batch's calls overlap (src/api/executor/batch.ts): as if in order, but calls
 * on different tasks run together.
 */
import { describe, expect, it } from "vitest";
import { runBatch } from "../../../src/api/executor/batch";
import type { Call } from "../../../src/api/executor/calls";
import { RpcError } from "../../../src/api/executor/errors";

const start = (id: string): Call => ({ method: "awf.task/start", params: { id, execId: "e" } });
const list: Call = { method: "awf.task/list", params: {} };

/** Runs each call until the test releases it, recording when calls begin and end. */
function recorder() {
  const events: string[] = [];
  const release = new Map<string, () => void>();
  const run = (call: Call) => {
    const name = `${call.method.slice(9)}:${(call.params as { id?: string }).id ?? "-"}`;
    events.push(`begin ${name}`);
    return new Promise<unknown>((resolve) => {
      release.set(name, () => {
        events.push(`end ${name}`);
        resolve(name);
      });
    });
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return { events, release, run, settle };
}

describe("runBatch", () => {
  it("overlaps calls on different tasks and answers in the batch's order", async () => {
    const r = recorder();
    const done = runBatch([start("a"), start("b"), start("c")], r.run);
    await r.settle();
    expect(r.events).toEqual(["begin start:a", "begin start:b", "begin start:c"]);
    r.release.get("start:c")?.();
    r.release.get("start:a")?.();
    r.release.get("start:b")?.();
    expect(await done).toEqual([
      { result: "start:a" },
      { result: "start:b" },
      { result: "start:c" },
    ]);
  });

  it("runs calls on the same task one after another", async () => {
    const r = recorder();
    const done = runBatch([start("a"), { method: "awf.task/status", params: { id: "a" } }], r.run);
    await r.settle();
    expect(r.events).toEqual(["begin start:a"]);
    r.release.get("start:a")?.();
    await r.settle();
    expect(r.events).toEqual(["begin start:a", "end start:a", "begin status:a"]);
    r.release.get("status:a")?.();
    await done;
  });

  it("makes a call naming no task wait for everything before it, and later calls for it", async () => {
    const r = recorder();
    const done = runBatch([start("a"), start("b"), list, start("c")], r.run);
    await r.settle();
    expect(r.events).toEqual(["begin start:a", "begin start:b"]);
    r.release.get("start:b")?.();
    await r.settle();
    expect(r.events).not.toContain("begin list:-");
    r.release.get("start:a")?.();
    await r.settle();
    expect(r.events.at(-1)).toBe("begin list:-");
    r.release.get("list:-")?.();
    await r.settle();
    expect(r.events.at(-1)).toBe("begin start:c");
    r.release.get("start:c")?.();
    expect(await done).toHaveLength(4);
  });

  it("answers a refused call with its error, and the others still run", async () => {
    const answers = await runBatch([start("a"), start("b")], async (call) => {
      if ((call.params as { id: string }).id === "a") throw new RpcError(422, "no");
      return "fine";
    });
    expect(answers).toEqual([{ error: { message: "no" } }, { result: "fine" }]);
  });
});
