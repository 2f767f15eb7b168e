/** `fleetwork tasks list|get|cancel|pause|resume`: the native task API. */
import { Command, Option } from "commander";
import { ApiError } from "../api";
import {
  action,
  type Context,
  type ExitHolder,
  positiveInt,
  positiveInts,
  withConnection,
} from "../command";
import { duration, json, keyValues, orDash, shortTime, table, truncate } from "../format";
import { Exit, type Io } from "../io";
import { actionResult, type Task } from "../types";

export function taskRow(task: Task): string[] {
  const took =
    task.startedAt && task.finishedAt
      ? duration(Date.parse(task.finishedAt) - Date.parse(task.startedAt))
      : "-";
  return [
    String(task.id),
    truncate(task.name, 32),
    task.status,
    orDash(task.agent),
    orDash(task.lane),
    shortTime(task.createdAt),
    took,
  ];
}

export const TASK_HEADERS = ["ID", "NAME", "STATUS", "AGENT", "LANE", "CREATED (UTC)", "TOOK"];

/** Where an action's command text is, for the human view. */
function actionText(params: Record<string, unknown> | undefined): string {
  if (!params) return "";
  if (typeof params.command === "string") return params.command;
  return JSON.stringify(params);
}

const TAIL_LINES = 10;

function tailOf(text: string): string[] {
  const lines = text.replace(/\n$/, "").split("\n");
  return lines.length > TAIL_LINES ? ["…", ...lines.slice(-TAIL_LINES)] : lines;
}

export function describeTask(task: Task): string {
  const pairs: [string, string][] = [
    ["id", String(task.id)],
    ["name", task.name],
    ["state", task.state],
    ["outcome", orDash(task.outcome)],
    ["agent", orDash(task.agent)],
    ["lane", orDash(task.lane)],
    ["priority", String(task.priority)],
    ["attempt", String(task.attempt)],
    ["created", shortTime(task.createdAt)],
    ["started", shortTime(task.startedAt)],
    ["finished", shortTime(task.finishedAt)],
  ];
  if (task.error) pairs.push(["error", task.error]);
  if (task.timeoutReason) pairs.push(["timeout", task.timeoutReason]);
  pairs.push(["accepts", task.accepts.length > 0 ? task.accepts.join(", ") : "-"]);
  let text = keyValues(pairs);
  text += "actions\n";
  task.actions.forEach((act, i) => {
    const result = actionResult(task.results[i]);
    const state =
      result === null
        ? i === task.currentActionIdx && !task.finishedAt
          ? "running"
          : "-"
        : result.ok
          ? "ok"
          : `failed${result.exitCode !== undefined ? ` (exit ${result.exitCode})` : result.message ? ` (${result.message})` : ""}`;
    text += `  ${i}  ${act.type}  ${truncate(actionText(act.params), 60)}  ${state}\n`;
    for (const stream of ["stdout", "stderr"] as const) {
      const output = result?.[stream];
      if (!output) continue;
      text += `     ${stream}:\n`;
      for (const line of tailOf(output)) text += `       ${line}\n`;
    }
  });
  return text;
}

export function tasksCommand(io: Io, exit: ExitHolder): Command {
  const tasks = new Command("tasks").description("list, show and command tasks (native API)");

  withConnection(
    tasks
      .command("list")
      .description("list tasks, newest first (GET /tasks)")
      .option("--status <list>", "only these statuses, comma-separated (e.g. running,failed)")
      .option("--lane <name>", "only tasks in this lane")
      .option("--before <id>", "only tasks older than this id (paging)", positiveInt("--before"))
      .option("--limit <n>", "at most this many", positiveInt("--limit")),
  ).action(
    action(io, exit, async (ctx, options) => {
      const query = new URLSearchParams();
      for (const name of ["status", "lane", "before", "limit"]) {
        if (options[name] !== undefined) query.set(name, String(options[name]));
      }
      const qs = query.toString();
      const list = await ctx.api.call<Task[]>("GET", `/tasks${qs ? `?${qs}` : ""}`);
      if (ctx.json) ctx.out(json(list));
      else if (list.length === 0) ctx.out("no tasks\n");
      else ctx.out(table(TASK_HEADERS, list.map(taskRow)));
      return Exit.Ok;
    }),
  );

  withConnection(
    tasks
      .command("get")
      .description("show a task: state, actions, the tail of their output (GET /tasks/:id)")
      .argument("<id>", "the task id", positiveInt("the task id")),
  ).action(
    action(io, exit, async (ctx, _options, id: number) => {
      const task = await ctx.api.call<Task>("GET", `/tasks/${id}`);
      ctx.out(ctx.json ? json(task) : describeTask(task));
      return Exit.Ok;
    }),
  );

  const run =
    (name: "cancel" | "pause" | "resume", body: (options: Record<string, unknown>) => unknown) =>
    async (ctx: Context, options: Record<string, unknown>, ids: number[]) => {
      const answers: Task[] = [];
      let code: number = Exit.Ok;
      for (const id of ids) {
        try {
          const task = await ctx.api.call<Task>("POST", `/tasks/${id}/${name}`, body(options));
          answers.push(task);
          if (!ctx.json) {
            const accepts = task.accepts.length > 0 ? task.accepts.join(", ") : "nothing";
            ctx.out(`task ${task.id}  ${task.state}  (accepts: ${accepts})\n`);
          }
        } catch (error) {
          // One refusal does not stop the others; the exit code says something failed.
          if (!(error instanceof ApiError) || ids.length === 1) throw error;
          ctx.err(`fleetwork: ${error.message}\n`);
          code = Exit.ApiError;
        }
      }
      if (ctx.json) ctx.out(json(ids.length === 1 ? answers[0] : answers));
      return code;
    };

  const commandOn = (
    name: "cancel" | "pause" | "resume",
    description: string,
    body: (options: Record<string, unknown>) => unknown,
    extra: (command: Command) => Command = (command) => command,
  ) =>
    withConnection(
      extra(
        tasks
          .command(name)
          .description(description)
          .argument("<ids...>", "one or more task ids", positiveInts("a task id")),
      ),
    ).action(action(io, exit, run(name, body)));

  commandOn(
    "cancel",
    "cancel tasks: a running attempt gets SIGTERM (SIGKILL 5 s later); no later action starts",
    () => undefined,
  );
  commandOn(
    "pause",
    "pause tasks: SIGSTOP the running process group (or --after-action)",
    (options) => (options.afterAction ? { mode: "afterAction" } : undefined),
    (command) =>
      command.addOption(
        new Option("--after-action", "let the running action finish, then hold the task"),
      ),
  );
  commandOn(
    "resume",
    "resume paused tasks: SIGCONT, or let the next action start",
    () => undefined,
  );

  return tasks;
}
