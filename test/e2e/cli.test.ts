/**
 * The command-line client (`fleetwork tasks|agents|submit|tail|batch`), run as a real
 * child process against a real server process: help, exit codes, tables and JSON,
 * exec tasks with their exit codes, pause/resume/cancel of a running `sleep`, and the
 * README's examples. `batch watch` runs over a real host task batch on a real agent
 * process over nats-server. `tail` runs against a small SSE stub (reconnection with
 * Last-Event-ID, live output), and against the real server when it serves /events.
 * The SSE parser and the progress renderer are also checked as units.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProgressRenderer, type TaskBatchStatus } from "../../src/cli/progress";
import { SseParser } from "../../src/cli/sse";
import { startAgentProcess } from "../helpers/agent-process";
import { tempDir } from "../helpers/engine";
import { type NatsServer, startNats } from "../helpers/nats";
import {
  BUN,
  freePort,
  REPO,
  type ServerProcess,
  startServerProcess,
  TEST_API_KEY,
} from "../helpers/server-process";

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The parent's environment without anything that configures fleetwork. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.startsWith("FW_")) continue;
    env[key] = value;
  }
  return env;
}

const children = new Set<ChildProcess>();

function start(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(BUN, [join(REPO, "src", "cli.ts"), ...args], {
    cwd: options.cwd ?? REPO,
    env: { ...cleanEnv(), ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const done = new Promise<Run>((resolve) =>
    child.on("close", (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  const limit = setTimeout(() => child.kill("SIGKILL"), 25_000);
  void done.then(() => clearTimeout(limit));
  return { child, done };
}

function run(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<Run> {
  return start(args, options).done;
}

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

describe("fleetwork client against a real server", () => {
  let server: ServerProcess;
  let env: Record<string, string>;
  /** Runs the CLI with the server's URL and key in the environment. */
  const fw = (...args: string[]) => run(args, { env });
  /** With --json before any `--`, so it is not part of a submitted command. */
  const json = async <T>(...args: string[]): Promise<T> => {
    const dashes = args.indexOf("--");
    const result = await fw(
      ...(dashes === -1
        ? [...args, "--json"]
        : [...args.slice(0, dashes), "--json", ...args.slice(dashes)]),
    );
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as T;
  };

  beforeAll(async () => {
    server = await startServerProcess({ dataDir: tempDir("fw-cli-"), port: await freePort() });
    env = { FW_URL: server.url, FW_API_KEY: TEST_API_KEY };
  });
  afterAll(() => server?.stop());

  describe("--help", () => {
    const commands = [
      [],
      ["tasks"],
      ["tasks", "list"],
      ["tasks", "get"],
      ["tasks", "cancel"],
      ["tasks", "pause"],
      ["tasks", "resume"],
      ["agents"],
      ["submit"],
      ["tail"],
      ["batch"],
      ["batch", "watch"],
    ].map((words) => ({ words, name: ["fleetwork", ...words, "--help"].join(" ") }));

    it.each(commands)("$name", async ({ words }) => {
      const result = await fw(...words, "--help");
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe("");
      expect(result.stdout).toContain(
        words.length === 0 ? "Usage: fleetwork <command>" : `Usage: fleetwork ${words.join(" ")} `,
      );
      if (words.length === 0) {
        for (const name of ["server", "agent", "tasks", "agents", "submit", "tail", "batch"]) {
          expect(result.stdout).toMatch(new RegExp(`^  ${name}\\b`, "m"));
        }
      }
    });

    it("client commands' help names --url, --key, --data-dir and --json", async () => {
      const result = await fw("tasks", "list", "--help");
      for (const flag of ["--url", "--key", "--data-dir", "--json"]) {
        expect(result.stdout).toContain(flag);
      }
    });

    it("batch watch's help says it reads the host task API", async () => {
      const result = await fw("batch", "watch", "--help");
      expect(result.stdout).toContain("/v3/applicationInstance/taskBatch/{id}");
    });

    it("server --help and help agent still print the engine's options", async () => {
      for (const args of [
        ["server", "--help"],
        ["help", "agent"],
        ["--port", "1", "--help"],
      ]) {
        const result = await fw(...args);
        expect(result.code).toBe(0);
        expect(result.stdout).toContain("Usage: fleetwork [server] [options]");
        expect(result.stdout).toContain("--state-dir DIR");
      }
    });
  });

  describe("submit", () => {
    it("--wait prints the command's output and exits with its exit code", async () => {
      const result = await fw("submit", "--wait", "--", "echo out; echo err >&2; exit 7");
      expect(result.code).toBe(7);
      expect(result.stdout).toBe("out\n");
      expect(result.stderr).toContain("err\n");
      expect(result.stderr).toMatch(/fleetwork: task \d+ on local: failed: exit code 7/);
    });

    it("--wait exits 0 when the command succeeds", async () => {
      const result = await fw("submit", "--wait", "--", "printf ok");
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe("ok");
    });

    it("quotes several words, so each stays one argument", async () => {
      const result = await fw("submit", "--wait", "--", "printf", "%s|", "a b", "it's");
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe("a b|it's|");
    });

    it("prints the new task's id; --json the task; --lane and --name reach the API", async () => {
      const plain = await fw("submit", "--", "true");
      expect(plain.code, plain.stderr).toBe(0);
      expect(plain.stdout).toMatch(/^\d+\n$/);
      const task = await json<{ id: number; name: string; lane: string; agent: string }>(
        "submit",
        "--name",
        "named",
        "--lane",
        "cli-lane",
        "--agent",
        "local",
        "--",
        "true",
      );
      expect(task).toMatchObject({ name: "named", lane: "cli-lane", agent: "local" });
      expect(task.id).toBeGreaterThan(Number(plain.stdout));
    });

    it("--labels runs one task on every online agent with those labels", async () => {
      const tasks = await json<{ id: number; agent: string; status: string }[]>(
        "submit",
        "--labels",
        "embedded=true",
        "--wait",
        "--",
        "echo labelled",
      );
      expect(tasks).toHaveLength(1);
      expect(tasks[0]).toMatchObject({ agent: "local", status: "done" });
      const none = await fw("submit", "--labels", "role=nowhere", "--", "true");
      expect(none.code).toBe(1);
      expect(none.stderr).toBe("fleetwork: no online agent has the labels role=nowhere\n");
    });
  });

  describe("tasks", () => {
    let id = 0;
    beforeAll(async () => {
      const result = await fw("submit", "--name", "listed", "--wait", "--", "echo listed");
      expect(result.code, result.stderr).toBe(0);
      id = Number(/task (\d+)/.exec(result.stderr)?.[1]);
    });

    it("list: a table with a header, newest first; --json the API's array", async () => {
      const table = await fw("tasks", "list", "--limit", "3");
      expect(table.code, table.stderr).toBe(0);
      const [header, first] = table.stdout.split("\n");
      expect(header).toMatch(/^ID\s+NAME\s+STATUS\s+AGENT\s+LANE\s+CREATED \(UTC\)\s+TOOK$/);
      expect(first).toMatch(new RegExp(`^${id}\\s+listed\\s+done\\s+local\\s+-\\s`));
      // The columns are aligned: STATUS starts at the same place on every line.
      const at = (header as string).indexOf("STATUS");
      for (const line of table.stdout.trim().split("\n").slice(1)) {
        expect(line.slice(at)).toMatch(/^\S/);
      }
      const list = await json<{ id: number }[]>(
        "tasks",
        "list",
        "--status",
        "done",
        "--limit",
        "2",
      );
      expect(list.length).toBeLessThanOrEqual(2);
      expect(list[0]?.id).toBe(id);
    });

    it("get: the task, its action and output; --json the API's object", async () => {
      const human = await fw("tasks", "get", String(id));
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toMatch(/^id\s+\d+$/m);
      expect(human.stdout).toMatch(/^state\s+done$/m);
      expect(human.stdout).toContain("exec  echo listed  ok");
      expect(human.stdout).toContain("       listed\n");
      const task = await json<{ id: number; status: string; results: unknown[] }>(
        "tasks",
        "get",
        String(id),
      );
      expect(task).toMatchObject({ id, status: "done" });
      expect(task.results[0]).toMatchObject({ ok: true, exitCode: 0, stdout: "listed\n" });
    });

    it("pause, resume and cancel a running sleep", async () => {
      const created = await fw("submit", "--", "sleep 30");
      const sleeper = created.stdout.trim();
      type T = { state: string; status: string; accepts: string[] };
      const get = () => json<T>("tasks", "get", sleeper);
      await until("running", get, (t) => t.status === "running");

      const paused = await fw("tasks", "pause", sleeper);
      expect(paused.code, paused.stderr).toBe(0);
      expect(paused.stdout).toMatch(
        new RegExp(`^task ${sleeper}  paused\\.\\S+  \\(accepts: .*resume`),
      );
      expect((await get()).status).toBe("paused");

      const resumed = await json<T>("tasks", "resume", sleeper);
      expect(resumed.status).toBe("running");

      const cancelled = await fw("tasks", "cancel", sleeper);
      expect(cancelled.code, cancelled.stderr).toBe(0);
      await until("cancelled", get, (t) => t.status === "cancelled");

      // Not acceptable now: the API's 409 message, exit 1.
      const again = await fw("tasks", "resume", sleeper);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^fleetwork: cannot resume task \d+ in state cancelled/);
    });
  });

  it("agents: the local agent in a table, and as JSON", async () => {
    const table = await fw("agents");
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+STATUS\s+LABELS\s+CAPABILITIES/);
    expect(table.stdout).toMatch(/^local\s+online\s+embedded=true\s+exec,noop\s/m);
    const agents = await json<{ id: string; status: string }[]>("agents");
    expect(agents).toEqual([expect.objectContaining({ id: "local", status: "online" })]);
    expect(await json<unknown[]>("agents", "--labels", "role=web")).toEqual([]);
  });

  describe("exit codes", () => {
    it.each([
      [["tasks", "get", "abc"], /^fleetwork: .*positive integer/],
      [["tasks", "get"], /^fleetwork: missing required argument 'id'/],
      [["tasks", "list", "--bogus"], /^fleetwork: unknown option '--bogus'/],
      [["submit"], /^fleetwork: missing required argument 'command'/],
      [["submit", "--agent", "a", "--labels", "x=y", "--", "true"], /cannot be used with/],
      [["submit", "--labels", "nolabel", "--", "true"], /not key=value/],
      [["frobnicate"], /^fleetwork: unknown command 'frobnicate'/],
      [["tail", "agent.>", "--output"], /^fleetwork: --output needs a pattern that names a task/],
      [["tasks"], /Usage: fleetwork tasks/],
    ])("usage error %j → 2", async (args, message) => {
      const result = await fw(...args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe("");
    });

    it("an unknown task → 1 with the API's message", async () => {
      const result = await fw("tasks", "get", "999999");
      expect(result).toEqual({ code: 1, stdout: "", stderr: "fleetwork: task 999999 not found\n" });
    });

    it("an unknown batch → 1 with the host task API's message", async () => {
      const result = await fw("batch", "watch", "424242");
      expect(result.code).toBe(1);
      expect(result.stderr).toBe("fleetwork: Entity not found: batch 424242 not found\n");
    });

    it("a wrong key → 1 with the API's message; no key at all says where it looked", async () => {
      const wrong = await run(["tasks", "list"], {
        env: { FW_URL: server.url, FW_API_KEY: "nope" },
      });
      expect(wrong).toMatchObject({ code: 1, stderr: "fleetwork: the API key is not valid\n" });
      const none = await run(["tasks", "list", "--data-dir", tempDir("fw-cli-nokey-")], {
        env: { FW_URL: server.url },
      });
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(
        /^fleetwork: an API key is required .*pass --key or set FW_API_KEY/,
      );
    });

    it("an engine that is not there → 1", async () => {
      const port = await freePort();
      const result = await fw("agents", "--url", `http://127.0.0.1:${port}`);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(`^fleetwork: cannot reach http://127.0.0.1:${port}`),
      );
    });
  });

  describe("the key", () => {
    it("--key wins over FW_API_KEY", async () => {
      const result = await run(["agents", "--key", TEST_API_KEY], {
        env: { FW_URL: server.url, FW_API_KEY: "nope" },
      });
      expect(result.code, result.stderr).toBe(0);
    });

    it("is read from <data-dir>/api-key as the server writes it (client:key)", async () => {
      const dir = tempDir("fw-cli-key-");
      writeFileSync(join(dir, "api-key"), `test:${TEST_API_KEY}\n`);
      const viaFlag = await run(["agents", "--data-dir", dir], { env: { FW_URL: server.url } });
      expect(viaFlag.code, viaFlag.stderr).toBe(0);
      const viaEnv = await run(["agents"], { env: { FW_URL: server.url, FW_DATA_DIR: dir } });
      expect(viaEnv.code, viaEnv.stderr).toBe(0);
    });
  });

  it("the README's command-line examples work (npm start's ./data/api-key, no env)", async () => {
    const readme = readFileSync(join(REPO, "README.md"), "utf8");
    const section = /## Command line\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? "";
    const lines = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) =>
      (block[1] as string)
        .split("\n")
        .map((line) => line.replace(/\s+#.*$/, "").trim())
        .filter((line) => line.startsWith("npx fleetwork ")),
    );
    expect(lines.length).toBeGreaterThanOrEqual(2);
    // As after `npm start` in a fresh checkout: the key in ./data/api-key.
    const cwd = tempDir("fw-cli-readme-");
    mkdirSync(join(cwd, "data"));
    writeFileSync(join(cwd, "data", "api-key"), `test:${TEST_API_KEY}\n`);
    for (const line of lines) {
      const result = await new Promise<Run>((resolve) => {
        // The README's localhost:8080 is this test's server.
        const child = spawn(
          "sh",
          ["-c", line.replace(/^npx fleetwork /, `"${BUN}" "${join(REPO, "src", "cli.ts")}" `)],
          { cwd, env: { ...cleanEnv(), FW_URL: server.url }, stdio: ["ignore", "pipe", "pipe"] },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => {
          stdout += c.toString();
        });
        child.stderr.on("data", (c: Buffer) => {
          stderr += c.toString();
        });
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
      expect(result.code, `${line}\n${result.stderr}`).toBe(0);
      expect(result.stdout.length, line).toBeGreaterThan(0);
    }
  });

  describe("tail against the real /events and /tasks/{id}/output", () => {
    it("prints tasks' events as they happen (--json: the API's JSON)", async () => {
      const tail = start(["tail", "task.>", "--json", "--count", "2"], { env });
      // Tasks until the tail, once connected, has seen two events of them.
      const submitted = new Set<string>();
      let ended = false;
      void tail.done.then(() => {
        ended = true;
      });
      while (!ended) {
        submitted.add((await fw("submit", "--", "true")).stdout.trim());
        await sleep(200);
      }
      const result = await tail.done;
      expect(result.code, result.stderr).toBe(0);
      const events = result.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line));
      expect(events).toHaveLength(2);
      for (const event of events) {
        expect(event).toMatchObject({ kind: "task", seq: expect.any(Number) });
        expect(submitted.has(String(event.id))).toBe(true);
      }
      expect(events[0].seq).toBeLessThan(events[1].seq);
    });

    it("--output follows a running task's output and ends with the task", async () => {
      const submitted = await fw(
        "submit",
        "--",
        "sleep 1; for i in 1 2 3; do echo line$i; sleep 0.1; done; echo oops >&2",
      );
      const id = submitted.stdout.trim();
      const result = await run(["tail", `task.${id}.>`, "--output", "--since", "0"], { env });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(
        `[task ${id} stdout] line1\n[task ${id} stdout] line2\n[task ${id} stdout] line3\n`,
      );
      expect(result.stderr).toContain(`[task ${id} stderr] oops\n`);
      // Replayed from seq 0: the task's whole life, one line an event, ending done.
      expect(result.stdout).toMatch(new RegExp(`  task ${id}  ready  ready  `));
      expect(result.stdout).toMatch(new RegExp(`  task ${id}  \\S+  done\\b[^\\n]*\\n$`));
    });
  });
});

