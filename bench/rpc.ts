/**
 * `npm run bench -- rpc`: the executor RPC API (pull-based workers over `POST /rpc`)
 * side by side with pg-boss 10 in the same run.
 *
 * Each cell: a fresh backend (the engine as a real server process, `bun src/cli.ts
 * server` on a fresh SQLite data dir, NODE_ENV=production, log level warn; or a fresh
 * PostgreSQL cluster with pg-boss's schema), N tasks enqueued up front (engine:
 * `awf.task/create-and-execute` in batch requests of 100, 8 in flight; pg-boss:
 * `insert` in chunks of 1,000), then one executor process (./rpc-worker.ts) with 8
 * independent loops draining them: engine long-poll → start → success, pg-boss
 * fetch → complete (a tight loop; pg-boss's `work()` would add its polling interval,
 * 0.5 s at the least, on every empty poll). Throughput = tasks / (first claim → last
 * completion acknowledged). Every cell is then checked against the backend: every
 * task succeeded exactly once (engine: `awf.task/status` with its log, one start and
 * one success per task; pg-boss: the jobs table, all `completed`, no retries) and no
 * executor saw the same task completed twice.
 *
 * Both claim batch sizes run (maxBatchSize / batchSize 1 and 10). Within a round the
 * cells interleave (engine b1, pg-boss b1, engine b10, pg-boss b10); tables show
 * medians with min–max, and ratios are taken within each round, then their median.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/helpers/free-port";
import { type ServerProcess, startServerProcess } from "../test/helpers/server-process";
import { fmt, median, table } from "./harness";
import type { WorkerConfig, WorkerResult } from "./rpc-worker";

export interface RpcBenchOptions {
  readonly tasks: number;
  readonly rounds: number;
  readonly peer: boolean;
}

const EXECUTORS = 8;
const BATCHES = [1, 10] as const;
const DEFINITION = "bench";
const API_KEY = "bench-key";
const CREATE_BATCH = 100;
const CREATE_IN_FLIGHT = 8;
const STATUS_BATCH = 100;

type System = "engine" | "pgboss";

interface Cell {
  readonly tasksPerSec: number;
  readonly enqueuePerSec: number;
  readonly capped: boolean;
  readonly completed: number;
  readonly problems: readonly string[];
}

// ---- the engine ---------------------------------------------------------------------

interface RpcAnswer {
  result?: unknown;
  error?: { message: string };
}

async function rpc(url: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${url}/rpc`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST /rpc: HTTP ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

/** Answers of a batch, throwing on the first error. */
async function batch(url: string, calls: readonly unknown[]): Promise<unknown[]> {
  const answers = (await rpc(url, calls)) as RpcAnswer[];
  return answers.map((answer) => {
    if (answer.error) throw new Error(`RPC error: ${answer.error.message}`);
    return answer.result;
  });
}

interface EngineSetup {
  readonly server: ServerProcess;
  readonly dir: string;
  readonly ids: readonly string[];
  readonly enqueueSeconds: number;
}

