/**
 * The composition root: the only module that wires concrete implementations
 * together (store, bus, engine, embedded agent, HTTP).
 */
import { accessSync, constants, mkdirSync } from "node:fs";
import { join } from "node:path";
import { execAction } from "../agent/actions/exec";
import { noopAction } from "../agent/actions/noop";
import { Agent } from "../agent/agent";
import { createApp } from "./api";
import { EmbeddedBus } from "./bus";
import type { Bus } from "./bus/bus";
import { type Clock, systemClock } from "./clock";
import type { Config } from "./config";
import { ConfigError } from "./errors";
import { createRootLogger, type Logger } from "./log";
import { Engine } from "./runtime/engine";
import { PostgresStore } from "./store/postgres-store";
import { SqliteStore } from "./store/sqlite-store";
import type { Store } from "./store/store";

export interface Server {
  readonly engine: Engine;
  readonly app: ReturnType<typeof createApp>;
  readonly agent: Agent | null;
  readonly bus: Bus;
  readonly store: Store;
  readonly log: Logger;
  /** The port it listens on (after `listen`). */
  port(): number;
  listen(): void;
  stop(): Promise<void>;
}

export interface ServerOverrides {
  readonly clock?: Clock;
  readonly log?: Logger;
}

function ensureWritableDir(dir: string) {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw new ConfigError(`data dir ${dir} is not writable: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export function openStore(config: Config): Store {
  if (config.databaseUrl) return new PostgresStore(config.databaseUrl);
  ensureWritableDir(config.dataDir);
  return new SqliteStore(join(config.dataDir, "fleetwork.db"));
}

/** Builds the engine and everything around it; `start` restores state. */
export async function startServer(
  config: Config,
  overrides: ServerOverrides = {},
): Promise<Server> {
  const log =
    overrides.log ?? createRootLogger({ level: config.logLevel, pretty: config.logPretty });
  const clock = overrides.clock ?? systemClock;
  if (config.natsUrl) {
    throw new ConfigError(
      "FW_NATS_URL is set, but this build has only the embedded bus; unset it to run embedded",
    );
  }
  const store = openStore(config);
  const bus = new EmbeddedBus({
    onError: (error, subject) => log.error({ err: error, subject }, "bus handler failed"),
  });
  const engine = new Engine({
    store,
    bus,
    clock,
    log: log.child({ scope: "engine" }),
    options: {
      passivateAfterMs: config.passivateAfterMs,
      wakeLeadMs: Math.min(1_000, config.passivateAfterMs),
      defaultTimeouts: {
        deliveryMs: config.deliveryTimeoutMs,
        executionMs: config.executionTimeoutMs,
        heartbeatMs: config.heartbeatTimeoutMs,
      },
      defaultRetry: { limit: 0, backoffMs: 1_000, factor: 2, maxBackoffMs: 60_000 },
      defaultAgentId: config.localAgentId,
      commandTimeoutMs: 5_000,
      eventRetentionMs: config.eventRetentionMs,
      restartedAgents: [config.localAgentId],
    },
  });
  try {
    await engine.start();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  const agent = new Agent({
    id: config.localAgentId,
    bus,
    log: log.child({ scope: "agent" }),
    actions: [execAction, noopAction],
    labels: { embedded: "true" },
  });
  agent.start();
  const app = createApp(engine, { log: log.child({ scope: "http" }) });
  let stopped = false;
  return {
    engine,
    app,
    agent,
    bus,
    store,
    log,
    port: () => app.server?.port ?? 0,
    listen() {
      try {
        app.listen({ port: config.port, hostname: config.host });
      } catch (error) {
        const message = (error as Error).message ?? String(error);
        if (/in use|EADDRINUSE/i.test(message)) {
          throw new ConfigError(`port ${config.port} is in use`, { cause: error });
        }
        throw new ConfigError(`cannot listen on ${config.host}:${config.port}: ${message}`, {
          cause: error,
        });
      }
      log.info({ port: app.server?.port, host: config.host }, "listening");
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.stop().catch(() => {});
      await agent.stop();
      await engine.stop();
      await bus.close();
      await store.close();
    },
  };
}
