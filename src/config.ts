/**
 * The one place that reads the environment and the command line. Every option is
 * resolved here once, validated, given its default and frozen; everything else gets
 * the result passed in (STYLE.md #4).
 */
import { resolve } from "node:path";
import { type Static, Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
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
