/**
 * An engine for tests: real SQLite in a fresh temp dir, the embedded bus, and the
 * real agent with its real actions, all in this process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execAction } from "../../agent/actions/exec";
import { noopAction } from "../../agent/actions/noop";
import { Agent } from "../../agent/agent";
import { EmbeddedBus } from "../../src/bus";
import { type Clock, systemClock } from "../../src/clock";
import { silentLogger } from "../../src/log";
import type { TaskView } from "../../src/runtime/commands";
import { Engine, type EngineOptions } from "../../src/runtime/engine";
import { SqliteStore } from "../../src/store/sqlite-store";
import type { Store } from "../../src/store/store";

export interface TestEngine {
  readonly engine: Engine;
  readonly bus: EmbeddedBus;
  readonly agent: Agent;
  readonly dir: string;
  /** Resolves with the task's view once its status is one of `statuses`. */
  waitFor(id: number, statuses: readonly string[], timeoutMs?: number): Promise<TaskView>;
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

export const TENANT = "test";

export function tempDir(prefix = "fw-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestEngine(
  options: {
    dir?: string;
    clock?: Clock;
    engine?: Partial<EngineOptions>;
    /** The store to use; SQLite in `dir` by default. */
    store?: Store;
    /** The tenant `waitFor` reads tasks as. @default TENANT */
    tenant?: string;
  } = {},
): Promise<TestEngine> {
  const dir = options.dir ?? tempDir();
  const store = options.store ?? new SqliteStore(join(dir, "fleetwork.db"));
  const bus = new EmbeddedBus();
  const engine = new Engine({
    store,
    bus,
    clock: options.clock ?? systemClock,
    log: silentLogger,
    options: {
      passivateAfterMs: 60_000,
      wakeLeadMs: 1_000,
      defaultTimeouts: { deliveryMs: 10_000, executionMs: 60_000, heartbeatMs: 0 },
      defaultRetry: { limit: 0, backoffMs: 100, factor: 2, maxBackoffMs: 1_000 },
      defaultAgentId: "local",
      commandTimeoutMs: 2_000,
      eventRetentionMs: 86_400_000,
      ...options.engine,
    },
  });
  await engine.start();
  const tenant = options.tenant ?? TENANT;
  const agent = new Agent({
    id: "local",
    bus,
    log: silentLogger,
    actions: [execAction, noopAction],
    heartbeatMs: 200,
  });
  agent.start();
  return {
    engine,
    bus,
    agent,
    dir,
    waitFor(id, statuses, timeoutMs = 10_000) {
      // Event-driven: every task change is published on the bus after its commit.
      return new Promise<TaskView>((resolve, reject) => {
        let settled = false;
        const check = () => {
          engine.get(tenant, id).then((view) => {
            if (!settled && statuses.includes(view.status)) {
              settled = true;
              clearTimeout(timer);
              subscription.unsubscribe();
              resolve(view);
            }
          }, reject);
        };
        const subscription = bus.subscribe(`fw.events.task.${id}.>`, check);
        const timer = setTimeout(() => {
          settled = true;
          subscription.unsubscribe();
          engine
            .get(tenant, id)
            .then(
              (view) => reject(new Error(`task ${id} is ${view.state}, not ${statuses.join("|")}`)),
              reject,
            );
        }, timeoutMs);
        check();
      });
    },
    async stop({ keepDir = false } = {}) {
      await agent.stop();
      await engine.stop();
      await bus.close();
      await store.close();
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
