/**
 * `npm run soak -- [--minutes N | --seconds N] [--json FILE]`: the soak run of issue 8
 * (default 10 minutes). Prints the figures and the verdicts as Markdown tables on stdout,
 * progress on stderr; exits 1 when a criterion fails, 2 on a usage error.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { judge } from "./criteria";
import { soakPlan } from "./plan";
import { formatReport } from "./report";
import { runSoak } from "./soak";

const USAGE =
  "usage: npm run soak -- [--minutes N | --seconds N] [--json FILE]   (default: --minutes 10)";

interface CliOptions {
  readonly durationMs: number;
  /** Where to write every figure and sample as JSON, for a closer look. */
  readonly jsonFile: string | undefined;
}

function cliOptions(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: "string" },
      seconds: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.minutes !== undefined && values.seconds !== undefined) {
    throw new Error("give --minutes or --seconds, not both");
  }
  const [text, unitMs] =
    values.seconds !== undefined ? [values.seconds, 1_000] : [values.minutes ?? "10", 60_000];
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${text}`);
  return { durationMs: n * unitMs, jsonFile: values.json };
}

let plan: ReturnType<typeof soakPlan>;
let jsonFile: string | undefined;
try {
  const options = cliOptions(process.argv.slice(2));
  plan = soakPlan(options.durationMs);
  jsonFile = options.jsonFile;
} catch (error) {
  process.stderr.write(`soak: ${error instanceof Error ? error.message : error}\n${USAGE}\n`);
  process.exit(2);
}
const figures = await runSoak(plan, (line) => process.stderr.write(`soak: ${line}\n`));
const verdicts = judge(figures);
process.stdout.write(`${formatReport(figures, verdicts)}\n`);
if (jsonFile !== undefined) {
  // Maps become arrays of [key, value] pairs, which JSON can hold.
  const replacer = (_key: string, value: unknown) => (value instanceof Map ? [...value] : value);
  writeFileSync(jsonFile, JSON.stringify({ figures, verdicts }, replacer, 1));
}
process.exitCode = verdicts.every((v) => v.pass) ? 0 : 1;
