/**
 * Runs a batch's calls. A call that names a task (`params.id`) waits only for the
 * earlier calls of the batch on the same task and for the earlier calls that name no
 * task (poll, list, define, a create without an id), which wait for everything
 * before them. So a batch reads as if run in order, while ten `start`s of ten claimed
 * tasks share one durable commit instead of waiting for ten in turn.
 */
import type { Call } from "./calls";
import { toRpcAnswer } from "./errors";

export async function runBatch(
  calls: readonly Call[],
  run: (call: Call) => Promise<unknown>,
): Promise<unknown[]> {
  const answer = (call: Call) =>
    run(call).then(
      (result) => ({ result }),
      (error: unknown) => {
        const known = toRpcAnswer(error);
        if (known === undefined) throw error;
        return known.body;
      },
    );
  const byTask = new Map<string, Promise<unknown>>();
  let all: Promise<unknown>[] = [];
  let barrier: Promise<unknown> = Promise.resolve();
  const answers: Promise<unknown>[] = [];
  for (const call of calls) {
    const id = (call.params as { id?: unknown }).id;
    let next: Promise<unknown>;
    if (typeof id === "string") {
      const before = byTask.get(id) ?? barrier;
      const after = Promise.all([before, barrier]);
      next = after.then(() => answer(call));
      byTask.set(id, next);
      all.push(next);
    } else {
      const everything = Promise.all([barrier, ...all]);
      next = everything.then(() => answer(call));
      barrier = next;
      all = [];
      byTask.clear();
    }
    answers.push(next);
  }
  return Promise.all(answers);
}
