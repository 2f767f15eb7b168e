/**
 * `fleetwork tail <pattern>`: follows the engine's events (GET /events?subject=, SSE)
 * and, with `--output`, the live output of the task the pattern names
 * (GET /tasks/{id}/output, SSE). Both reconnect with Last-Event-ID.
 */
import { Command, InvalidArgumentError } from "commander";
import { action, type Context, type ExitHolder, positiveInt, withConnection } from "../command";
import { clockTime, truncate } from "../format";
import { Exit, type Io, interruptedCode } from "../io";
import { followSse, type SseEvent } from "../sse";
import { FINAL_STATUSES } from "../types";

/** What the engine's subjects start with; a pattern may leave it out. */
const EVENTS_PREFIX = "fw.events.";

/** `task.>` → `fw.events.task.>`; a full subject pattern stays as it is. */
export function subjectPattern(pattern: string): string {
  return pattern.startsWith(EVENTS_PREFIX) ? pattern : `${EVENTS_PREFIX}${pattern}`;
}

/** The task id a pattern names: `task.12`, `task.12.>`, `fw.events.task.12.*`. */
export function taskIdOf(pattern: string): number | null {
  const match = /^task\.([1-9]\d*)(?:\.|$)/.exec(
    subjectPattern(pattern).slice(EVENTS_PREFIX.length),
  );
  return match ? Number(match[1]) : null;
}

function nonNegativeInt(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError("must be a whole number.");
  return Number(value);
}

/** After the output's end, how long to wait for the task's final event. */
const END_GRACE_MS = 2_000;

interface EventData {
  readonly seq?: number;
  readonly kind?: string;
  readonly id?: string | number;
  readonly event?: string;
  readonly state?: string;
  readonly at?: number | string;
  readonly data?: unknown;
}

function parse(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

export function eventLine(sse: SseEvent): string {
  const value = parse(sse.data);
  if (value === null || typeof value !== "object") return `${sse.event}  ${sse.data}\n`;
  const e = value as EventData;
  const what = e.kind !== undefined ? `${e.kind} ${e.id ?? ""}`.trim() : sse.event;
  const data =
    e.data === undefined ||
    e.data === null ||
    (typeof e.data === "object" && !Object.keys(e.data).length)
      ? ""
      : `  ${truncate(JSON.stringify(e.data), 120)}`;
  return `${clockTime(e.at)}  ${what}  ${e.event ?? sse.event}  ${e.state ?? ""}${data}`
    .replace(/\s+$/, "")
    .concat("\n");
}

/** Line-buffers output chunks per stream and prefixes each line with the task. */
class OutputPrinter {
  private partial = { stdout: "", stderr: "" };

  constructor(
    private readonly ctx: Context,
    private readonly taskId: number,
  ) {}

  chunk(sse: SseEvent): void {
    if (this.ctx.json) {
      this.ctx.out(`${JSON.stringify(parse(sse.data))}\n`);
      return;
    }
    const value = parse(sse.data);
    let stream: "stdout" | "stderr" = sse.event === "stderr" ? "stderr" : "stdout";
    let text = typeof value === "string" ? value : sse.data;
    if (value && typeof value === "object") {
      const v = value as { stream?: unknown; chunk?: unknown; data?: unknown; text?: unknown };
      if (v.stream === "stderr" || v.stream === "stdout") stream = v.stream;
      const body = v.chunk ?? v.data ?? v.text;
      if (typeof body === "string") text = body;
    }
    const lines = (this.partial[stream] + text).split("\n");
    this.partial[stream] = lines.pop() ?? "";
    this.write(stream, lines);
  }

  flush(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      if (this.partial[stream]) this.write(stream, [this.partial[stream]]);
      this.partial[stream] = "";
    }
  }

  private write(stream: "stdout" | "stderr", lines: string[]): void {
    if (lines.length === 0) return;
    const out = stream === "stdout" ? this.ctx.out : this.ctx.err;
    out(lines.map((line) => `[task ${this.taskId} ${stream}] ${line}\n`).join(""));
  }
}

