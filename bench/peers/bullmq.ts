/**
 * BullMQ peer benchmark, run side by side with the engine's own bench.
 *
 * Same job as everywhere in peer-baselines: payload `{n: i}`, a processor that does nothing.
 * Each run gets its own fresh redis-server (AOF everysec, see ./redis-server.ts).
 *
 * Producer and worker live in the SAME process here. peer-baselines.md used separate
 * processes, but the engine's bench is one process too, so same-process is the fair
 * comparison (and it lets latency use one clock: performance.now()).
 *
 * BullMQ options are left at their defaults as a new user would have them; in particular
 * `removeOnComplete` is unset, so Redis keeps every completed job.
 */
import { Queue, Worker } from "bullmq";
import { startRedisServer } from "./redis-server";

export interface BullmqThroughputOptions {
  jobs: number;
  concurrency: number;
  /** Jobs per `queue.addBulk` call. */
  batch: number;
  /** Overall bound for the measured part; default 60 s + 5 ms per job. */
  timeoutMs?: number;
}

export interface BullmqThroughputResult {
  jobs: number;
  seconds: number;
  jobsPerSec: number;
}

export interface BullmqLatencyOptions {
  jobs: number;
  warmup: number;
  /** Overall bound for the measured part; default 60 s + 20 ms per job. */
  timeoutMs?: number;
}

export interface BullmqLatencyResult {
  /** enqueue call → processor start, ms */
  p50: number;
  p99: number;
}

const QUEUE = "bench";
const CLOSE_TIMEOUT_MS = 10_000;

interface JobData {
  n: number;
}

/** Rejects with a clear error if `p` has not settled within `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new Error(`${name} must be a positive integer, got ${v}`);
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error("percentile of an empty sample");
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  const v = sorted[idx];
  if (v === undefined) throw new Error("percentile index out of range");
  return v;
}

/** Closes worker, then queue (bounded; a worker that will not close is force-closed). */
async function closeAll(
  worker: Worker<JobData> | null,
  queue: Queue<JobData> | null,
): Promise<void> {
  if (worker !== null) {
    try {
      await withTimeout(worker.close(), CLOSE_TIMEOUT_MS, "worker.close()");
    } catch {
      await withTimeout(worker.close(true), CLOSE_TIMEOUT_MS, "worker.close(force)").catch(
        () => {},
      );
    }
  }
  if (queue !== null) {
    await withTimeout(queue.close(), CLOSE_TIMEOUT_MS, "queue.close()").catch(() => {});
  }
}

export async function runBullmqThroughput(
  opts: BullmqThroughputOptions,
): Promise<BullmqThroughputResult> {
  positiveInt("jobs", opts.jobs);
  positiveInt("concurrency", opts.concurrency);
  positiveInt("batch", opts.batch);
  const timeoutMs = opts.timeoutMs ?? 60_000 + 5 * opts.jobs;

  const server = await startRedisServer();
  let worker: Worker<JobData> | null = null;
  let queue: Queue<JobData> | null = null;
  try {
    const connection = { host: "127.0.0.1", port: server.port };

    let done = 0;
    let onAllDone: (t: number) => void = () => {};
    let onFailure: (err: Error) => void = () => {};
    const allDone = new Promise<number>((resolve, reject) => {
      onAllDone = resolve;
      onFailure = reject;
    });
    // Keep an early rejection from being reported as unhandled before we await it.
    allDone.catch(() => {});

    // Worker first, and ready, before the first enqueue.
    worker = new Worker<JobData>(QUEUE, async () => {}, {
      connection,
      concurrency: opts.concurrency,
    });
    worker.on("completed", () => {
      done++;
      if (done === opts.jobs) onAllDone(performance.now());
    });
    worker.on("failed", (_job, err) => onFailure(new Error(`bullmq job failed: ${err.message}`)));
    worker.on("error", (err) => onFailure(new Error(`bullmq worker error: ${err.message}`)));
    queue = new Queue<JobData>(QUEUE, { connection });
    const q = queue;
    await withTimeout(
      Promise.all([worker.waitUntilReady(), q.waitUntilReady()]),
      CLOSE_TIMEOUT_MS,
      "bullmq connect",
    );

    const measured = async (): Promise<BullmqThroughputResult> => {
      const t0 = performance.now();
      for (let start = 0; start < opts.jobs; start += opts.batch) {
        const end = Math.min(opts.jobs, start + opts.batch);
        const chunk: { name: string; data: JobData }[] = [];
        for (let i = start; i < end; i++) chunk.push({ name: "job", data: { n: i } });
        await q.addBulk(chunk);
      }
      const t1 = await allDone;
      const seconds = (t1 - t0) / 1000;
      return { jobs: opts.jobs, seconds, jobsPerSec: opts.jobs / seconds };
    };
    return await withTimeout(measured(), timeoutMs, `bullmq throughput (${opts.jobs} jobs)`);
  } finally {
    await closeAll(worker, queue);
    await server.stop();
  }
}

export async function runBullmqLatency(opts: BullmqLatencyOptions): Promise<BullmqLatencyResult> {
  positiveInt("jobs", opts.jobs);
  if (!Number.isInteger(opts.warmup) || opts.warmup < 0) {
    throw new Error(`warmup must be a non-negative integer, got ${opts.warmup}`);
  }
  const total = opts.warmup + opts.jobs;
  const timeoutMs = opts.timeoutMs ?? 60_000 + 20 * total;

  const server = await startRedisServer();
  let worker: Worker<JobData> | null = null;
  let queue: Queue<JobData> | null = null;
  try {
    const connection = { host: "127.0.0.1", port: server.port };

    // One job in flight at a time: these hold the current job's start time and waiter.
    let startedAt = Number.NaN;
    let onCompleted: () => void = () => {};
    let onFailure: (err: Error) => void = () => {};

    worker = new Worker<JobData>(
      QUEUE,
      async () => {
        startedAt = performance.now();
      },
      { connection, concurrency: 1 },
    );
    worker.on("completed", () => onCompleted());
    worker.on("failed", (_job, err) => onFailure(new Error(`bullmq job failed: ${err.message}`)));
    worker.on("error", (err) => onFailure(new Error(`bullmq worker error: ${err.message}`)));
    queue = new Queue<JobData>(QUEUE, { connection });
    const q = queue;
    await withTimeout(
      Promise.all([worker.waitUntilReady(), q.waitUntilReady()]),
      CLOSE_TIMEOUT_MS,
      "bullmq connect",
    );

    const measured = async (): Promise<BullmqLatencyResult> => {
      const samples: number[] = [];
      for (let i = 0; i < total; i++) {
        const completed = new Promise<void>((resolve, reject) => {
          onCompleted = resolve;
          onFailure = reject;
        });
        startedAt = Number.NaN;
        const t0 = performance.now();
        await q.add("job", { n: i });
        await completed;
        if (Number.isNaN(startedAt)) throw new Error(`job ${i} completed without a start time`);
        if (i >= opts.warmup) samples.push(startedAt - t0);
      }
      samples.sort((a, b) => a - b);
      return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
    };
    return await withTimeout(measured(), timeoutMs, `bullmq latency (${total} jobs)`);
  } finally {
    await closeAll(worker, queue);
    await server.stop();
  }
}