async function setUpEngine(tasks: number): Promise<EngineSetup> {
  const dir = mkdtempSync(join(tmpdir(), "fw-bench-rpc-"));
  let server: ServerProcess;
  try {
    server = await startServerProcess({
      dataDir: dir,
      port: await freePort(),
      env: {
        NODE_ENV: "production",
        FW_LOG_LEVEL: "warn",
        FW_API_KEYS: `bench:${API_KEY}`,
        // The bench measures the engine against a peer that has no limiter; one client
        // near the default rate limit would measure the limiter instead.
        FW_RATE_LIMIT: "0",
      },
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const kill = () => server.child.kill("SIGKILL");
  process.once("exit", kill);
  try {
    await rpc(server.url, { method: "awf.task/define", params: { name: DEFINITION } });
    const ids: string[] = new Array(tasks);
    let next = 0;
    const started = performance.now();
    const sender = async () => {
      while (next < tasks) {
        const from = next;
        next = Math.min(tasks, from + CREATE_BATCH);
        const calls = [];
        for (let i = from; i < next; i++) {
          calls.push({
            method: "awf.task/create-and-execute",
            params: { definition: DEFINITION, params: { n: i } },
          });
        }
        const results = (await batch(server.url, calls)) as { resource: { id: string } }[];
        results.forEach((r, k) => {
          ids[from + k] = r.resource.id;
        });
      }
    };
    await Promise.all(Array.from({ length: CREATE_IN_FLIGHT }, sender));
    const enqueueSeconds = (performance.now() - started) / 1000;
    return { server, dir, ids, enqueueSeconds };
  } catch (error) {
    await stopEngine(server, dir, kill);
    throw error;
  }
}

async function stopEngine(server: ServerProcess, dir: string, kill: () => void) {
  const exited = server.stop("SIGTERM");
  const timer = setTimeout(kill, 10_000);
  await exited;
  clearTimeout(timer);
  process.off("exit", kill);
  rmSync(dir, { recursive: true, force: true });
}

/** Problems found by asking the engine about every task: empty when all is well. */
async function verifyEngine(url: string, ids: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  const tally = new Map<string, number>();
  const note = (what: string) => tally.set(what, (tally.get(what) ?? 0) + 1);
  for (let from = 0; from < ids.length; from += STATUS_BATCH) {
    const chunk = ids.slice(from, from + STATUS_BATCH);
    const answers = (await batch(
      url,
      chunk.map((id) => ({ method: "awf.task/status", params: { id, "include-log": true } })),
    )) as {
      resource: { id: string; status: string; outcome: string | null };
      log: { action: string }[];
    }[];
    for (const answer of answers) {
      const { status, outcome } = answer.resource;
      if (status !== "done" || outcome !== "succeeded") note(`status ${status}/${outcome}`);
      const count = (action: string) => answer.log.filter((e) => e.action === action).length;
      const starts = count("awf.task/start");
      const successes = count("awf.task/success");
      if (starts !== 1) note(`${starts} starts in the log`);
      if (successes !== 1) note(`${successes} successes in the log`);
    }
  }
  for (const [what, n] of tally) problems.push(`${n} tasks with ${what}`);
  return problems;
}

// ---- the executor process -------------------------------------------------------------

function runWorkerProcess(config: WorkerConfig): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, "rpc-worker.ts"), JSON.stringify(config)],
      { env: { ...process.env, NODE_ENV: "production" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-4_000);
    });
    const kill = () => child.kill("SIGKILL");
    process.once("exit", kill);
    child.once("error", reject);
    child.once("exit", (code) => {
      process.off("exit", kill);
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || line === "") {
        reject(new Error(`executor process exited ${code}:\n${err}`));
        return;
      }
      if (err.trim() !== "") process.stderr.write(err);
      resolve(JSON.parse(line) as WorkerResult);
    });
  });
}

/** Executor-side problems: errors, duplicates, ids that were never created. */
function checkWorker(result: WorkerResult, expected: number) {
  const problems: string[] = [];
  if (result.errorCount > 0) {
    problems.push(`${result.errorCount} executor errors, e.g. ${result.errors.join(" | ")}`);
  }
  const seen = new Set(result.ids);
  if (seen.size !== result.ids.length) {
    problems.push(`${result.ids.length - seen.size} tasks completed twice by executors`);
  }
  if (seen.size !== expected) {
    problems.push(`executors completed ${seen.size} distinct tasks of ${expected}`);
  }
  if (result.capped) problems.push("time cap reached");
  return problems;
}

function capMs(tasks: number) {
  return 60_000 + 20 * tasks;
}

async function engineCell(tasks: number, claimBatch: number): Promise<Cell> {
  const setup = await setUpEngine(tasks);
  const kill = () => setup.server.child.kill("SIGKILL");
  try {
    const result = await runWorkerProcess({
      system: "engine",
      url: setup.server.url,
      apiKey: API_KEY,
      queue: DEFINITION,
      total: tasks,
      loops: EXECUTORS,
      batch: claimBatch,
      capMs: capMs(tasks),
    });
    const created = new Set(setup.ids);
    const unknown = new Set(result.ids.filter((id) => !created.has(id))).size;
    const problems = [
      ...checkWorker(result, tasks),
      ...(unknown > 0 ? [`${unknown} completed ids were never created`] : []),
      ...(await verifyEngine(setup.server.url, setup.ids)),
    ];
    return {
      tasksPerSec: (result.completed * 1000) / result.elapsedMs,
      enqueuePerSec: tasks / setup.enqueueSeconds,
      capped: result.capped,
      completed: result.completed,
      problems,
    };
  } finally {
    await stopEngine(setup.server, setup.dir, kill);
  }
}

let postgresVersion = "?";

async function pgbossCell(tasks: number, claimBatch: number): Promise<Cell> {
  const { PGBOSS_QUEUE, setUpPgboss, verifyPgboss } = await import("./peers/pgboss");
  const setup = await setUpPgboss(tasks);
  postgresVersion = setup.postgresVersion;
  try {
    const result = await runWorkerProcess({
      system: "pgboss",
      url: setup.url,
      queue: PGBOSS_QUEUE,
      total: tasks,
      loops: EXECUTORS,
      batch: claimBatch,
      capMs: capMs(tasks),
    });
    const problems = [...checkWorker(result, tasks), ...(await verifyPgboss(setup.url, tasks))];
    return {
      tasksPerSec: (result.completed * 1000) / result.elapsedMs,
      enqueuePerSec: tasks / setup.enqueueSeconds,
      capped: result.capped,
      completed: result.completed,
      problems,
    };
  } finally {
    await setup.server.stop();
  }
}

