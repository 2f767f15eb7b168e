/**
 * A real nats-server for tests: JetStream on, its own store dir and its own free
 * loopback port, so test files can each start one in parallel.
 *
 * Uses the Debian `nats-server` package's binary, installing the package when it is
 * missing. Ready means a real client completed a handshake, not that a log line
 * appeared.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { AuthorizationError, connect, type NodeConnectionOptions } from "@nats-io/transport-node";
import { findOrInstall } from "./apt";
import { freePort } from "./free-port";

export { freePort };

export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Ends the server (SIGTERM, SIGKILL after 3 s) and removes its store dir. */
  stop(): Promise<void>;
  /** Ends the server and starts it again on the same port with the same store. */
  restart(): Promise<void>;
  /** Ends the server (SIGTERM) but keeps its port and store dir for `resume()`: an outage. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port with the same store. */
  resume(): Promise<void>;
}

/** How to start a server that is not the default one. */
export interface NatsStartOptions {
  /**
   * A configuration file (`-c`), e.g. deploy/nats/nats-server.conf. Address and port
   * are still the test's own; JetStream and its store dir are the file's business.
   * @default none: JetStream on, a temporary store, no auth
   */
  readonly config?: string;
  /** Added to the server's environment (the variables the config file reads). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Connection options for the readiness probe, e.g. `{ tls: { caFile } }` for a TLS
   * server. A server that refuses the probe's credentials counts as ready: it answered.
   */
  readonly probe?: Partial<NodeConnectionOptions>;
}

const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 3_000;
const PORT_ATTEMPTS = 5;
const POLL_MS = 25;
/** How much of the server's output an error message quotes. */
const OUTPUT_TAIL = 4_000;

function findBinary(): string | undefined {
  // Debian puts it in /usr/sbin, which a non-login PATH may lack.
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const file = join(dir, "nats-server");
    if (existsSync(file)) return file;
  }
  return undefined;
}

function binary(): Promise<string> {
  return findOrInstall("nats-server", findBinary);
}

/** Servers still running, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  hasExited(): boolean;
  output(): string;
}

function spawnServer(
  bin: string,
  port: number,
  storeDir: string,
  options: NatsStartOptions = {},
): Running {
  installExitHook();
  const where = ["-a", "127.0.0.1", "-p", String(port)];
  const args =
    options.config === undefined
      ? [...where, "-js", "-sd", storeDir]
      : ["-c", options.config, ...where];
  const child = spawn(bin, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  live.add(child);
  let output = "";
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    const finish = () => {
      done = true;
      live.delete(child);
      resolve();
    };
    child.once("exit", finish);
    child.once("error", (error) => {
      append(Buffer.from(String(error)));
      finish();
    });
  });
  return { child, exited, hasExited: () => done, output: () => output };
}

/** Resolves after `ms`, or earlier when the server exits. */
function pause(server: Running, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    server.exited,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** True once a client completes a handshake; false if the server exits first. */
async function waitReady(
  server: Running,
  url: string,
  deadline: number,
  probe: Partial<NodeConnectionOptions> = {},
): Promise<boolean> {
  let last: unknown;
  for (;;) {
    if (server.hasExited()) return false;
    try {
      const nc = await connect({ servers: url, reconnect: false, timeout: 1_000, ...probe });
      await nc.close();
      return true;
    } catch (error) {
      if (error instanceof AuthorizationError) return true;
      last = error;
    }
    if (Date.now() > deadline) {
      await terminate(server);
      throw new Error(`nats-server at ${url} not ready in time:\n${server.output()}`, {
        cause: last,
      });
    }
    await pause(server, POLL_MS);
  }
}

async function terminate(server: Running): Promise<void> {
  if (server.hasExited()) return;
  server.child.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gone = await Promise.race([
    server.exited.then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), STOP_GRACE_MS);
    }),
  ]);
  clearTimeout(timer);
  if (!gone) {
    server.child.kill("SIGKILL");
    await server.exited;
  }
}

const portTaken = (output: string) => /address already in use/i.test(output);

/** Starts on `port`; undefined when the port was taken, so the caller may pick another. */
async function startOn(
  bin: string,
  port: number,
  storeDir: string,
  options: NatsStartOptions = {},
): Promise<Running | undefined> {
  const server = spawnServer(bin, port, storeDir, options);
  const url = `nats://127.0.0.1:${port}`;
  if (await waitReady(server, url, Date.now() + START_TIMEOUT_MS, options.probe)) return server;
  if (portTaken(server.output())) return undefined;
  throw new Error(`nats-server exited before it was ready:\n${server.output()}`);
}

export async function startNats(options: NatsStartOptions = {}): Promise<NatsServer> {
  const bin = await binary();
  const storeDir = mkdtempSync(join(tmpdir(), "fw-nats-"));
  try {
    let port = 0;
    let server: Running | undefined;
    for (let attempt = 1; server === undefined; attempt++) {
      if (attempt > PORT_ATTEMPTS) throw new Error("nats-server found no free port");
      // Another process may take the port between freePort() and the server's bind.
      port = await freePort();
      server = await startOn(bin, port, storeDir, options);
    }
    let current: Running = server;
    const url = `nats://127.0.0.1:${port}`;
    return {
      url,
      port,
      async stop() {
        await terminate(current);
        rmSync(storeDir, { recursive: true, force: true });
      },
      async halt() {
        await terminate(current);
      },
      async resume(this: NatsServer) {
        if (!current.hasExited()) return;
        await this.restart();
      },
      async restart() {
        await terminate(current);
        // Clients reconnect to the URL they know, so the port must not change. Someone
        // grabbing it in between is possible but brief; try again until the deadline.
        const deadline = Date.now() + START_TIMEOUT_MS;
        for (;;) {
          const next = await startOn(bin, port, storeDir, options);
          if (next !== undefined) {
            current = next;
            return;
          }
          if (Date.now() > deadline) throw new Error(`port ${port} stayed taken after restart`);
        }
      },
    };
  } catch (error) {
    rmSync(storeDir, { recursive: true, force: true });
    throw error;
  }
}
