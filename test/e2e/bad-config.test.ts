/**
 * The server CLI, run as a real child process, refuses bad configuration at start
 * with exactly one line on stderr (`fleetwork: …`) and a non-zero exit code; and,
 * configured well, it serves HTTP and exits 0 on SIGTERM.
 *
 * Logs go to stdout, errors to stderr: only stderr is asserted on.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../helpers/free-port";

const ROOT = resolve(fileURLToPath(new URL("../../", import.meta.url)));
const BUN = join(ROOT, "node_modules", ".bin", "bun");
const CHILD_LIMIT_MS = 20_000;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Run {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
}

const children: ChildProcess[] = [];
const tempDirs: string[] = [];
const netServers: Server[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  await Promise.all(
    netServers.splice(0).map((server) => new Promise<void>((done) => server.close(() => done()))),
  );
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "fw-bad-config-"));
  tempDirs.push(dir);
  return dir;
}

/** The parent's environment without anything that configures fleetwork. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (key.startsWith("FW_") || key === "PORT" || key === "HOST") continue;
    env[key] = value;
  }
  return env;
}

function startCli(args: readonly string[], env: Record<string, string>): Run {
  const child = spawn(BUN, ["src/cli.ts", "server", ...args], {
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<Exit>((done, fail) => {
    child.once("error", fail);
    // "close" waits for stdout/stderr to be drained as well.
    child.once("close", (code, signal) => done({ code, signal }));
  });
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** Waits for the child to exit, killing it (and failing) if it takes longer than `ms`. */
async function exitWithin(run: Run, ms: number, what: string): Promise<Exit> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((done) => {
    timer = setTimeout(() => done("timeout"), ms);
  });
  const result = await Promise.race([run.exited, timeout]);
  clearTimeout(timer);
  if (result === "timeout") {
    run.child.kill("SIGKILL");
    await run.exited;
    throw new Error(
      `${what}: still running after ${ms} ms, killed\n--- stderr ---\n${run.stderr()}\n--- stdout ---\n${run.stdout()}`,
    );
  }
  return result;
}

