/**
 * Memory per scheduled task and restore time, each phase in a fresh process so RSS
 * is that phase's alone:
 *   fill:    submit N tasks due in an hour (passivated: a heap entry and a row), report RSS;
 *   restore: start an engine on the same data dir, report the time to restore and RSS.
 * Run as `bun bench/core-memory.ts fill|restore <dir> [N]`; prints one JSON line.
 */
import { rssMiB, startBenchEngine } from "./harness";

async function fill(dir: string, count: number) {
  const bench = await startBenchEngine({ dir, withAgent: false });
  const baseline = rssMiB();
  const executeAt = Date.now() + 3_600_000;
  const action = [{ type: "noop" }];
  const started = performance.now();
  const chunk = 10_000;
  for (let i = 0; i < count; i += chunk) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(count, i + chunk); j++) {
      batch.push(bench.engine.submit({ tenant: "bench", actions: action, executeAt }));
    }
    await Promise.all(batch);
  }
  const submitSeconds = (performance.now() - started) / 1000;
  Bun.gc(true);
  const rss = rssMiB();
  const stats = bench.engine.stats();
  await bench.close({ keepDir: true });
  return {
    phase: "fill",
    count,
    baselineMiB: baseline,
    rssMiB: rss,
    submitSeconds,
    live: stats.liveTasks,
    wakeups: stats.passivatedWakeups,
  };
}

async function restore(dir: string) {
  const baseline = rssMiB();
  const started = performance.now();
  const bench = await startBenchEngine({ dir, withAgent: false });
  const restoreSeconds = (performance.now() - started) / 1000;
  Bun.gc(true);
  const rss = rssMiB();
  const stats = bench.engine.stats();
  await bench.close({ keepDir: true });
  return {
    phase: "restore",
    baselineMiB: baseline,
    rssMiB: rss,
    restoreSeconds,
    live: stats.liveTasks,
    wakeups: stats.passivatedWakeups,
  };
}

const [phase, dir, n] = process.argv.slice(2);
if (!dir || (phase !== "fill" && phase !== "restore")) {
  process.stderr.write("usage: bun bench/core-memory.ts fill|restore <dir> [count]\n");
  process.exit(2);
}
const result = phase === "fill" ? await fill(dir, Number(n ?? 1_000_000)) : await restore(dir);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
