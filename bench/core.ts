/**
 * `npm run bench -- core`: the engine core, side by side with BullMQ in the same run.
 *
 *   throughput  tasks/s through the actors with the embedded agent (noop), durable
 *               (SQLite, synchronous=FULL, group commit), vs BullMQ on Redis (AOF
 *               everysec) with the same in-process producer+worker shape;
 *   ceiling     the actors alone (no I/O): the most this engine can do on one core;
 *   memory      RSS with N tasks scheduled an hour ahead, and the time to restore them.
 *
 * Rounds interleave the systems (ours, ceiling, BullMQ, ours, ...); medians are shown,
 * and ratios are taken within each round, then their median.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { runCoreThroughput } from "./core-throughput";
import { fmt, median, table } from "./harness";
import { runTrivialActorCeiling, runXstateCeiling } from "./xstate-ceiling";

export interface CoreOptions {
  readonly tasks: number;
  readonly rounds: number;
  readonly scheduled: number;
  readonly peer: boolean;
}

interface MemoryFill {
  rssMiB: number;
  baselineMiB: number;
  submitSeconds: number;
  live: number;
  wakeups: number;
}
interface MemoryRestore {
  rssMiB: number;
  restoreSeconds: number;
  live: number;
  wakeups: number;
}

function phase<T>(args: string[]): T {
  const result = spawnSync(
    process.execPath,
    [join(import.meta.dirname, "core-memory.ts"), ...args],
    {
      encoding: "utf8",
      env: { ...process.env, NODE_ENV: "production" },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 600_000,
    },
  );
  if (result.status !== 0) throw new Error(`memory phase ${args[0]} failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split("\n").pop() as string) as T;
}

async function bullmq(tasks: number): Promise<number | null> {
  try {
    const { runBullmqThroughput } = await import("./peers/bullmq");
    const result = await runBullmqThroughput({ jobs: tasks, concurrency: 50, batch: 1_000 });
    return result.jobsPerSec;
  } catch (error) {
    process.stderr.write(`BullMQ peer skipped: ${(error as Error).message}\n`);
    return null;
  }
}

export async function runCore(options: CoreOptions): Promise<void> {
  const ours: number[] = [];
  const ceiling: number[] = [];
  const trivial: number[] = [];
  const peer: number[] = [];
  const ratios: number[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const own = await runCoreThroughput(options.tasks, 1_000);
    ours.push(own.tasksPerSec);
    ceiling.push(runXstateCeiling(Math.min(options.tasks, 50_000)).tasksPerSec);
    trivial.push(runTrivialActorCeiling(Math.min(options.tasks, 50_000)).tasksPerSec);
    const theirs = options.peer ? await bullmq(options.tasks) : null;
    if (theirs !== null) {
      peer.push(theirs);
      ratios.push(own.tasksPerSec / theirs);
    }
    process.stderr.write(
      `round ${round}: engine ${fmt(own.tasksPerSec)}/s, actors alone ${fmt(ceiling.at(-1) ?? 0)}/s${theirs === null ? "" : `, BullMQ ${fmt(theirs)}/s`}\n`,
    );
  }

  const dir = mkdtempSync(join(tmpdir(), "fw-bench-memory-"));
  let fill: MemoryFill;
  let restore: MemoryRestore;
  try {
    fill = phase<MemoryFill>(["fill", dir, String(options.scheduled)]);
    restore = phase<MemoryRestore>(["restore", dir]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, bun ${Bun.version}`;
  const rows: string[][] = [
    [
      `engine: single-action noop tasks, durable (${fmt(options.tasks)} tasks, ${options.rounds} rounds)`,
      `${fmt(median(ours))} tasks/s`,
      `min ${fmt(Math.min(...ours))}, max ${fmt(Math.max(...ours))}`,
    ],
    [
      "task actors alone, no I/O: create, DISPATCH, STARTED, ACTION_DONE",
      `${fmt(median(ceiling))} tasks/s`,
      `min ${fmt(Math.min(...ceiling))}, max ${fmt(Math.max(...ceiling))}`,
    ],
    [
      "trivial 3-state XState actor, no I/O: create + 2 events",
      `${fmt(median(trivial))} actors/s`,
      `min ${fmt(Math.min(...trivial))}, max ${fmt(Math.max(...trivial))}`,
    ],
  ];
  if (peer.length > 0) {
    rows.push(
      [
        "BullMQ 6 + Redis AOF everysec, same run (c50, addBulk 1,000)",
        `${fmt(median(peer))} jobs/s`,
        `min ${fmt(Math.min(...peer))}, max ${fmt(Math.max(...peer))}`,
      ],
      ["engine / BullMQ (median of per-round ratios)", `${fmt(median(ratios), 2)}×`, ""],
    );
  }
  rows.push(
    [
      `RSS with ${fmt(options.scheduled)} tasks scheduled 1 h ahead`,
      `${fmt(fill.rssMiB)} MiB`,
      `${fmt(((fill.rssMiB - fill.baselineMiB) * 2 ** 20) / options.scheduled)} B/task over a ${fmt(fill.baselineMiB)} MiB baseline; ${fmt(fill.live)} live actors; submitted in ${fmt(fill.submitSeconds, 1)} s`,
    ],
    [
      `restart: restore ${fmt(restore.wakeups)} scheduled tasks`,
      `${fmt(restore.restoreSeconds, 2)} s`,
      `RSS after restore ${fmt(restore.rssMiB)} MiB`,
    ],
  );
  process.stdout.write(
    `\ncore bench on ${machine}\n\n${table(["measure", "median", "notes"], rows)}\n`,
  );
}
