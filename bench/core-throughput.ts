/**
 * Tasks per second through the runtime: every task is an actor, dispatched to the
 * embedded agent (noop action), its result reported back and made durable (SQLite,
 * synchronous=FULL, group commit). The clock runs from the first submit to the last
 * task's `done` event, which the engine publishes only after it is on disk.
 */
import { startBenchEngine } from "./harness";

export interface ThroughputResult {
  readonly tasks: number;
  readonly seconds: number;
  readonly tasksPerSec: number;
  readonly commits: number;
}

export async function runCoreThroughput(
  tasks: number,
  inFlight: number,
): Promise<ThroughputResult> {
  const bench = await startBenchEngine();
  try {
    let done = 0;
    let resolveAll: () => void = () => {};
    const allDone = new Promise<void>((resolve) => {
      resolveAll = resolve;
    });
    bench.bus.subscribe("fw.events.task.*.done", () => {
      if (++done === tasks) resolveAll();
    });
    const action = [{ type: "noop" }];
    const started = performance.now();
    let submitted = 0;
    // Keep `inFlight` submissions waiting for their durable acknowledgement at once,
    // like a client with that many concurrent requests.
    const worker = async () => {
      while (submitted < tasks) {
        submitted++;
        await bench.engine.submit({ tenant: "bench", actions: action });
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    await allDone;
    const seconds = (performance.now() - started) / 1000;
    return { tasks, seconds, tasksPerSec: tasks / seconds, commits: bench.engine.stats().commits };
  } finally {
    await bench.close();
  }
}
