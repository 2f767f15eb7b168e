/**
 * The composition root: the only module that wires concrete implementations
 * together (store, bus, engine, embedded agent, HTTP).
 */
import { randomBytes } from "node:crypto";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createWebSocketInspector } from "@statelyai/inspect";
import type { ActionHandler } from "../agent/actions/action";
import { execAction } from "../agent/actions/exec";
import { instanceActions } from "../agent/actions/instance-actions";
import { noopAction } from "../agent/actions/noop";
import { Agent } from "../agent/agent";
import { BuildCache } from "../agent/build-cache";
import { Instances } from "../agent/instances";
import { SqliteAgentState } from "../agent/state";
import { ApiKeys, createApp } from "./api";
import { BUILT_IN_TEMPLATES, checkTemplates, type TaskTemplate } from "./api/hosttask";
import { EmbeddedBus, NatsBus } from "./bus";
import type { Bus } from "./bus/bus";
import { ensureEventStream } from "./bus/event-stream";
import { type Clock, systemClock } from "./clock";
import { type AgentConfig, type Config, readConfigFile } from "./config";
import { ConfigError, InvalidInputError } from "./errors";
import { createRootLogger, enterLogContext, type Logger } from "./log";
import { type EntityEvent, patterns, subjects } from "./protocol";
import type { TaskDefinitionInput } from "./runtime/commands";
import { Engine } from "./runtime/engine";
import { Inspection } from "./runtime/inspection";
import { EngineMetrics, instrumentStore } from "./runtime/metrics";
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
  /** What `GET /metrics` serves. */
  readonly metrics: EngineMetrics;
  /** The port it listens on (after `listen`). */
  port(): number;
  listen(): void;
  stop(): Promise<void>;
}