describe("fleetwork tail against an SSE stub", () => {
  type Stub = ReturnType<typeof Bun.serve>;
  let stub: Stub;
  const seen: { path: string; lastEventId: string | null; auth: string | null }[] = [];
  let eventsCalls = 0;
  let outputServed: () => void = () => {};
  const outputDone = new Promise<void>((resolve) => {
    outputServed = resolve;
  });

  const sse = (chunks: string[], keepOpen = false, before?: Promise<void>) =>
    new Response(
      new ReadableStream({
        async start(controller) {
          if (before) await before;
          for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
          if (!keepOpen) controller.close();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );

  const event = (seq: number, kind: string, id: string, name: string, state: string) =>
    `id: ${seq}\nevent: ${kind}.${name}\ndata: ${JSON.stringify({ seq, kind, id, event: name, state, at: 1_764_057_600_000 + seq, data: {} })}\n\n`;

  beforeAll(() => {
    stub = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(request) {
        const url = new URL(request.url);
        seen.push({
          path: `${url.pathname}${url.search}`,
          lastEventId: request.headers.get("last-event-id"),
          auth: request.headers.get("authorization"),
        });
        if (
          url.pathname === "/events" &&
          url.searchParams.get("subject") === "fw.events.missing.>"
        ) {
          return Response.json(
            { error: { code: "NOT_FOUND", message: "no such subject" } },
            { status: 404 },
          );
        }
        if (url.pathname === "/events" && url.searchParams.get("subject") === "fw.events.task.>") {
          eventsCalls++;
          // First connection: two events (split mid-line, CRLF and a comment), then a drop.
          if (eventsCalls === 1) {
            const first = event(1, "task", "5", "created", "created").replaceAll("\n", "\r\n");
            return sse([
              ": hello\n\n",
              first.slice(0, 20),
              first.slice(20),
              "retry: 50\n\n",
              event(2, "task", "5", "started", "running.executing"),
            ]);
          }
          return sse([event(3, "task", "5", "done", "done")], true);
        }
        if (
          url.pathname === "/events" &&
          url.searchParams.get("subject") === "fw.events.task.12.>"
        ) {
          return sse([event(7, "task", "12", "done", "done")], true, outputDone);
        }
        if (url.pathname === "/tasks/12/output") {
          // As the engine sends it: a frame per chunk, then `end`, then the stream closes.
          const chunk = (stream: string, text: string) =>
            `event: ${stream}\ndata: ${JSON.stringify({ execId: "12-0-1", agent: "local", stream, chunk: text })}\n\n`;
          setTimeout(outputServed, 300);
          return sse([
            chunk("stdout", "hel"),
            chunk("stdout", "lo\nwor"),
            chunk("stderr", "oops\n"),
            chunk("stdout", "ld\n"),
            `event: end\ndata: ${JSON.stringify({ id: 12, state: "done", outcome: "succeeded" })}\n\n`,
          ]);
        }
        return new Response("no", { status: 404 });
      },
    });
  });
  afterAll(() => stub?.stop(true));

  const stubEnv = () => ({ FW_URL: `http://127.0.0.1:${stub.port}`, FW_API_KEY: "stub-key" });

  it("reconnects with Last-Event-ID after a drop and prints each event", async () => {
    const result = await run(["tail", "task.>", "--count", "3"], { env: stubEnv() });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}task 5 {2}created {2}created$/);
    expect(lines[1]).toMatch(/task 5 {2}started {2}running\.executing$/);
    expect(lines[2]).toMatch(/task 5 {2}done {2}done$/);
    expect(result.stderr).toMatch(/reconnecting in 50 ms/);
    const calls = seen.filter((s) => s.path === "/events?subject=fw.events.task.%3E");
    expect(calls.map((c) => c.lastEventId)).toEqual([null, "2"]);
    expect(calls[0]?.auth).toBe("Bearer stub-key");
  });

  it("--json prints each event's JSON as sent; --since starts after that seq", async () => {
    eventsCalls = 1; // the stub answers as it does to a reconnection
    const result = await run(["tail", "task.>", "--json", "--count", "1", "--since", "2"], {
      env: stubEnv(),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ seq: 3, kind: "task", event: "done" });
    expect(seen.at(-1)?.lastEventId).toBe("2");
  });

  it("--output follows the task's live output a line at a time, and ends with the task", async () => {
    const result = await run(["tail", "task.12.>", "--output"], { env: stubEnv() });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("[task 12 stdout] hello\n[task 12 stdout] world\n");
    expect(result.stderr).toContain("[task 12 stderr] oops\n");
    expect(result.stdout).toMatch(/task 12 {2}done {2}done\n$/);
    expect(seen.some((s) => s.path === "/tasks/12/output")).toBe(true);
  });

  it("an error answer ends it with exit 1 and the API's message", async () => {
    const result = await run(["tail", "missing.>"], { env: stubEnv() });
    expect(result).toMatchObject({ code: 1, stderr: "fleetwork: no such subject\n" });
  });

  it("SIGTERM stops a tail that is following (exit 143)", async () => {
    eventsCalls = 1;
    const before = seen.length;
    const tail = start(["tail", "task.>"], { env: stubEnv() });
    await until(
      "the connection",
      async () => seen.length,
      (n) => n > before,
    );
    await sleep(300);
    tail.child.kill("SIGTERM");
    const result = await tail.done;
    expect(result.code).toBe(143);
    expect(result.stdout).toContain("task 5  done  done");
  });
});

