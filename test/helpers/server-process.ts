/**
 * The real server as a child process (`bun src/cli.ts server`) on a free loopback
 * port, for tests that kill it, restart it, or read what it prints.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { freePort } from "./free-port";

export { freePort };

export const REPO = join(import.meta.dirname, "..", "..");

/** The API key servers started here accept (client "test"), and its header. */
export const TEST_API_KEY = "test-key";
export const AUTH = { authorization: `Bearer ${TEST_API_KEY}` } as const;
export const BUN = join(REPO, "node_modules", ".bin", "bun");

export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServerProcess(options: {
  dataDir: string;
  port: number;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Gets the child as soon as it is spawned, before it is ready (to kill it while it starts). */
  onSpawn?: (child: ChildProcess) => void;
}): Promise<ServerProcess> {
  const child = spawn(BUN, [join(REPO, "src", "cli.ts"), "server"], {
    cwd: REPO,
    env: {
      ...process.env,
      PORT: String(options.port),
      HOST: "127.0.0.1",
      FW_DATA_DIR: options.dataDir,
      FW_LOG_PRETTY: "0",
      FW_API_KEYS: `test:${TEST_API_KEY}`,
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  options.onSpawn?.(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  let running = true;
  void exited.then(() => {
    running = false;
  });
  for (;;) {
    if (!running) throw new Error(`server exited before it was ready:\n${output}`);
    try {
      const response = await fetch(`${url}/`);
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server not ready in time:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    url,
    child,
    output: () => output,
    exited,
    stop(signal = "SIGTERM") {
      if (running) child.kill(signal);
      return exited;
    },
  };
}
