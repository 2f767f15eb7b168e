/**
 * Shared pieces of the benchmarks: an in-process engine on a fresh data dir (SQLite,
 * durability on), a local agent, and small statistics helpers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { noopAction } from "../agent/actions/noop";
import { Agent } from "../agent/agent";
import { EmbeddedBus } from "../src/bus";
import type { Bus } from "../src/bus/bus";
import { systemClock } from "../src/clock";
import { silentLogger } from "../src/log";
import { Engine } from "../src/runtime/engine";
import { SqliteStore } from "../src/store/sqlite-store";

export interface BenchEngine {
  readonly engine: Engine;
  readonly bus: Bus;
  readonly agent: Agent | null;
  readonly dir: string;
  close(options?: { keepDir?: boolean }): Promise<void>;
}

export async function startBenchEngine(
  options: {
    dir?: string;
    withAgent?: boolean;
    passivateAfterMs?: number;
    /** The bus to run on; an embedded one (with a local agent) by default. */
    bus?: Bus;
  } = {},
): Promise<BenchEngine> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "fw-bench-"));
  const store = new SqliteStore(join(dir, "fleetwork.db"));
  const bus = options.bus ?? new EmbeddedBus();
  const engine = new Engine({
    store,
    bus,
    clock: systemClock,
    log: silentLogger,
    options: {
      passivateAfterMs: options.passivateAfterMs ?? 60_000,
      wakeLeadMs: 1_000,
      defaultTimeouts: { deliveryMs: 60_000, executionMs: 3_600_000, heartbeatMs: 15_000 },
      defaultRetry: { limit: 0, backoffMs: 1_000, factor: 2, maxBackoffMs: 60_000 },
      defaultAgentId: options.bus ? null : "local",
      commandTimeoutMs: 5_000,
      eventRetentionMs: 86_400_000,
    },
  });
  await engine.start();
  const agent =
    options.withAgent === false || options.bus
      ? null
      : new Agent({ id: "local", bus, log: silentLogger, actions: [noopAction] });
  agent?.start();
  return {
    engine,
    bus,
    agent,
    dir,
    async close({ keepDir = false } = {}) {
      await agent?.stop();
      await engine.stop();
      await bus.close();
      await store.close();
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export function rssMiB(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** Prints a Markdown table. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}