describe("fleetwork batch watch over a real host task batch (agent over NATS)", () => {
  const dir = tempDir("fw-cli-batch-");
  let nats: NatsServer;
  let engine: ServerProcess;
  let agent: ChildProcess;
  let env: Record<string, string>;

  async function createBatch(command: string): Promise<number> {
    const response = await fetch(`${engine.url}/v3/applicationInstance/task`, {
      method: "POST",
      headers: { "PRIVATE-TOKEN": TEST_API_KEY, "content-type": "application/json" },
      body: JSON.stringify({
        taskTemplateId: "5",
        applicationInstanceIds: ["i-1", "i-2", "i-3"],
        taskActionParam: [{ paramName: "command", paramValue: command }],
      }),
    });
    const body = (await response.json()) as { id: number }[];
    expect(response.status, JSON.stringify(body)).toBe(200);
    return (body[0] as { id: number }).id;
  }

  beforeAll(async () => {
    nats = await startNats();
    engine = await startServerProcess({
      dataDir: join(dir, "engine"),
      port: await freePort(),
      env: { FW_NATS_URL: nats.url },
    });
    env = { FW_URL: engine.url, FW_API_KEY: TEST_API_KEY };
    agent = startAgentProcess({
      natsUrl: nats.url,
      id: "batch-host",
      dir,
      config: {
        heartbeatMs: 200,
        actions: ["exec", "noop"],
        instances: ["i-1", "i-2", "i-3"].map((id) => ({
          id,
          directory: join(dir, "instances", id),
          start: { command: "true" },
        })),
      },
    });
    await until(
      "the agent with its instances",
      async () => {
        const result = await run(["agents", "--json"], { env });
        return result.code === 0
          ? (JSON.parse(result.stdout) as { id: string; instances: unknown[] }[])
          : [];
      },
      (agents) => agents.some((a) => a.id === "batch-host" && a.instances.length === 3),
    );
  }, 60_000);

  afterAll(async () => {
    agent?.kill("SIGKILL");
    await engine?.stop("SIGKILL");
    await nats?.stop();
  });

  it("--json: a line per change, ending with every task done; exit 0", async () => {
    const id = await createBatch("sleep 0.3");
    const result = await run(["batch", "watch", String(id), "--json", "--interval", "100"], {
      env,
    });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const last = lines.at(-1);
    expect(last).toMatchObject({
      id,
      numTasks: 3,
      numTasksOk: 3,
      numTasksFailed: 0,
      etaSeconds: 0,
    });
    expect(last.finishedAt).toBeGreaterThan(0);
    // One line per change: no two lines in a row say the same.
    for (let i = 1; i < lines.length; i++) {
      expect(JSON.stringify(lines[i].taskIds) + lines[i].numTasksOk).not.toBe(
        JSON.stringify(lines[i - 1].taskIds) + lines[i - 1].numTasksOk,
      );
    }
  });

  it("on a pipe: one line per change; a batch that failed exits 3", async () => {
    const id = await createBatch("sleep 0.2; exit 1");
    const result = await run(["batch", "watch", String(id), "--interval", "100"], { env });
    expect(result.code, result.stderr).toBe(3);
    const lines = result.stdout.trim().split("\n");
    expect(lines.at(-1)).toMatch(
      new RegExp(`^batch ${id}  3/3  done 0  failed 3  cancelled 0  .*finished$`),
    );
    expect(result.stdout).not.toContain("\r");
  });
});

