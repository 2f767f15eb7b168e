/**
 * A real PostgreSQL server for tests: a throwaway cluster in its own temp dir, on its
 * own free loopback port, so test files can each start one in parallel.
 *
 * Uses the Debian `postgresql` package's binaries (/usr/lib/postgresql/<ver>/bin),
 * installing the package when they are missing. initdb and postgres refuse to run as
 * root, so under root they run as the `postgres` system user via runuser.
 */
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import { findOrInstall } from "./apt";
import { freePort } from "./free-port";

export { freePort };

const run = promisify(execFile);

export interface PostgresServer {
  /** Connects to the `postgres` database as the superuser `postgres` (trust auth). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

const PG_ROOT = "/usr/lib/postgresql";
const START_TIMEOUT_MS = 60_000;

/** The newest installed major version's bin dir, or undefined. */
function findBinDir(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(PG_ROOT, versions[0], "bin");
}

function binDir(): Promise<string> {
  return findOrInstall("postgresql", findBinDir);
}

/** The uid and gid of the `postgres` system user, from /etc/passwd. */
function postgresUser(): { uid: number; gid: number } {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name === "postgres") return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error("no `postgres` system user; is the Debian postgresql package installed?");
}

const isRoot = () => process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
function pg(bin: string, args: readonly string[], cwd: string) {
  const [file, argv] = isRoot()
    ? ["runuser", ["-u", "postgres", "--", bin, ...args]]
    : [bin, [...args]];
  // The cwd must be readable by the postgres user, or initdb and pg_ctl complain.
  return run(file, argv, { cwd, maxBuffer: 16 * 1024 * 1024 });
}

/** Polls with real connections until the server answers a query or the deadline passes. */
async function waitForConnections(url: string, deadline: number): Promise<void> {
  let last: unknown;
  while (Date.now() < deadline) {
    const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`SELECT 1`;
      return;
    } catch (error) {
      last = error;
    } finally {
      await sql.end({ timeout: 1 });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`PostgreSQL at ${url} did not accept connections in time`, { cause: last });
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = await binDir();
  const dir = mkdtempSync(join(tmpdir(), "fw-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "postgres.log");
  if (isRoot()) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  try {
    await pg(
      join(bin, "initdb"),
      ["-D", data, "--auth=trust", "-U", "postgres", "--encoding=UTF8", "--no-locale"],
      dir,
    );
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const options = [
        `-p ${port}`,
        "-c listen_addresses=127.0.0.1",
        `-c unix_socket_directories='${dir}'`,
        "-c fsync=on",
        "-c synchronous_commit=on",
        "-c shared_buffers=32MB",
        "-c max_connections=50",
      ].join(" ");
      try {
        await pg(
          join(bin, "pg_ctl"),
          [
            "-D",
            data,
            "-l",
            log,
            "-o",
            options,
            "-w",
            "-t",
            String(START_TIMEOUT_MS / 1000),
            "start",
          ],
          dir,
        );
      } catch (error) {
        // Another process may have taken the port between freePort() and the bind.
        if (attempt < 3) continue;
        const tail = existsSync(log) ? readFileSync(log, "utf8").slice(-2_000) : "";
        throw new Error(`pg_ctl start failed: ${tail}`, { cause: error });
      }
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      await waitForConnections(url, Date.now() + START_TIMEOUT_MS);
      return {
        url,
        host: "127.0.0.1",
        port,
        stop: async () => {
          try {
            await pg(join(bin, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"], dir);
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      };
    }
  } catch (error) {
    // A server that started but never answered must not outlive its data dir.
    await pg(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "stop"], dir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Creates an empty database on the server and returns its URL. */
export async function createDatabase(server: PostgresServer, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name: ${name}`);
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  return `postgres://postgres@${server.host}:${server.port}/${name}`;
}

/**
 * Hands out fresh databases, creating the next few in the background: CREATE DATABASE
 * takes a few hundred milliseconds, most of it waiting, and several overlap well.
 */
export function databaseSupply(
  server: PostgresServer,
  prefix: string,
  ahead = 3,
): { next(): Promise<string>; drain(): Promise<void> } {
  let created = 0;
  const queue: Promise<string>[] = [];
  const create = () => {
    const url = createDatabase(server, `${prefix}_${++created}`);
    // Marked handled so a failure waits for next() instead of crashing the run.
    url.catch(() => {});
    return url;
  };
  return {
    next() {
      const url = queue.shift() ?? create();
      while (queue.length < ahead) queue.push(create());
      return url;
    },
    async drain() {
      await Promise.allSettled(queue.splice(0));
    },
  };
}
