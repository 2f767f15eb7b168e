/**
 * The one place that reads the environment and the command line. Every option is
 * resolved here once, validated, given its default and frozen; everything else gets
 * the result passed in (STYLE.md #4).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Static, Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./errors";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export const ConfigSchema = T.Object({
  /** HTTP port; 0 picks a free one. @default 8080 */
  port: T.Integer({ minimum: 0, maximum: 65_535 }),
  /** Interface to listen on. @default "0.0.0.0" */
  host: T.String({ minLength: 1 }),
  /** Where the SQLite file (and generated keys) live. @default "./data" */
  dataDir: T.String({ minLength: 1 }),
  /** postgres://… selects PostgreSQL; unset keeps SQLite in dataDir. */
  databaseUrl: T.Union([T.String(), T.Null()]),
  /** Unset: embedded bus and a local agent, no NATS server needed. */
  natsUrl: T.Union([T.String(), T.Null()]),
  /** `client:key` pairs. */
  apiKeys: T.Array(T.Object({ client: T.String(), key: T.String() })),
  logLevel: T.Union(LOG_LEVELS.map((level) => T.Literal(level))),
  /** Pretty logs for humans. @default stdout is a TTY */
  logPretty: T.Boolean(),
  /** The embedded agent's id. @default "local" */
  localAgentId: T.String({ pattern: "^[A-Za-z0-9_-]{1,128}$" }),
  /** Tasks due further ahead than this are kept on disk, not in memory. @default 60000 */
  passivateAfterMs: T.Integer({ minimum: 0 }),
  /** @default 60000 */
  deliveryTimeoutMs: T.Integer({ minimum: 0 }),
  /** 0 = no limit. @default 3600000 */
  executionTimeoutMs: T.Integer({ minimum: 0 }),
  /** @default 15000 (three missed agent heartbeats) */
  heartbeatTimeoutMs: T.Integer({ minimum: 0 }),
  /** Journal retention. @default 86400000 */
  eventRetentionMs: T.Integer({ minimum: 1 }),
  /** An agent silent this long is offline; its attempts time out. @default 15000 */
  agentTimeoutMs: T.Integer({ minimum: 100 }),
  /** Host task templates (JSON or YAML) added to the built-in ones. */
  templatesFile: T.Union([T.String({ minLength: 1 }), T.Null()]),
  /** Executor task definitions (JSON or YAML list) every client has. */
  taskDefinitionsFile: T.Union([T.String({ minLength: 1 }), T.Null()]),
  /** Job workflows (*.yaml, *.yml, *.json). @default ./workflows, when it exists */
  workflowsDir: T.String({ minLength: 1 }),
  /** Whether workflowsDir was set: a missing default dir is fine, a missing set one is not. */
  workflowsDirSet: T.Boolean(),
  /**
   * FW_INSPECT: a Stately inspector's WebSocket (ws:// or wss://) that every actor's
   * XState inspection events are streamed to. @default null: no inspection
   */
  inspect: T.Union([T.String({ pattern: "^wss?://[^\\s]+$" }), T.Null()]),
  /** `GET /metrics` without an API key (for a scraper on a trusted network). @default false */
  metricsOpen: T.Boolean(),
});
export type Config = Readonly<Static<typeof ConfigSchema>>;

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  return value;
}

function flag(env: Env, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "" || raw === "0") return false;
  if (raw === "1") return true;
  throw new ConfigError(`${name} must be 1 or 0, got "${raw}"`);
}

function parseApiKeys(raw: string | undefined): { client: string; key: string }[] {
  if (!raw) return [];
  return raw.split(",").map((pair) => {
    const at = pair.indexOf(":");
    const client = pair.slice(0, at).trim();
    const key = pair.slice(at + 1).trim();
    if (at <= 0 || !client || !key) {
      throw new ConfigError(
        `FW_API_KEYS must be client:key pairs separated by commas, got "${pair}"`,
      );
    }
    return { client, key };
  });
}

function inspectUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  if (!/^wss?:\/\/\S+$/.test(raw)) {
    throw new ConfigError(
      `FW_INSPECT must be a Stately inspector's WebSocket URL (ws://host:port), got "${raw}"`,
    );
  }
  return raw;
}

function databaseUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("FW_DATABASE_URL is not a URL (expected postgres://user@host:port/db)");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError(
      `FW_DATABASE_URL scheme ${url.protocol.replace(/:$/, "")} is not supported (use postgres://, or leave it unset for SQLite)`,
    );
  }
  return raw;
}

/** Reads `--flag value` and `--flag=value` pairs that override the environment. */
function flags(argv: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) continue;
    const eq = arg.indexOf("=");
    if (eq > 0) result[arg.slice(2, eq)] = arg.slice(eq + 1);
    else if (i + 1 < argv.length) result[arg.slice(2)] = argv[++i] as string;
    else throw new ConfigError(`${arg} needs a value`);
  }
  return result;
}

const FLAG_TO_ENV: Record<string, string> = {
  port: "PORT",
  host: "HOST",
  "data-dir": "FW_DATA_DIR",
  "database-url": "FW_DATABASE_URL",
  nats: "FW_NATS_URL",
  "log-level": "FW_LOG_LEVEL",
};

export function loadConfig(env: Env, argv: readonly string[] = [], isTty = false): Config {
  const merged: Record<string, string | undefined> = { ...env };
  for (const [flag, value] of Object.entries(flags(argv))) {
    const name = FLAG_TO_ENV[flag];
    if (!name) throw new ConfigError(`unknown option --${flag}`);
    merged[name] = value;
  }
  const logLevel = merged.FW_LOG_LEVEL || "info";
  const config = {
    port: integer(merged, "PORT", 8080),
    host: merged.HOST || "0.0.0.0",
    dataDir: resolve(merged.FW_DATA_DIR || "./data"),
    databaseUrl: databaseUrl(merged.FW_DATABASE_URL),
    natsUrl: merged.FW_NATS_URL || null,
    apiKeys: parseApiKeys(merged.FW_API_KEYS),
    logLevel,
    logPretty: merged.FW_LOG_PRETTY ? merged.FW_LOG_PRETTY === "1" : isTty,
    localAgentId: merged.FW_LOCAL_AGENT_ID || "local",
    passivateAfterMs: integer(merged, "FW_PASSIVATE_AFTER_MS", 60_000),
    deliveryTimeoutMs: integer(merged, "FW_DELIVERY_TIMEOUT_MS", 60_000),
    executionTimeoutMs: integer(merged, "FW_EXECUTION_TIMEOUT_MS", 3_600_000),
    heartbeatTimeoutMs: integer(merged, "FW_HEARTBEAT_TIMEOUT_MS", 15_000),
    eventRetentionMs: integer(merged, "FW_EVENT_RETENTION_MS", 86_400_000),
    agentTimeoutMs: integer(merged, "FW_AGENT_TIMEOUT_MS", 15_000),
    templatesFile: merged.FW_TEMPLATES_FILE ? resolve(merged.FW_TEMPLATES_FILE) : null,
    taskDefinitionsFile: merged.FW_TASK_DEFINITIONS_FILE
      ? resolve(merged.FW_TASK_DEFINITIONS_FILE)
      : null,
    workflowsDir: resolve(merged.FW_WORKFLOWS_DIR || "./workflows"),
    workflowsDirSet: Boolean(merged.FW_WORKFLOWS_DIR),
    inspect: inspectUrl(merged.FW_INSPECT),
    metricsOpen: flag(merged, "FW_METRICS_OPEN"),
  };
  if (!Value.Check(ConfigSchema, config)) {
    const error = Value.Errors(ConfigSchema, config).First();
    const field = error?.path.replace(/^\//, "") ?? "config";
    throw new ConfigError(
      `bad configuration: ${field} ${error?.message ?? "is invalid"} (got ${JSON.stringify(error?.value)})`,
    );
  }
  return Object.freeze(config) as Config;
}

/** An application instance the agent manages (host-task system). */
export const InstanceConfigSchema = T.Object(
  {
    id: T.String({ pattern: "^[A-Za-z0-9_-]{1,128}$" }),
    /** Holds `current` (the deployed build), `logs/` and the pid file. */
    directory: T.String({ minLength: 1 }),
    start: T.Object(
      {
        command: T.String({ minLength: 1 }),
        env: T.Optional(T.Record(T.String(), T.String())),
      },
      { additionalProperties: false },
    ),
    labels: T.Optional(T.Record(T.String(), T.String())),
    fleetId: T.Optional(T.Integer({ minimum: 0 })),
    regionId: T.Optional(T.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/** The agent's config file (JSON or YAML). */
export const AgentFileSchema = T.Object(
  {
    id: T.Optional(T.String({ pattern: "^[A-Za-z0-9_-]{1,128}$" })),
    labels: T.Optional(T.Record(T.String(), T.String())),
    /**
     * The action types this agent runs. `exec` (any shell command) runs only when
     * listed here. @default every action but exec
     */
    actions: T.Optional(T.Array(T.String({ minLength: 1 }))),
    instances: T.Optional(T.Array(InstanceConfigSchema)),
    /** Ledger, outbox and build cache. @default ./agent-data */
    stateDir: T.Optional(T.String({ minLength: 1 })),
    /** @default 5000 */
    heartbeatMs: T.Optional(T.Integer({ minimum: 100, maximum: 60_000 })),
  },
  { additionalProperties: false },
);

export interface AgentConfig {
  readonly id: string;
  readonly natsUrl: string;
  readonly labels: Readonly<Record<string, string>>;
  /** null: every action except exec. */
  readonly actions: readonly string[] | null;
  readonly instances: readonly Static<typeof InstanceConfigSchema>[];
  readonly stateDir: string;
  readonly heartbeatMs: number;
  readonly logLevel: string;
  readonly logPretty: boolean;
}

const AGENT_FLAGS = ["nats", "id", "config", "state-dir", "log-level"] as const;

/** Reads a JSON or YAML file for the configuration; one clear error when it cannot. */
export function readConfigFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
  try {
    return /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${what} ${path} does not parse: ${(error as Error).message}`);
  }
}

/** `fleetwork agent --nats URL --id ID [--config FILE] [--state-dir DIR]`. */
export function loadAgentConfig(
  env: Env,
  argv: readonly string[] = [],
  isTty = false,
): AgentConfig {
  const given = flags(argv);
  for (const flag of Object.keys(given)) {
    if (!(AGENT_FLAGS as readonly string[]).includes(flag)) {
      throw new ConfigError(`unknown option --${flag}`);
    }
  }
  let file: Static<typeof AgentFileSchema> = {};
  const configPath = given.config ?? env.FW_AGENT_CONFIG;
  if (configPath) {
    let text: string;
    try {
      text = readFileSync(configPath, "utf8");
    } catch (error) {
      throw new ConfigError(`cannot read agent config ${configPath}: ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = /\.ya?ml$/i.test(configPath) ? parseYaml(text) : JSON.parse(text);
    } catch (error) {
      throw new ConfigError(
        `agent config ${configPath} does not parse: ${(error as Error).message}`,
      );
    }
    if (!Value.Check(AgentFileSchema, parsed)) {
      const error = Value.Errors(AgentFileSchema, parsed).First();
      throw new ConfigError(
        `agent config ${configPath}: ${error?.path || "/"} ${error?.message ?? "is invalid"}`,
      );
    }
    file = parsed;
  }
  const natsUrl = given.nats ?? env.FW_NATS_URL;
  if (!natsUrl) throw new ConfigError("the agent needs --nats <url> (or FW_NATS_URL)");
  const id = given.id ?? env.FW_AGENT_ID ?? file.id;
  if (!id) throw new ConfigError("the agent needs --id <agentId> (or id in its config file)");
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(id)) {
    throw new ConfigError(`agent id "${id}" may use only letters, digits, _ and -`);
  }
  const ids = new Set<string>();
  for (const instance of file.instances ?? []) {
    if (ids.has(instance.id)) throw new ConfigError(`instance ${instance.id} is declared twice`);
    ids.add(instance.id);
  }
  return Object.freeze({
    id,
    natsUrl,
    labels: file.labels ?? {},
    actions: file.actions ?? null,
    instances: file.instances ?? [],
    stateDir: resolve(
      given["state-dir"] ?? env.FW_AGENT_STATE_DIR ?? file.stateDir ?? "./agent-data",
    ),
    heartbeatMs: file.heartbeatMs ?? 5_000,
    logLevel: given["log-level"] ?? env.FW_LOG_LEVEL ?? "info",
    logPretty: env.FW_LOG_PRETTY ? env.FW_LOG_PRETTY === "1" : isTty,
  });
}