export interface ServerOverrides {
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Where the generated key is printed. @default stdout */
  readonly print?: (text: string) => void;
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

/** Where a generated API key is kept when FW_API_KEYS is unset. */
export const GENERATED_KEY_FILE = "api-key";

/**
 * The configured keys, or one client ("default") with a random key kept in the data
 * dir: created and printed once, with a curl line to paste, then reused.
 */
export function resolveApiKeys(config: Config, print: (text: string) => void): ApiKeys {
  if (config.apiKeys.length > 0) return new ApiKeys(config.apiKeys);
  ensureWritableDir(config.dataDir);
  const file = join(config.dataDir, GENERATED_KEY_FILE);
  if (existsSync(file)) {
    const [client, key] = readFileSync(file, "utf8").trim().split(":");
    if (client && key) return new ApiKeys([{ client, key }]);
  }
  const key = randomBytes(24).toString("base64url");
  writeFileSync(file, `default:${key}\n`, { mode: 0o600 });
  const host = config.host === "0.0.0.0" ? "localhost" : config.host;
  print(
    `fleetwork: FW_API_KEYS is not set, so client "default" was created with API key ${key}\n` +
      `fleetwork: it is kept in ${file}; try:\n` +
      `  curl -H 'Authorization: Bearer ${key}' http://${host}:${config.port}/tasks\n`,
  );
  return new ApiKeys([{ client: "default", key }]);
}

/** The built-in host task templates, plus those of FW_TEMPLATES_FILE. */
export function loadTemplates(config: Config): readonly TaskTemplate[] {
  if (config.templatesFile === null) return BUILT_IN_TEMPLATES;
  const file = readConfigFile(config.templatesFile, "templates file");
  if (!Array.isArray(file)) {
    throw new ConfigError(`templates file ${config.templatesFile} must hold a list of templates`);
  }
  return checkTemplates([...BUILT_IN_TEMPLATES, ...file]);
}

/** The executor task definitions of FW_TASK_DEFINITIONS_FILE (checked by the engine). */
export function loadTaskDefinitions(config: Config): readonly TaskDefinitionInput[] {
  if (config.taskDefinitionsFile === null) return [];
  const file = readConfigFile(config.taskDefinitionsFile, "task definitions file");
  if (!Array.isArray(file)) {
    throw new ConfigError(
      `task definitions file ${config.taskDefinitionsFile} must hold a list of definitions`,
    );
  }
  return file as TaskDefinitionInput[];
}

/** The job workflows of FW_WORKFLOWS_DIR (checked by the engine), with their file names. */
export function loadWorkflowFiles(config: Config): { source: string; value: unknown }[] {
  if (!existsSync(config.workflowsDir)) {
    if (!config.workflowsDirSet) return [];
    throw new ConfigError(`workflows directory ${config.workflowsDir} does not exist`);
  }
  return readdirSync(config.workflowsDir)
    .filter((name) => /\.(ya?ml|json)$/.test(name))
    .sort()
    .map((name) => {
      const file = join(config.workflowsDir, name);
      return { source: file, value: readConfigFile(file, "workflow file") };
    });
}

/** The browsable API page's script and style, from the swagger-ui-dist package. */
function openApiAssets(): { script: string; style: string } | undefined {
  try {
    const file = (name: string) =>
      readFileSync(fileURLToPath(import.meta.resolve(`swagger-ui-dist/${name}`)), "utf8");
    return { script: file("swagger-ui-bundle.js"), style: file("swagger-ui.css") };
  } catch {
    return undefined;
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
  const apiKeys = resolveApiKeys(config, overrides.print ?? ((text) => process.stdout.write(text)));
  const templates = loadTemplates(config);
  const embedded = config.natsUrl === null;
  const store = openStore(config);
  const metrics = new EngineMetrics();
  let bus: Bus;
  if (config.natsUrl === null) {
    bus = new EmbeddedBus({
      onError: (error, subject) => log.error({ err: error, subject }, "bus handler failed"),
    });
  } else {
    try {
      const nats = await NatsBus.connect({
        servers: config.natsUrl,
        name: "fleetwork-engine",
        ...config.natsClient,
        log: log.child({ scope: "nats" }),
        onReconnect: () => metrics.busReconnected(),
      });
      // Events are published with plain NATS; the stream keeps them for replay.
      await ensureEventStream(nats);
      bus = nats;
    } catch (error) {
      await store.close().catch(() => {});
      throw new ConfigError(`cannot use NATS at ${config.natsUrl}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const connectedBus = bus;
  metrics.watchBus(connectedBus instanceof NatsBus ? () => connectedBus.connected : () => true);
  // Every committed state change feeds the metrics (task latencies, events by kind).
  bus.subscribe<EntityEvent>(patterns.allEvents, (message) => {
    if (typeof message.data === "object" && message.data !== null) {
      metrics.observeEvent(message.data);
    }
  });
  // FW_INSPECT: every actor's XState inspection events go to a Stately inspector.
  const inspector =
    config.inspect === null ? null : createWebSocketInspector({ url: config.inspect });
  const engine = new Engine({
    // Timed, for the commit size and latency histograms.
    store: instrumentStore(store, metrics),
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
      // With NATS, agents are remote and every task names its own.
      defaultAgentId: embedded ? config.localAgentId : null,
      commandTimeoutMs: 5_000,
      eventRetentionMs: config.eventRetentionMs,
      restartedAgents: embedded ? [config.localAgentId] : [],
      agentHeartbeatTimeoutMs: config.agentTimeoutMs,
      taskDefinitions: loadTaskDefinitions(config),
      workflowFiles: loadWorkflowFiles(config),
      ...(inspector ? { inspect: inspector.inspect } : {}),
    },
  });
  metrics.watchEngine(engine);
  try {
    await engine.start();
  } catch (error) {
    await bus.close().catch(() => {});
    await store.close().catch(() => {});
    // A bad definition or workflow file is a configuration error: one line, exit
    // non-zero. (A workflow file's message starts with the file's name already.)
    if (error instanceof InvalidInputError) {
      const definitions = /^taskDefinitions\[/.test(error.field ?? "");
      throw new ConfigError(
        definitions
          ? `task definitions file ${config.taskDefinitionsFile}: ${error.message}`
          : error.message,
      );
    }
    throw error;
  }
  const agent = embedded
    ? new Agent({
        id: config.localAgentId,
        bus,
        log: log.child({ scope: "agent" }),
        actions: [execAction, noopAction],
        labels: { embedded: "true" },
      })
    : null;
  agent?.start();
  const app = createApp(engine, {
    log: log.child({ scope: "http" }),
    apiKeys,
    templates,
    periodic: engine.periodic,
    executor: engine.executor,
    debug: new Inspection(engine, store),
    jobs: engine.jobs,
    openApiAssets: openApiAssets(),
    metrics,
    metricsOpen: config.metricsOpen,
    maxBodyBytes: config.maxBodyBytes,
    rateLimit: config.rateLimit,
    idleTimeoutSeconds: config.idleTimeoutSeconds,
    enterLogContext,
  });
  let stopped = false;
  return {
    engine,
    app,
    agent,
    bus,
    store,
    log,
    metrics,
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
      await agent?.stop();
      await engine.stop();
      inspector?.stop();
      await bus.close();
      await store.close();
    },
  };
}

export interface AgentProcess {
  readonly agent: Agent;
  readonly log: Logger;
  stop(): Promise<void>;
}

/**
 * The actions an agent config allows, from those it could run: every one but exec
 * unless the config lists them.
 */
export function allowedActions(
  config: AgentConfig,
  all: readonly ActionHandler[],
): ActionHandler[] {
  const allowed = config.actions;
  if (allowed === null) return all.filter((action) => action.type !== "exec");
  const known = new Set(all.map((action) => action.type));
  const unknown = allowed.filter((type) => !known.has(type));
  if (unknown.length > 0) {
    throw new ConfigError(
      `agent config lists unknown actions: ${unknown.join(", ")} (known: ${[...known].join(", ")})`,
    );
  }
  return all.filter((action) => allowed.includes(action.type));
}

/** `fleetwork agent`: a host agent connected to the engine over NATS. */
export async function startAgent(config: AgentConfig): Promise<AgentProcess> {
  const log = createRootLogger({ level: config.logLevel, pretty: config.logPretty });
  // Filled once the bus is up; an instance can only crash after it was started.
  let onInstanceExit: (instanceId: string, code: number | null, signal: string | null) => void =
    () => {};
  const instances = new Instances(config.instances, (instanceId, code, signal) =>
    onInstanceExit(instanceId, code, signal),
  );
  const builds = new BuildCache(config.stateDir);
  const actions = allowedActions(config, [
    noopAction,
    execAction,
    ...instanceActions({ instances, builds }),
  ]);
  let bus: NatsBus;
  try {
    bus = await NatsBus.connect({
      servers: config.natsUrl,
      name: `fleetwork-agent-${config.id}`,
      ...config.natsClient,
      // Its own inbox, so its permissions can keep it out of everyone else's replies.
      inboxPrefix: subjects.agentInbox(config.id),
      log: log.child({ scope: "nats" }),
    });
  } catch (error) {
    // The bus's message already names the server and the reason.
    throw new ConfigError((error as Error).message, { cause: error });
  }
  const state = new SqliteAgentState(config.stateDir);
  onInstanceExit = (instanceId, code, signal) => {
    log.warn({ instanceId, code, signal }, "instance exited on its own");
    try {
      // The engine relays it as an event: agents may not publish events themselves.
      bus.publish(subjects.instanceExit(config.id), {
        agentId: config.id,
        instanceId,
        code,
        signal,
        at: Date.now(),
      });
    } catch (error) {
      log.debug({ err: error }, "could not publish the instance exit");
    }
  };
  const agent = new Agent({
    id: config.id,
    bus,
    log: log.child({ scope: "agent" }),
    actions,
    labels: config.labels,
    instances: config.instances.map((instance) => ({ ...instance })),
    heartbeatMs: config.heartbeatMs,
    state,
  });
  agent.start();
  // Credentials that may not read this agent's commands (another agent's, say) would
  // leave it running deaf: stop with one line instead.
  await bus.flush().catch(() => {});
  const refused = bus.refusedSubscriptions;
  if (refused.length > 0) {
    await agent.stop(0);
    await bus.close();
    state.close();
    throw new ConfigError(
      `NATS user "${config.natsClient.user ?? ""}" may not subscribe to ${refused.join(", ")}: use agent ${config.id}'s own credentials`,
    );
  }
  let stopped = false;
  return {
    agent,
    log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await agent.stop();
      await bus.close();
      state.close();
    },
  };
}