/** A port held by a listening server until the test ends. */
async function occupiedPort(): Promise<number> {
  const server = createServer();
  netServers.push(server);
  await new Promise<void>((done, fail) => {
    server.once("error", fail);
    server.listen(0, "0.0.0.0", () => done());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port assigned");
  return address.port;
}

/** Runs the CLI expecting a start-up failure; returns its single stderr line. */
async function expectOneLineFailure(
  args: readonly string[],
  env: Record<string, string>,
): Promise<string> {
  const run = startCli(args, env);
  const exit = await exitWithin(run, CHILD_LIMIT_MS, `fleetwork server ${args.join(" ")}`);
  const stderr = run.stderr();
  const context = `exit ${JSON.stringify(exit)}\n--- stderr ---\n${stderr}\n--- stdout ---\n${run.stdout()}`;
  const lines = stderr
    .trim()
    .split("\n")
    .filter((line) => line.trim() !== "");
  expect(lines, `expected exactly one non-empty stderr line\n${context}`).toHaveLength(1);
  const line = lines[0] as string;
  expect(line, context).toMatch(/^fleetwork: /);
  expect(exit.signal, `terminated by a signal instead of exiting\n${context}`).toBeNull();
  expect(exit.code, `expected a non-zero exit code\n${context}`).not.toBe(0);
  expect(exit.code, context).not.toBeNull();
  return line;
}

describe("fleetwork server: bad configuration", () => {
  it("has the bun binary to run the CLI with", () => {
    expect(existsSync(BUN), `${BUN} is missing`).toBe(true);
  });

  it("rejects a database URL with an unsupported scheme", async () => {
    const line = await expectOneLineFailure([], {
      FW_DATA_DIR: tempDir(),
      PORT: String(await freePort()),
      FW_DATABASE_URL: "mysql://u@localhost/db",
    });
    expect(line).toMatch(/mysql/);
  });

  it("rejects a data dir that cannot be created", async () => {
    const file = join(tempDir(), "a-regular-file");
    writeFileSync(file, "not a directory\n");
    const line = await expectOneLineFailure([], {
      FW_DATA_DIR: join(file, "sub"),
      PORT: String(await freePort()),
    });
    expect(line).toMatch(/not writable/);
  });

  it("rejects a port that is already in use", async () => {
    const port = await occupiedPort();
    const line = await expectOneLineFailure([], { FW_DATA_DIR: tempDir(), PORT: String(port) });
    expect(line).toMatch(/in use/);
    expect(line).toContain(String(port));
  });

  it("rejects a PORT that is not a number", async () => {
    const line = await expectOneLineFailure([], { FW_DATA_DIR: tempDir(), PORT: "abc" });
    expect(line).toMatch(/PORT/);
  });

  it("rejects an unknown flag", async () => {
    const line = await expectOneLineFailure(["--bogus", "1"], {
      FW_DATA_DIR: tempDir(),
      PORT: String(await freePort()),
    });
    expect(line).toMatch(/bogus/);
  });

  it("rejects a task definitions file with a bad definition, naming it", async () => {
    const dir = tempDir();
    const file = join(dir, "definitions.yaml");
    writeFileSync(file, "- name: fine\n- name: broken\n  inProgressTimeout: -5\n");
    const line = await expectOneLineFailure([], {
      FW_DATA_DIR: join(dir, "data"),
      PORT: String(await freePort()),
      FW_TASK_DEFINITIONS_FILE: file,
    });
    expect(line).toMatch(/taskDefinitions\[1\]: inProgressTimeout/);
    expect(line).toContain(file);
  });

  it("rejects a workflow file with a bad step, naming the file, the step and the field", async () => {
    const dir = tempDir();
    const workflows = join(dir, "workflows");
    mkdirSync(workflows);
    writeFileSync(join(workflows, "broken.yaml"), "name: broken\nsteps:\n  - name: a\n");
    const line = await expectOneLineFailure([], {
      FW_DATA_DIR: join(dir, "data"),
      PORT: String(await freePort()),
      FW_WORKFLOWS_DIR: workflows,
    });
    expect(line).toContain(join(workflows, "broken.yaml"));
    expect(line).toMatch(/steps\[0\]/);
  });

  it("rejects a workflows directory that does not exist", async () => {
    const dir = tempDir();
    const line = await expectOneLineFailure([], {
      FW_DATA_DIR: join(dir, "data"),
      PORT: String(await freePort()),
      FW_WORKFLOWS_DIR: join(dir, "nowhere"),
    });
    expect(line).toMatch(/workflows directory .*nowhere does not exist/);
  });

  it("rejects a task definitions file that is not a list", async () => {
    const dir = tempDir();
    const file = join(dir, "definitions.json");
    writeFileSync(file, '{"name": "one"}');
    const line = await expectOneLineFailure([], {
      FW_DATA_DIR: join(dir, "data"),
      PORT: String(await freePort()),
      FW_TASK_DEFINITIONS_FILE: file,
    });
    expect(line).toMatch(/must hold a list of definitions/);
  });
});

describe("fleetwork server: good configuration", () => {
  it("answers GET / and exits 0 on SIGTERM", { timeout: 45_000 }, async () => {
    const port = await freePort();
    const run = startCli([], { FW_DATA_DIR: tempDir(), PORT: String(port) });
    const state: { exit: Exit | null } = { exit: null };
    void run.exited.then((e) => {
      state.exit = e;
    });
    const context = () => `--- stderr ---\n${run.stderr()}\n--- stdout ---\n${run.stdout()}`;

    // Poll until it answers, it exits, or the deadline passes.
    const deadline = Date.now() + CHILD_LIMIT_MS;
    let body: unknown = null;
    let lastError = "";
    while (body === null) {
      if (state.exit !== null) {
        throw new Error(
          `server exited before answering: ${JSON.stringify(state.exit)}\n${context()}`,
        );
      }
      if (Date.now() > deadline) {
        run.child.kill("SIGKILL");
        throw new Error(
          `server did not answer GET / within ${CHILD_LIMIT_MS} ms (last: ${lastError})\n${context()}`,
        );
      }
      try {
        const response = await fetch(`http://127.0.0.1:${port}/`, {
          signal: AbortSignal.timeout(2_000),
        });
        body = await response.json();
      } catch (error) {
        lastError = (error as Error).message;
        await new Promise((done) => setTimeout(done, 50));
      }
    }
    expect(body).toEqual({ result: "alive" });

    run.child.kill("SIGTERM");
    const result = await exitWithin(run, 10_000, "fleetwork server after SIGTERM");
    expect(result, context()).toEqual({ code: 0, signal: null });
  });
});
