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

/**
 * How a NATS client (the engine, or an agent) proves who it is and whether it speaks
 * TLS; the shape of the NATS bus's own options, so it is passed on as it is. See
 * docs/nats-security.md.
 */
export const NatsClientSchema = T.Object(
  {
    /** FW_NATS_USER, or the user in FW_NATS_URL. @default none */
    user: T.Optional(T.String({ minLength: 1 })),
    /** FW_NATS_PASSWORD, FW_NATS_PASSWORD_FILE's first line, or the URL's. @default none */
    pass: T.Optional(T.String()),
    /**
     * TLS, required when FW_NATS_URL is tls:// or any FW_NATS_TLS_* file is set:
     * FW_NATS_TLS_CA (the CA to trust), FW_NATS_TLS_CERT and FW_NATS_TLS_KEY (a client
     * certificate). @default none: TLS only when the server asks for it
     */
    tls: T.Optional(
      T.Object(
        {
          caFile: T.Optional(T.String({ minLength: 1 })),
          certFile: T.Optional(T.String({ minLength: 1 })),
          keyFile: T.Optional(T.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type NatsClientConfig = Readonly<Static<typeof NatsClientSchema>>;

export const ConfigSchema = T.Object({
  /** HTTP port; 0 picks a free one. @default 8080 */
  port: T.Integer({ minimum: 0, maximum: 65_535 }),
  /** Interface to listen on. @default "0.0.0.0" */
  host: T.String({ minLength: 1 }),
  /** Where the SQLite file (and generated keys) live. @default "./data" */
  dataDir: T.String({ minLength: 1 }),
  /** postgres://… selects PostgreSQL; unset keeps SQLite in dataDir. */
  databaseUrl: T.Union([T.String(), T.Null()]),
  /** Unset: embedded bus and a local agent, no NATS server needed. Never holds a password. */
  natsUrl: T.Union([T.String(), T.Null()]),
  /** The engine's NATS credentials and TLS. @default none */
  natsClient: NatsClientSchema,
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
  /**
   * FW_MAX_BODY_BYTES: larger request bodies are refused with 413 on every route,
   * without being read. @default 1048576 (1 MiB)
   */
  maxBodyBytes: T.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024 }),
  /**
   * FW_RATE_LIMIT, `<requests per second>[/<burst>]` per API client (per remote address
   * without a valid key); `0` turns it off. Over it: 429 with Retry-After.
   * @default 5000/10000 (the executor bench drives about 3,000 requests/s from one client)
   */
  rateLimit: T.Union([
    T.Object({ perSecond: T.Number({ exclusiveMinimum: 0 }), burst: T.Integer({ minimum: 1 }) }),
    T.Null(),
  ]),
  /**
   * FW_IDLE_TIMEOUT_S: seconds a connection may stay silent in a request before the
   * server closes it (slow clients); SSE streams lift it for themselves. @default 10
   */
  idleTimeoutSeconds: T.Integer({ minimum: 1, maximum: 255 }),
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

/** The default FW_RATE_LIMIT; see the README's "Limits" for why. */
const DEFAULT_RATE_LIMIT = { perSecond: 5_000, burst: 10_000 } as const;

/** `<requests per second>[/<burst>]`, `0` for none; the burst defaults to twice the rate. */
function rateLimit(raw: string | undefined): { perSecond: number; burst: number } | null {
  if (raw === undefined || raw === "") return { ...DEFAULT_RATE_LIMIT };
  const match = /^(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(raw.trim());
  const perSecond = Number(match?.[1]);
  if (match && perSecond === 0 && match[2] === undefined) return null;
  const burst = match?.[2] === undefined ? Math.ceil(perSecond * 2) : Number(match[2]);
  if (!match || !(perSecond > 0) || !(burst >= 1)) {
    throw new ConfigError(
      `FW_RATE_LIMIT must be <requests per second>[/<burst>] (e.g. 100/200), or 0 for no limit; got "${raw}"`,
    );
  }
  return { perSecond, burst };
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

/** A PEM file for TLS: readable, and PEM, or one line that says which and why. */
function pemFile(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  const path = resolve(raw);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`${name} ${path} cannot be read: ${(error as Error).message}`);
  }
  if (!text.includes("-----BEGIN ")) {
    throw new ConfigError(`${name} ${path} is not a PEM file (no "-----BEGIN" line)`);
  }
  return path;
}

/** FW_NATS_PASSWORD, or the first line of FW_NATS_PASSWORD_FILE (kept out of `ps`). */
function natsPassword(env: Env): string | undefined {
  const file = env.FW_NATS_PASSWORD_FILE;
  if (file && env.FW_NATS_PASSWORD) {
    throw new ConfigError("set FW_NATS_PASSWORD or FW_NATS_PASSWORD_FILE, not both");
  }
  if (!file) return env.FW_NATS_PASSWORD || undefined;
  let text: string;
  try {
    text = readFileSync(resolve(file), "utf8");
  } catch (error) {
    throw new ConfigError(
      `FW_NATS_PASSWORD_FILE ${resolve(file)} cannot be read: ${(error as Error).message}`,
    );
  }
  const password = text.split(/\r?\n/)[0] ?? "";
  if (password === "") throw new ConfigError(`FW_NATS_PASSWORD_FILE ${resolve(file)} is empty`);
  return password;
}

const NATS_URL_PATTERN = /^(?:([A-Za-z][A-Za-z0-9+.-]*):\/\/)?(?:([^@/]*)@)?([^@/]+?)\/?$/;

/**
 * The NATS URL without its credentials (so it can be logged), and the client options:
 * credentials from the URL or FW_NATS_USER / FW_NATS_PASSWORD(_FILE), TLS from a tls://
 * URL or FW_NATS_TLS_CA / _CERT / _KEY. Every mistake is one line naming the variable.
 */
export function natsConnection(
  env: Env,
  rawUrl: string | undefined,
): { url: string | null; client: NatsClientConfig } {
  const user = env.FW_NATS_USER || undefined;
  const password = natsPassword(env);
  const tlsFiles = {
    caFile: pemFile(env, "FW_NATS_TLS_CA"),
    certFile: pemFile(env, "FW_NATS_TLS_CERT"),
    keyFile: pemFile(env, "FW_NATS_TLS_KEY"),
  };
  if (!rawUrl) {
    const set = ["FW_NATS_USER", "FW_NATS_PASSWORD", "FW_NATS_PASSWORD_FILE", "FW_NATS_TLS_CA"]
      .concat(["FW_NATS_TLS_CERT", "FW_NATS_TLS_KEY"])
      .find((name) => env[name]);
    if (set) throw new ConfigError(`${set} is set but FW_NATS_URL is not`);
    return { url: null, client: {} };
  }
  const match = NATS_URL_PATTERN.exec(rawUrl.trim());
  if (!match) {
    throw new ConfigError(
      `FW_NATS_URL must look like nats://[user:password@]host:port, got "${rawUrl}"`,
    );
  }
  const [, scheme = "nats", userInfo, hostPort = ""] = match;
  if (scheme !== "nats" && scheme !== "tls") {
    throw new ConfigError(
      `FW_NATS_URL scheme ${scheme} is not supported (use nats:// or tls://), got "${rawUrl}"`,
    );
  }
  const client: { user?: string; pass?: string; tls?: NatsClientConfig["tls"] } = {};
  if (userInfo !== undefined) {
    if (user || password) {
      throw new ConfigError(
        "NATS credentials are given twice: in FW_NATS_URL and in FW_NATS_USER/FW_NATS_PASSWORD",
      );
    }
    const colon = userInfo.indexOf(":");
    const urlUser = decodeURIComponent(colon < 0 ? userInfo : userInfo.slice(0, colon));
    if (urlUser === "") throw new ConfigError("FW_NATS_URL names a password but no user");
    client.user = urlUser;
    if (colon >= 0) client.pass = decodeURIComponent(userInfo.slice(colon + 1));
  } else {
    if (password !== undefined && user === undefined) {
      throw new ConfigError("FW_NATS_PASSWORD needs FW_NATS_USER");
    }
    if (user !== undefined) client.user = user;
    if (password !== undefined) client.pass = password;
  }
  if ((tlsFiles.certFile === undefined) !== (tlsFiles.keyFile === undefined)) {
    throw new ConfigError("FW_NATS_TLS_CERT and FW_NATS_TLS_KEY go together: set both or neither");
  }
  const files = Object.entries(tlsFiles).filter(([, path]) => path !== undefined);
  if (scheme === "tls" || files.length > 0) client.tls = Object.fromEntries(files);
  return { url: `${scheme}://${hostPort}`, client };
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
  const nats = natsConnection(merged, merged.FW_NATS_URL);
  const config = {
    port: integer(merged, "PORT", 8080),
    host: merged.HOST || "0.0.0.0",
    dataDir: resolve(merged.FW_DATA_DIR || "./data"),
    databaseUrl: databaseUrl(merged.FW_DATABASE_URL),
    natsUrl: nats.url,
    natsClient: nats.client,
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
    maxBodyBytes: integer(merged, "FW_MAX_BODY_BYTES", 1024 * 1024),
    rateLimit: rateLimit(merged.FW_RATE_LIMIT),
    idleTimeoutSeconds: integer(merged, "FW_IDLE_TIMEOUT_S", 10),
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
  /** Never holds a password. */
  readonly natsUrl: string;
  /** The agent's own NATS credentials and TLS (FW_NATS_USER, FW_NATS_TLS_CA, ...). */
  readonly natsClient: NatsClientConfig;
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
  const rawNatsUrl = given.nats ?? env.FW_NATS_URL;
  if (!rawNatsUrl) throw new ConfigError("the agent needs --nats <url> (or FW_NATS_URL)");
  const nats = natsConnection(env, rawNatsUrl);
  const natsUrl = nats.url ?? rawNatsUrl;
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
    natsClient: nats.client,
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
