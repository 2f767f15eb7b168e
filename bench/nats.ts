/**
 * `npm run bench -- nats`: the engine over a real nats-server with host agents as
 * child processes (noop action, durability on), side by side with a plain JetStream
 * work queue on the same server (the floor a NATS-based engine pays).
 *
 *   throughput  first submit → last task done, with 1 and with 4 agents;
 *   latency     on an idle engine, one task at a time: submit → the agent's first
 *               report seen on NATS (the agent started and, for noop, finished it).
 *
 * The engine, the JetStream producer and its consumer run in this process; agents are
 * separate processes, as they would be on other hosts.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { NatsBus } from "../src/bus";
import { startAgentProcess } from "../test/helpers/agent-process";
import { startNats } from "../test/helpers/nats";
import { fmt, median, percentile, startBenchEngine, table } from "./harness";

export interface NatsBenchOptions {
  readonly tasks: number;
  readonly rounds: number;
  readonly latencySamples: number;
}

function startAgents(url: string, count: number, dir: string): ChildProcess[] {
  return Array.from({ length: count }, (_, i) =>
    startAgentProcess({
      natsUrl: url,
      id: `bench-${i + 1}`,
      dir,
      config: { actions: ["noop"] },
      logLevel: "warn",
      env: { NODE_ENV: "production" },
    }),
  );
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function engineRun(url: string, agentCount: number, options: NatsBenchOptions) {
  const dir = mkdtempSync(join(tmpdir(), "fw-bench-nats-"));
  const bus = await NatsBus.connect({ servers: url, name: "bench-engine" });
  const bench = await startBenchEngine({ dir, bus });
  const agents = startAgents(url, agentCount, dir);
  try {
    await waitFor(
      () => bench.engine.agents().filter((a) => a.status === "online").length === agentCount,
      "agents online",
    );
    const ids = bench.engine.agents().map((a) => a.id);
    const action = [{ type: "noop" }];
    const finished = () => bench.engine.stats().finished.done ?? 0;

    // Latency first, on an idle engine: submit → the agent's report arrives on NATS.
    const reported = new Map<number, number>();
    const watch = bus.subscribe<{ taskId: number }>("fw.report.*", (message) => {
      if (!reported.has(message.data.taskId)) reported.set(message.data.taskId, performance.now());
    });
    await bus.flush();
    const latencies: number[] = [];
    for (let i = 0; i < options.latencySamples + 50; i++) {
      const before = finished();
      const started = performance.now();
      const view = await bench.engine.submit({
        tenant: "bench",
        agentId: ids[i % ids.length],
        actions: action,
      });
      await waitFor(() => finished() > before, "a task to finish", 10_000);
      const seen = reported.get(view.id);
      if (i >= 50 && seen !== undefined) latencies.push(seen - started);
    }
    watch.unsubscribe();

    const base = finished();
    const started = performance.now();
    let submitted = 0;
    const worker = async () => {
      while (submitted < options.tasks) {
        const n = submitted++;
        await bench.engine.submit({
          tenant: "bench",
          agentId: ids[n % ids.length],
          actions: action,
        });
      }
    };
    await Promise.all(Array.from({ length: 1_000 }, worker));
    await waitFor(() => finished() - base >= options.tasks, "all tasks done", 300_000);
    const seconds = (performance.now() - started) / 1000;
    return {
      tasksPerSec: options.tasks / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  } finally {
    for (const agent of agents) agent.kill("SIGTERM");
    await bench.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A plain JetStream work queue: publish N (1,000 pipelined), consume with acks. */
async function jetstreamRun(url: string, options: NatsBenchOptions) {
  const nc = await connect({ servers: url, name: "bench-jetstream" });
  const jsm = await jetstreamManager(nc);
  const stream = `BENCH_WQ_${Date.now()}`;
  await jsm.streams.add({
    name: stream,
    subjects: [`bench.${stream}`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  await jsm.consumers.add(stream, {
    durable_name: "worker",
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 1_000,
  });
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, "worker");
  const messages = await consumer.consume({ max_messages: 1_000 });
  let consumed = 0;
  // Set while the latency loop waits for one message.
  const waiting: { resolve: (() => void) | null } = { resolve: null };
  void (async () => {
    for await (const message of messages) {
      message.ack();
      consumed++;
      waiting.resolve?.();
    }
  })();
  try {
    const latencies: number[] = [];
    for (let i = 0; i < options.latencySamples + 50; i++) {
      const started = performance.now();
      const arrived = new Promise<number>((resolve) => {
        waiting.resolve = () => resolve(performance.now());
      });
      await js.publish(`bench.${stream}`, JSON.stringify({ n: i }));
      const at = await arrived;
      if (i >= 50) latencies.push(at - started);
    }
    waiting.resolve = null;
    const base = consumed;
    const started = performance.now();
    for (let n = 0; n < options.tasks; n += 1_000) {
      const batch: Promise<unknown>[] = [];
      for (let i = n; i < Math.min(options.tasks, n + 1_000); i++) {
        batch.push(js.publish(`bench.${stream}`, JSON.stringify({ n: i })));
      }
      await Promise.all(batch);
    }
    await waitFor(() => consumed - base >= options.tasks, "the work queue to drain", 300_000);
    await nc.flush();
    const seconds = (performance.now() - started) / 1000;
    return {
      tasksPerSec: options.tasks / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  } finally {
    messages.stop();
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  }
}

export async function runNats(options: NatsBenchOptions): Promise<void> {
  const nats = await startNats();
  type Row = { tasksPerSec: number; p50: number; p99: number };
  const results: Record<string, Row[]> = { one: [], four: [], jetstream: [] };
  try {
    for (let round = 1; round <= options.rounds; round++) {
      results.one?.push(await engineRun(nats.url, 1, options));
      results.four?.push(await engineRun(nats.url, 4, options));
      results.jetstream?.push(await jetstreamRun(nats.url, options));
      const last = (name: string) => results[name]?.at(-1)?.tasksPerSec ?? 0;
      process.stderr.write(
        `round ${round}: engine/1 agent ${fmt(last("one"))}/s, engine/4 agents ${fmt(last("four"))}/s, JetStream ${fmt(last("jetstream"))}/s\n`,
      );
    }
  } finally {
    await nats.stop();
  }
  const line = (label: string, rows: Row[]) => [
    label,
    `${fmt(median(rows.map((r) => r.tasksPerSec)))} /s`,
    `${fmt(median(rows.map((r) => r.p50)), 2)} ms`,
    `${fmt(median(rows.map((r) => r.p99)), 2)} ms`,
  ];
  const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, bun ${Bun.version}`;
  process.stdout.write(
    `\nnats bench on ${machine}, nats-server on loopback, ${fmt(options.tasks)} tasks a run, ${options.rounds} rounds (medians)\n\n${table(
      ["system", "throughput", "latency p50", "latency p99"],
      [
        line("engine, 1 agent (submit → agent report)", results.one ?? []),
        line("engine, 4 agents (submit → agent report)", results.four ?? []),
        line("JetStream work queue (publish → consumer)", results.jetstream ?? []),
      ],
    )}\n`,
  );
}
