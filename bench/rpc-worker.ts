/**
 * The executor side of `npm run bench -- rpc`, as its own process (spawned by rpc.ts,
 * one per run): `loops` independent async executors, each claiming → starting →
 * completing tasks until `total` are done, against either the engine's `POST /rpc` or
 * pg-boss 10. Prints one JSON line (a WorkerResult) on stdout.
 *
 *   engine  awf.task/long-poll {maxBatchSize: b} → awf.task/start → awf.task/success;
 *           with b > 1 the starts of one claim go in one batch request, and so do
 *           their successes (3 HTTP requests per claim either way).
 *   pgboss  boss.fetch(queue, {batchSize: b}) → boss.complete(queue, id | ids): a tight
 *           loop, no polling interval (pg-boss has no start step: 2 round trips).
 *
 * The clock (one performance.now() for all loops) runs from the first claim answered
 * to the last completion acknowledged. An empty claim is not an end: a loop claims
 * again (the engine's long-poll waits for work; pg-boss's fetch answers at once, so it
 * waits 5 ms) until all `total` are done or the cap passes.
 */

export interface WorkerConfig {
  readonly system: "engine" | "pgboss";
  /** engine: the server's base URL; pgboss: the postgres:// URL. */
  readonly url: string;
  readonly apiKey?: string;
  /** engine: the task definition; pgboss: the queue. */
  readonly queue: string;
  readonly total: number;
  readonly loops: number;
  readonly batch: number;
  readonly capMs: number;
}

export interface WorkerResult {
  /** ms from the first claim answered to the last completion acknowledged. */
  readonly elapsedMs: number;
  readonly completed: number;
  readonly claims: number;
  readonly emptyClaims: number;
  readonly capped: boolean;
  readonly errorCount: number;
  /** The first few error messages. */
  readonly errors: readonly string[];
  /** Every completed task's id, in completion order (checked for duplicates by rpc.ts). */
  readonly ids: readonly string[];
  /** Tasks completed by each loop. */
  readonly perLoop: readonly number[];
  readonly rssMiB: number;
}

interface Claimed {
  readonly id: string;
  readonly execId?: string;
}

/** One system's executor operations. */
interface Executor {
  claim(signal: AbortSignal): Promise<Claimed[]>;
  /** Completes the claimed tasks; returns the ids that were acknowledged. */
  complete(tasks: readonly Claimed[]): Promise<string[]>;
  close(): Promise<void>;
}

const MAX_ERRORS_KEPT = 10;

class Errors {
  count = 0;
  readonly first: string[] = [];
  add(message: string) {
    this.count++;
    if (this.first.length < MAX_ERRORS_KEPT) this.first.push(message);
  }
}

function engineExecutor(config: WorkerConfig, errors: Errors): Executor {
  const endpoint = `${config.url}/rpc`;
  const headers = {
    authorization: `Bearer ${config.apiKey ?? ""}`,
    "content-type": "application/json",
  };
  const rpc = async (body: unknown, signal?: AbortSignal): Promise<unknown> => {
    const response = await fetch(endpoint, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as unknown;
  };
  type Answer = { result?: { resource?: { id: string } }; error?: { message: string } };
  /** Runs one method for every task: one call, or one batch request for several. */
  const each = async (method: string, tasks: readonly Claimed[]): Promise<Claimed[]> => {
    const calls = tasks.map((t) => ({ method, params: { id: t.id, execId: t.execId } }));
    const answers =
      calls.length === 1 ? [(await rpc(calls[0])) as Answer] : ((await rpc(calls)) as Answer[]);
    const ok: Claimed[] = [];
    answers.forEach((answer, i) => {
      const task = tasks[i] as Claimed;
      if (answer.error || !answer.result) {
        errors.add(`${method} ${task.id}: ${answer.error?.message ?? "no result"}`);
      } else ok.push(task);
    });
    return ok;
  };
  return {
    async claim(signal) {
      const answer = (await rpc(
        {
          method: "awf.task/long-poll",
          params: { taskDefinitions: [config.queue], maxBatchSize: config.batch, timeout: 2_000 },
        },
        signal,
      )) as { result: { resources: { id: string; execId: string }[] } };
      return answer.result.resources.map((r) => ({ id: r.id, execId: r.execId }));
    },
    async complete(tasks) {
      const started = await each("awf.task/start", tasks);
      if (started.length === 0) return [];
      return (await each("awf.task/success", started)).map((t) => t.id);
    },
    async close() {},
  };
}

async function pgbossExecutor(config: WorkerConfig): Promise<Executor> {
  const { default: PgBoss } = await import("pg-boss");
  const boss = new PgBoss({
    connectionString: config.url,
    // One connection per loop (and a spare): each executor has its own.
    max: config.loops + 1,
    supervise: false,
    schedule: false,
    migrate: false,
  });
  boss.on("error", (error) => process.stderr.write(`pg-boss: ${error.message}\n`));
  await boss.start();
  return {
    async claim() {
      const jobs = await boss.fetch(config.queue, { batchSize: config.batch });
      if (jobs.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      return jobs.map((job) => ({ id: job.id }));
    },
    async complete(tasks) {
      const ids = tasks.map((t) => t.id);
      if (ids.length === 1) await boss.complete(config.queue, ids[0] as string);
      else await boss.complete(config.queue, ids);
      return ids;
    },
    async close() {
      await boss.stop({ graceful: false, wait: true });
    },
  };
}

export async function runWorker(config: WorkerConfig): Promise<WorkerResult> {
  const errors = new Errors();
  const executor =
    config.system === "engine" ? engineExecutor(config, errors) : await pgbossExecutor(config);
  const ids: string[] = [];
  const perLoop = Array.from({ length: config.loops }, () => 0);
  const stop = new AbortController();
  let firstClaim = Number.NaN;
  let lastDone = Number.NaN;
  let claims = 0;
  let emptyClaims = 0;
  let capped = false;
  const cap = setTimeout(() => {
    capped = true;
    stop.abort();
  }, config.capMs);

  const loop = async (n: number) => {
    while (!stop.signal.aborted) {
      let tasks: Claimed[];
      try {
        tasks = await executor.claim(stop.signal);
      } catch (error) {
        if (stop.signal.aborted) return;
        errors.add(`claim: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      claims++;
      if (tasks.length === 0) {
        emptyClaims++;
        continue;
      }
      if (Number.isNaN(firstClaim)) firstClaim = performance.now();
      try {
        const done = await executor.complete(tasks);
        lastDone = performance.now();
        ids.push(...done);
        perLoop[n] = (perLoop[n] ?? 0) + done.length;
      } catch (error) {
        errors.add(`complete: ${(error as Error).message}`);
      }
      if (ids.length >= config.total) stop.abort();
    }
  };
  try {
    await Promise.all(perLoop.map((_, n) => loop(n)));
  } finally {
    clearTimeout(cap);
    await executor.close();
  }
  return {
    elapsedMs: lastDone - firstClaim,
    completed: ids.length,
    claims,
    emptyClaims,
    capped,
    errorCount: errors.count,
    errors: errors.first,
    ids,
    perLoop,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
}

if (import.meta.main) {
  const config = JSON.parse(process.argv[2] ?? "") as WorkerConfig;
  const result = await runWorker(config);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
