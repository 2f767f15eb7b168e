/**
 * `npm run chaos -- [--rounds N] [--seed S] [--agents N] [--rate N] [--settle-ms MS]
 * [--kill-min-ms MS] [--kill-max-ms MS] [--keep]`: the crash harness from the command
 * line. Prints the seed first (pass it back with --seed to replay the kill moments and
 * the task mix), then the figures; exits 1 when a figure that must be 0 is not.
 */
import { parseArgs } from "node:util";
import { crashRunFailed, runCrashHarness } from "./crash-harness";
import { crashTable } from "./crash-table";

const USAGE =
  "usage: npm run chaos -- [--rounds N (20)] [--seed S] [--agents N (3)] [--rate TASKS_PER_S (100)] [--settle-ms MS (60000)] [--kill-min-ms MS (300)] [--kill-max-ms MS (4000)] [--keep]\n";

let values: ReturnType<typeof parse>["values"];
function parse() {
  return parseArgs({
    options: {
      rounds: { type: "string", default: "20" },
      seed: { type: "string" },
      agents: { type: "string", default: "3" },
      rate: { type: "string", default: "100" },
      "settle-ms": { type: "string", default: "60000" },
      "kill-min-ms": { type: "string", default: "300" },
      "kill-max-ms": { type: "string", default: "4000" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}
try {
  values = parse().values;
} catch (error) {
  process.stderr.write(
    `chaos: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`,
  );
  process.exit(2);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function integer(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`chaos: --${flag} must be an integer from ${min} to ${max}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const killMin = integer("kill-min-ms", values["kill-min-ms"], 0, 600_000);
const run = await runCrashHarness({
  rounds: integer("rounds", values.rounds, 1, 10_000),
  seed: values.seed === undefined ? undefined : integer("seed", values.seed, 0, 0xffffffff),
  agents: integer("agents", values.agents, 1, 16),
  ratePerSecond: integer("rate", values.rate, 1, 10_000),
  settleMs: integer("settle-ms", values["settle-ms"], 0, 3_600_000),
  killDelayMs: {
    min: killMin,
    max: integer("kill-max-ms", values["kill-max-ms"], killMin, 600_000),
  },
  keepDir: values.keep,
  progress: (line) => process.stderr.write(`chaos: ${line}\n`),
});
process.stdout.write(`${crashTable(run)}\n`);
process.exit(crashRunFailed(run) ? 1 : 0);
