/**
 * pg-boss 10 peer of `npm run bench -- rpc`: a fresh PostgreSQL (the test helper's
 * throw-away cluster: fresh initdb, fsync and synchronous_commit on), a queue, N jobs
 * inserted up front (`boss.insert`, chunks of 1,000, payload `{n: i}`), and afterwards
 * a check in SQL that every job ended `completed`, once, without a retry.
 *
 * The executors are in ../rpc-worker.ts (fetch → complete loops in a child process).
 * pg-boss 10 is what `npm i pg-boss` resolves on Node 20 (11+ need Node 22).
 */
import PgBoss from "pg-boss";
import postgres from "postgres";
import { type PostgresServer, startPostgres } from "../../test/helpers/postgres";

export const PGBOSS_QUEUE = "bench";

export interface PgbossSetup {
  readonly server: PostgresServer;
  readonly url: string;
  readonly enqueueSeconds: number;
  readonly postgresVersion: string;
}

/** A fresh server with pg-boss's schema, the queue, and `jobs` jobs waiting in it. */
export async function setUpPgboss(jobs: number): Promise<PgbossSetup> {
  const server = await startPostgres();
  try {
    const boss = new PgBoss({ connectionString: server.url, supervise: false, schedule: false });
    boss.on("error", (error) => process.stderr.write(`pg-boss: ${error.message}\n`));
    await boss.start();
    let enqueueSeconds: number;
    try {
      await boss.createQueue(PGBOSS_QUEUE);
      const started = performance.now();
      for (let from = 0; from < jobs; from += 1_000) {
        const chunk: PgBoss.JobInsert[] = [];
        for (let i = from; i < Math.min(jobs, from + 1_000); i++) {
          chunk.push({ name: PGBOSS_QUEUE, data: { n: i } });
        }
        await boss.insert(chunk);
      }
      enqueueSeconds = (performance.now() - started) / 1000;
    } finally {
      await boss.stop({ graceful: false, wait: true });
    }
    const sql = postgres(server.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ server_version: string }[]>`SHOW server_version`;
      return {
        server,
        url: server.url,
        enqueueSeconds,
        postgresVersion: row?.server_version ?? "?",
      };
    } finally {
      await sql.end({ timeout: 5 });
    }
  } catch (error) {
    await server.stop().catch(() => {});
    throw error;
  }
}

/** Problems found in the jobs table: empty when all `jobs` completed exactly once. */
export async function verifyPgboss(url: string, jobs: number): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ state: string; n: number; retries: number }[]>`
      SELECT state::text AS state, count(*)::int AS n, max(retry_count)::int AS retries
      FROM pgboss.job WHERE name = ${PGBOSS_QUEUE} GROUP BY state`;
    const problems: string[] = [];
    let completed = 0;
    for (const row of rows) {
      if (row.state === "completed") completed = row.n;
      else problems.push(`${row.n} jobs ${row.state}`);
      if (row.retries > 0) problems.push(`${row.state} jobs retried (max ${row.retries})`);
    }
    if (completed !== jobs) problems.push(`${completed} of ${jobs} jobs completed`);
    return problems;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
