/**
 * `fleetwork submit -- <command...>`: an exec task on the default agent, on `--agent`,
 * or one on every online agent whose labels match `--labels`; `--wait` waits for the
 * end and exits with the command's exit code.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { ApiError } from "../api";
import { action, type Context, type ExitHolder, labelsOption, withConnection } from "../command";
import { json } from "../format";
import { Exit, type Io, interruptedCode } from "../io";
import { type Agent, actionResult, FINAL_STATUSES, type Task } from "../types";
import { matchesLabels } from "./agents";

const POLL_MS = 200;

/** Words that need no quoting in sh. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(word: string): string {
  if (word !== "" && PLAIN.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** One word is a shell line as it is; several are quoted, so each stays one argument. */
export function commandLine(words: readonly string[]): string {
  return words.length === 1 ? (words[0] as string) : words.map(shellQuote).join(" ");
}

/**
 * The exit code of a finished task: 0 when done; the command's own when it failed
 * with one; 124 when it timed out; 1 otherwise (failed without a code, cancelled).
 */
export function taskExitCode(task: Task): number {
  if (task.status === "done") return 0;
  if (task.status === "timedOut") return 124;
  for (let i = task.results.length - 1; i >= 0; i--) {
    const code = actionResult(task.results[i])?.exitCode;
    if (typeof code === "number" && code !== 0) return code & 0xff;
  }
  return 1;
}

function integer(value: string): number {
  if (!/^-?\d{1,7}$/.test(value)) throw new InvalidArgumentError("must be an integer.");
  return Number(value);
}

async function waitFor(ctx: Context, ids: readonly number[]): Promise<Task[] | null> {
  const finished = new Map<number, Task>();
  while (finished.size < ids.length) {
    for (const id of ids) {
      if (finished.has(id)) continue;
      const task = await ctx.api.call<Task>("GET", `/tasks/${id}`);
      if (FINAL_STATUSES.has(task.status)) finished.set(id, task);
    }
    if (finished.size < ids.length) {
      await ctx.io.sleep(POLL_MS, ctx.io.signal);
      if (ctx.io.signal.aborted) return null;
    }
  }
  return ids.map((id) => finished.get(id) as Task);
}

/** The command's output, as the tasks kept it; prefixed with the agent when several ran. */
function printOutput(ctx: Context, tasks: readonly Task[]): void {
  const prefixed = tasks.length > 1;
  for (const task of tasks) {
    for (const result of task.results.map(actionResult)) {
      for (const stream of ["stdout", "stderr"] as const) {
        const text = result?.[stream];
        if (!text) continue;
        const write = stream === "stdout" ? ctx.out : ctx.err;
        if (!prefixed) write(text);
        else {
          const lines = text.replace(/\n$/, "").split("\n");
          write(lines.map((line) => `[${task.agent ?? task.id}] ${line}\n`).join(""));
        }
      }
    }
    const summary = task.error ? `${task.status}: ${task.error}` : task.status;
    ctx.err(`fleetwork: task ${task.id} on ${task.agent ?? "-"}: ${summary}\n`);
  }
}

export function submitCommand(io: Io, exit: ExitHolder): Command {
  return withConnection(
    new Command("submit")
      .description("run a shell command as an exec task; prints the new task ids")
      .usage("[options] -- <command...>")
      .argument(
        "<command...>",
        "the command: one argument is a shell line (sh -c), several are quoted word by word",
      )
      .addOption(new Option("--agent <id>", "the agent to run it on (default: the engine's)"))
      .addOption(
        new Option("--labels <k=v,...>", "one task on every online agent with all these labels")
          .argParser(labelsOption)
          .conflicts("agent"),
      )
      .option("--lane <name>", "the lane: tasks of one lane run one at a time")
      .option("--name <name>", "the task's name (default: exec)")
      .option("--priority <n>", "lower runs first within a lane", integer)
      .option("--wait", "wait for the end, print the output, exit with the command's code")
      .passThroughOptions(),
    "print the created task's JSON (with --wait: the finished task's; --labels: an array)",
  )
    .addHelpText(
      "after",
      `
Examples:
  fleetwork submit -- uptime
  fleetwork submit --wait -- 'make test 2>&1 | tail -5'
  fleetwork submit --labels role=web --wait -- systemctl reload nginx

With --wait the exit code is the command's (124 if it timed out, 1 if it failed
without one or was cancelled); with several tasks, the first that did not succeed.`,
    )
    .action(
      action(io, exit, async (ctx, options, words: string[]) => {
        const base: Record<string, unknown> = {
          actions: [{ type: "exec", params: { command: commandLine(words) } }],
        };
        for (const name of ["name", "lane", "priority"]) {
          if (options[name] !== undefined) base[name] = options[name];
        }
        let targets: (string | undefined)[] = [options.agent as string | undefined];
        if (options.labels) {
          const wanted = options.labels as Record<string, string>;
          const agents = await ctx.api.call<Agent[]>("GET", "/agents");
          targets = agents
            .filter((agent) => agent.status === "online" && matchesLabels(agent, wanted))
            .map((agent) => agent.id);
          if (targets.length === 0) {
            const text = Object.entries(wanted)
              .map(([k, v]) => `${k}=${v}`)
              .join(",");
            throw new ApiError(`no online agent has the labels ${text}`, null);
          }
        }
        const created: Task[] = [];
        for (const agent of targets) {
          const body = agent === undefined ? base : { ...base, agent };
          const task = await ctx.api.call<Task>("POST", "/tasks", body);
          created.push(task);
          if (!options.wait && !ctx.json) ctx.out(`${task.id}\n`);
        }
        const single = options.labels === undefined;
        if (!options.wait) {
          if (ctx.json) ctx.out(json(single ? created[0] : created));
          return Exit.Ok;
        }
        const finished = await waitFor(
          ctx,
          created.map((task) => task.id),
        );
        if (finished === null) {
          const ids = created.map((task) => task.id).join(" ");
          ctx.err(`fleetwork: stopped waiting; the task goes on (fleetwork tasks cancel ${ids})\n`);
          return interruptedCode(ctx.io);
        }
        if (ctx.json) ctx.out(json(single ? finished[0] : finished));
        else printOutput(ctx, finished);
        return finished.map(taskExitCode).find((code) => code !== 0) ?? Exit.Ok;
      }),
    );
}