describe("SSE parser", () => {
  it("reads fields across chunks, CR/LF/CRLF, comments, multi-line data, ids and retry", () => {
    const parser = new SseParser();
    const items = [
      ...parser.feed(": comment\r\nid: 1\revent: a\r"),
      ...parser.feed("\ndata: x\ndata:y\n\n"),
      ...parser.feed("data: only\n\nretry: 250\nretry: soon\n\n"),
    ];
    expect(items).toEqual([
      { type: "event", event: { event: "a", data: "x\ny", id: "1" } },
      { type: "event", event: { event: "message", data: "only", id: "1" } },
      { type: "retry", ms: 250 },
    ]);
    expect(parser.lastEventId).toBe("1");
  });

  it("does not dispatch an event without data", () => {
    expect(new SseParser().feed("event: x\nid: 4\n\n")).toEqual([]);
  });
});

describe("batch progress renderer", () => {
  const batch = (ok: number, failed: number, cancelled: number, running: number, total = 10) => {
    const taskIds: Record<string, number> = {};
    let n = 1;
    for (let i = 0; i < ok; i++) taskIds[n++] = 127;
    for (let i = 0; i < failed; i++) taskIds[n++] = 126;
    for (let i = 0; i < cancelled; i++) taskIds[n++] = 124;
    for (let i = 0; i < running; i++) taskIds[n++] = 1;
    while (n <= total) taskIds[n++] = 0;
    const finished = ok + failed + cancelled === total;
    return {
      id: 9,
      createdAt: 0,
      executeAt: 0,
      finishedAt: finished ? 100 : 0,
      numTasks: total,
      numTasksOk: ok,
      numTasksFailed: failed,
      numTasksCancelled: cancelled,
      taskIds,
    } satisfies TaskBatchStatus;
  };

  it("redraws a bar in place on a terminal, with the rate and ETA", () => {
    const r = new ProgressRenderer("tty", { width: 10 });
    expect(r.render(batch(0, 0, 0, 2), 0)).toBe(
      "\rbatch 9 [          ] 0/10  done 0  failed 0  cancelled 0  -/s  ETA -  running 2  pending 8\u001b[K",
    );
    expect(r.render(batch(3, 1, 1, 2), 2_000)).toBe(
      "\rbatch 9 [===x-     ] 5/10  done 3  failed 1  cancelled 1  2.5/s  ETA 2.0s  running 2  pending 3\u001b[K",
    );
    const last = r.render(batch(8, 1, 1, 0), 4_000);
    expect(last).toContain("[========x-] 10/10  done 8  failed 1  cancelled 1  2.5/s  finished");
    expect(last.endsWith("\u001b[K\n")).toBe(true);
  });

  it("fits a narrow terminal: the bar shrinks, then the words give way to symbols", () => {
    const visible = (text: string) => text.replace("\r", "").replace("\u001b[K", "");
    const at80 = new ProgressRenderer("tty", { columns: 80 });
    at80.render(batch(0, 0, 0, 2), 0);
    const wide = visible(at80.render(batch(3, 1, 1, 2), 2_000));
    expect(wide.length).toBeLessThanOrEqual(79);
    expect(wide).toMatch(
      /^batch 9 \[=+x+-+ *\] 5\/10 {2}done 3 {2}failed 1 {2}cancelled 1 {2}2\.5\/s {2}ETA 2\.0s/,
    );
    const at50 = new ProgressRenderer("tty", { columns: 50 });
    at50.render(batch(0, 0, 0, 2), 0);
    const narrow = visible(at50.render(batch(3, 1, 1, 2), 2_000));
    expect(narrow.length).toBeLessThanOrEqual(49);
    expect(narrow).toMatch(/^batch 9 \[=+x+-+ *\] 5\/10 =3 x1 -1 2\.5\/s ETA 2\.0s$/);
  });

  it("prints a line per change on a pipe, and JSON lines with --json", () => {
    const lines = new ProgressRenderer("lines");
    expect(lines.render(batch(1, 0, 0, 1), 0)).toBe(
      "batch 9  1/10  done 1  failed 0  cancelled 0  -/s  ETA -  running 1  pending 8\n",
    );
    expect(lines.render(batch(1, 0, 0, 1), 1_000)).toBe("");
    const jsonLines = new ProgressRenderer("json");
    const first = JSON.parse(jsonLines.render(batch(0, 0, 0, 0), 0));
    expect(first).toMatchObject({ id: 9, numTasks: 10, rate: null, etaSeconds: null });
    expect(jsonLines.render(batch(0, 0, 0, 0), 500)).toBe("");
    const next = JSON.parse(jsonLines.render(batch(5, 0, 0, 0), 1_000));
    expect(next).toMatchObject({ numTasksOk: 5, rate: 5, etaSeconds: 1 });
  });
});
