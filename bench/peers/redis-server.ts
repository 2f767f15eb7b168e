/**
 * A real, throw-away redis-server for peer benchmarks: fresh temp dir, free loopback port,
 * AOF `everysec`, no RDB snapshots. Only 127.0.0.1 is ever bound or contacted.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "../../test/helpers/free-port";

export interface RedisServerHandle {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Kills the server (SIGTERM, then SIGKILL after a bound) and removes its data dir. */
  stop(): Promise<void>;
}

const INSTALL_HINT = "redis-server is not installed: run `apt-get install -y redis-server`";
const READY_TIMEOUT_MS = 10_000;
const PING_POLL_MS = 20;
const STOP_TIMEOUT_MS = 5_000;
const START_ATTEMPTS = 3;

/** Absolute path of the redis-server binary, or throws with the install hint. */
export function findRedisServer(): string {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((d) => d.length > 0);
  for (const dir of [...dirs, "/usr/bin", "/usr/sbin", "/usr/local/bin"]) {
    const candidate = join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(INSTALL_HINT);
}

/** `redis-server --version` output, e.g. "Redis server v=7.0.15 sha=…". */
export function redisServerVersion(): string {
  return execFileSync(findRedisServer(), ["--version"], {
    encoding: "utf8",
    timeout: 5_000,
  }).trim();
}

/** One RESP PING to 127.0.0.1:port; resolves true on +PONG, false on anything else. */
function pingOnce(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    let buf = "";
    const sock = createConnection({ host: "127.0.0.1", port });
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.setEncoding("utf8");
    sock.once("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    sock.on("data", (chunk: string) => {
      buf += chunk;
      if (buf.includes("\r\n")) finish(buf.startsWith("+PONG"));
    });
    sock.once("error", () => finish(false));
    sock.once("close", () => finish(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off("exit", onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once("exit", onExit);
  });
}

async function startOnce(bin: string): Promise<RedisServerHandle> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "bench-redis-"));
  const args = [
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--dir",
    dir,
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--daemonize",
    "no",
  ];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  // Keep the tail of the log for error messages; the pipes must be drained either way.
  let log = "";
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString("utf8")).slice(-4_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let spawnError: Error | null = null;
  child.once("error", (err) => {
    spawnError = err;
  });
  // If this process exits without stop(), do not leave the server behind.
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.off("exit", killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
          child.kill("SIGKILL");
          await waitForExit(child, STOP_TIMEOUT_MS);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const deadline = performance.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (spawnError !== null || child.exitCode !== null || child.signalCode !== null) {
      await stop();
      const why =
        spawnError !== null ? String(spawnError) : `exited (${child.exitCode ?? child.signalCode})`;
      throw new Error(`redis-server on port ${port} ${why} before answering PING:\n${log}`);
    }
    if (await pingOnce(port, 500)) break;
    if (performance.now() > deadline) {
      await stop();
      throw new Error(
        `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${log}`,
      );
    }
    await sleep(PING_POLL_MS);
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}

/**
 * Starts a fresh redis-server on a free 127.0.0.1 port and waits until it answers PING.
 * Retries a few times in case another process grabbed the port between probe and bind.
 */
export async function startRedisServer(): Promise<RedisServerHandle> {
  const bin = findRedisServer();
  let last: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(bin);
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}
