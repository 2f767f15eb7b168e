/**
 * `npm run bench -- NAME [--option value ...]`. Benchmarks run their peers side by
 * side in the same run and print a Markdown table.
 */
import { parseArgs } from "node:util";
import { runCore } from "./core";
import { runNats } from "./nats";
import { runRpc } from "./rpc";

const BENCHES = ["core", "nats", "rpc"] as const;
/** --tasks when not given. */
const DEFAULT_TASKS: Record<(typeof BENCHES)[number], string> = {
  core: "50000",
  nats: "50000",
  rpc: "5000",
};

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    tasks: { type: "string" },
    rounds: { type: "string", default: "3" },
    scheduled: { type: "string", default: "1000000" },
    samples: { type: "string", default: "2000" },
    "no-peer": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

const name = positionals[0];
if (values.help || !name || !(BENCHES as readonly string[]).includes(name)) {
  process.stdout.write(
    `usage: npm run bench -- ${BENCHES.join("|")} [--tasks N (core, nats: 50000; rpc: 5000)] [--rounds N] [--scheduled N] [--samples N] [--no-peer]\n`,
  );
  process.exit(values.help ? 0 : 2);
}

const positive = (text: string, flag: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${flag} must be a positive integer\n`);
    process.exit(2);
  }
  return n;
};

const tasks = positive(values.tasks ?? DEFAULT_TASKS[name as (typeof BENCHES)[number]], "tasks");
if (name === "rpc") {
  await runRpc({ tasks, rounds: positive(values.rounds, "rounds"), peer: !values["no-peer"] });
} else if (name === "nats") {
  await runNats({
    tasks,
    rounds: positive(values.rounds, "rounds"),
    latencySamples: positive(values.samples, "samples"),
  });
} else {
  await runCore({
    tasks,
    rounds: positive(values.rounds, "rounds"),
    scheduled: positive(values.scheduled, "scheduled"),
    peer: !values["no-peer"],
  });
}
process.exit(0);