export function tailCommand(io: Io, exit: ExitHolder): Command {
  return withConnection(
    new Command("tail")
      .description("follow the engine's events (and a task's live output) until interrupted")
      .argument("<pattern>", "the events to follow: 'task.>', 'task.12.>', 'agent.*.*', ...")
      .option(
        "--output",
        "also follow the live output of the task the pattern names (task.<id>...); ends with the task",
      )
      .option("--since <seq>", "first replay the stored events after this seq", nonNegativeInt)
      .option("--count <n>", "stop after this many events", positiveInt("--count")),
    "print each event's (and output chunk's) JSON as the API sends it, one a line",
  )
    .addHelpText(
      "after",
      `
The pattern is a subject pattern over <kind>.<id>.<event> (kinds: task, lane, batch, job,
schedule, agent; '*' is one token, '>' the rest); the engine's fw.events. prefix may be
left out. Reads GET /events?subject= (Server-Sent Events) and, with --output,
GET /tasks/{id}/output. Human output is a line per event (time, entity, event, state,
data) and the task's output a line at a time ([task <id> stdout] ...); --json prints the
API's JSON of each, one a line. A dropped connection is resumed with Last-Event-ID.

Examples:
  fleetwork tail 'task.>'
  fleetwork tail 'task.12.>' --output`,
    )
    .action(
      action(io, exit, async (ctx, options, pattern: string) => {
        const taskId = taskIdOf(pattern);
        if (options.output && taskId === null) {
          ctx.err("fleetwork: --output needs a pattern that names a task: task.<id>...\n");
          return Exit.Usage;
        }
        const stopper = new AbortController();
        const stop = () => stopper.abort();
        ctx.io.signal.addEventListener("abort", stop, { once: true });
        const headers = ctx.api.headers();
        const { url } = ctx.api.connection;
        const limit = options.count as number | undefined;
        let seen = 0;
        // With --output, the tail ends with the task: its output's end and its final event.
        let outputEnded = false;
        let finalSeen = false;
        let grace: ReturnType<typeof setTimeout> | undefined;
        const reconnecting = (what: string) => (reason: string, delayMs: number) => {
          if (!ctx.json) ctx.err(`fleetwork: ${what}: ${reason}; reconnecting in ${delayMs} ms\n`);
        };
        const events = followSse({
          io: ctx.io,
          url: `${url}/events?subject=${encodeURIComponent(subjectPattern(pattern))}`,
          headers,
          signal: stopper.signal,
          lastEventId: options.since === undefined ? undefined : String(options.since),
          onReconnect: reconnecting("events"),
          onEvent: (sse) => {
            ctx.out(ctx.json ? `${JSON.stringify(parse(sse.data))}\n` : eventLine(sse));
            seen++;
            const e = parse(sse.data) as EventData | null;
            if (
              options.output &&
              e?.kind === "task" &&
              String(e.id) === String(taskId) &&
              FINAL_STATUSES.has(e.state ?? "")
            ) {
              finalSeen = true;
            }
            if ((limit !== undefined && seen >= limit) || (finalSeen && outputEnded)) {
              stop();
              return "stop";
            }
            return undefined;
          },
        });
        const followers = [events];
        let printer: OutputPrinter | null = null;
        if (options.output && taskId !== null) {
          const out = new OutputPrinter(ctx, taskId);
          printer = out;
          followers.push(
            followSse({
              io: ctx.io,
              url: `${url}/tasks/${taskId}/output`,
              headers,
              signal: stopper.signal,
              onReconnect: reconnecting("output"),
              onEvent: (sse) => {
                if (sse.event !== "end") {
                  out.chunk(sse);
                  return undefined;
                }
                out.flush();
                if (ctx.json) ctx.out(`${JSON.stringify(parse(sse.data))}\n`);
                outputEnded = true;
                if (finalSeen) stop();
                else grace = setTimeout(stop, END_GRACE_MS);
                return "stop";
              },
            }),
          );
        }
        try {
          // The first failure (an unreachable API, a refused key) ends both.
          await Promise.all(
            followers.map((follower) =>
              follower.catch((error: unknown) => {
                stop();
                throw error;
              }),
            ),
          );
        } finally {
          clearTimeout(grace);
          printer?.flush();
          ctx.io.signal.removeEventListener("abort", stop);
        }
        if (ctx.io.signal.aborted) return interruptedCode(ctx.io);
        return Exit.Ok;
      }),
    );
}