function pgbossVersion(): string {
  const path = join(import.meta.dirname, "..", "node_modules", "pg-boss", "package.json");
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
}

// ---- the run --------------------------------------------------------------------------

const range = (values: readonly number[], digits = 0) =>
  `${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}`;

export async function runRpc(options: RpcBenchOptions): Promise<void> {
  let systems: System[] = options.peer ? ["engine", "pgboss"] : ["engine"];
  const cells = new Map<string, Cell[]>();
  const ratios = new Map<number, number[]>();
  const key = (system: System, claimBatch: number) => `${system}/${claimBatch}`;
  const allProblems: string[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const parts: string[] = [];
    for (const claimBatch of BATCHES) {
      const here: Partial<Record<System, Cell>> = {};
      for (const system of systems) {
        let cell: Cell;
        if (system === "engine") cell = await engineCell(options.tasks, claimBatch);
        else {
          try {
            cell = await pgbossCell(options.tasks, claimBatch);
          } catch (error) {
            process.stderr.write(`pg-boss peer skipped: ${(error as Error).message}\n`);
            systems = ["engine"];
            continue;
          }
        }
        here[system] = cell;
        const list = cells.get(key(system, claimBatch)) ?? [];
        list.push(cell);
        cells.set(key(system, claimBatch), list);
        for (const problem of cell.problems) {
          allProblems.push(`round ${round}, ${system}, batch ${claimBatch}: ${problem}`);
        }
        parts.push(
          `${system} b${claimBatch} ${fmt(cell.tasksPerSec)}/s${cell.problems.length ? ` (${cell.problems.length} problems)` : ""}`,
        );
      }
      if (here.engine && here.pgboss) {
        const list = ratios.get(claimBatch) ?? [];
        list.push(here.engine.tasksPerSec / here.pgboss.tasksPerSec);
        ratios.set(claimBatch, list);
      }
    }
    process.stderr.write(`round ${round}: ${parts.join(", ")}\n`);
  }

  const label = (system: System, claimBatch: number) =>
    system === "engine"
      ? `engine: long-poll → start → success (maxBatchSize ${claimBatch})`
      : `pg-boss ${pgbossVersion()}: fetch → complete (batchSize ${claimBatch})`;
  const rows: string[][] = [];
  for (const claimBatch of BATCHES) {
    for (const system of systems) {
      const list = cells.get(key(system, claimBatch)) ?? [];
      const tput = list.map((c) => c.tasksPerSec);
      const capped = list.some((c) => c.capped) ? " ⏱" : "";
      const bad = list.filter((c) => c.problems.length > 0).length;
      rows.push([
        label(system, claimBatch),
        `${fmt(median(tput))}${capped}`,
        range(tput),
        fmt(median(list.map((c) => c.enqueuePerSec))),
        bad === 0
          ? `all ${fmt(options.tasks)} once, ${list.length}/${list.length} runs`
          : `✗ ${bad} runs`,
      ]);
    }
  }
  const ratioRows = [...ratios].map(([claimBatch, list]) => [
    `engine / pg-boss, batch ${claimBatch}`,
    `${fmt(median(list), 1)}×`,
    range(list, 1),
    median(list) >= 10 ? "meets ≥ 10×" : "below the 10× target",
  ]);

  const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, bun ${Bun.version}`;
  const peerText = options.peer
    ? `; peer: pg-boss ${pgbossVersion()} on PostgreSQL ${postgresVersion} (fresh cluster per cell, fsync and synchronous_commit on)`
    : "";
  process.stdout.write(
    `\nrpc bench on ${machine}: ${fmt(options.tasks)} tasks a cell, ${EXECUTORS} executor loops in one executor process, ${options.rounds} rounds; engine on SQLite (synchronous=FULL), fresh server per cell${peerText}\n\n${table(
      ["system", "tasks/s (median)", "min–max", "enqueue/s", "verified"],
      rows,
    )}\n`,
  );
  if (ratioRows.length > 0) {
    process.stdout.write(
      `\n${table(["ratio (within each round, then median)", "median", "min–max", "target"], ratioRows)}\n`,
    );
  }
  if (allProblems.length > 0) {
    process.stdout.write(`\nproblems:\n${allProblems.map((p) => `- ${p}`).join("\n")}\n`);
  }
  process.stdout.write(
    "\ntasks/s: first claim answered → last completion acknowledged; ⏱ = a run hit its time cap (completed/elapsed).\n",
  );
}
