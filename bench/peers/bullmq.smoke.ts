/**
 * Smoke run of the BullMQ peer bench: `npx bun bench/peers/bullmq.smoke.ts`
 * Throughput: 20,000 jobs, concurrency 50, addBulk chunks of 1,000.
 * Latency: 2,000 jobs after 100 warm-up, one at a time on an idle queue.
 */
import { readFileSync } from "node:fs";
import { runBullmqLatency, runBullmqThroughput } from "./bullmq";
import { redisServerVersion } from "./redis-server";

function pkgVersion(name: string): string {
  try {
    const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    const pkg: unknown = JSON.parse(readFileSync(url, "utf8"));
    if (typeof pkg === "object" && pkg !== null && "version" in pkg) return String(pkg.version);
  } catch {
    // fall through
  }
  return "?";
}

function runtime(): string {
  const bun = process.versions.bun;
  return bun !== undefined ? `bun ${bun}` : `node ${process.version}`;
}

async function main(): Promise<void> {
  console.log(
    `runtime: ${runtime()}; bullmq ${pkgVersion("bullmq")}; ioredis ${pkgVersion("ioredis")}; ${redisServerVersion()}`,
  );
  console.log('redis: --save "" --appendonly yes --appendfsync everysec (fresh server per run)');

  const tp = await runBullmqThroughput({ jobs: 20_000, concurrency: 50, batch: 1_000 });
  console.log(
    `throughput  jobs=${tp.jobs} c=50 batch=1000: ${tp.seconds.toFixed(3)} s, ${Math.round(tp.jobsPerSec)} jobs/s`,
  );

  const lat = await runBullmqLatency({ jobs: 2_000, warmup: 100 });
  console.log(
    `latency     enq→worker start (n=2000, warmup 100): p50 ${lat.p50.toFixed(3)} ms, p99 ${lat.p99.toFixed(3)} ms`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
