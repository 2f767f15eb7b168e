/**
 * `fleetwork batch watch <id>`: a host task batch's progress until it finishes.
 * The native API has no batch route, so this reads the host task API
 * (`GET /v3/applicationInstance/taskBatch/{id}`, key in PRIVATE-TOKEN).
 */
import { Command } from "commander";
import { action, type Context, type ExitHolder, positiveInt, withConnection } from "../command";
import { Exit, type Io, interruptedCode } from "../io";
import { ProgressRenderer, type TaskBatchStatus } from "../progress";

const DEFAULT_INTERVAL_MS = 500;

async function readBatch(ctx: Context, id: number): Promise<TaskBatchStatus> {
  // The host task API answers arrays, even for one batch.
  const answer = await ctx.api.call<TaskBatchStatus[] | TaskBatchStatus>(
    "GET",
    `/v3/applicationInstance/taskBatch/${id}`,
    undefined,
    "private-token",
  );
  return (Array.isArray(answer) ? answer[0] : answer) as TaskBatchStatus;
}

/** Polls and renders until the batch finishes or the user stops the watch. */
export async function watchBatch(
  ctx: Context,
  id: number,
  intervalMs: number,
  renderer: ProgressRenderer,
): Promise<number> {
  for (;;) {
    const batch = await readBatch(ctx, id);
    const text = renderer.render(batch, ctx.io.now());
    if (text) ctx.out(text);
    const ended = batch.numTasksOk + batch.numTasksFailed + batch.numTasksCancelled;
    if (batch.finishedAt !== 0 || ended >= batch.numTasks) {
      return batch.numTasksOk === batch.numTasks ? Exit.Ok : Exit.BatchNotOk;
    }
    await ctx.io.sleep(intervalMs, ctx.io.signal);
    if (ctx.io.signal.aborted) {
      ctx.out(renderer.end());
      return interruptedCode(ctx.io);
    }
  }
}

export function batchCommand(io: Io, exit: ExitHolder): Command {
  const batch = new Command("batch").description(
    "host task batches (i3D API: /v3/applicationInstance/taskBatch)",
  );
  withConnection(
    batch
      .command("watch")
      .description("show a batch's progress until it finishes: done/failed/cancelled, rate, ETA")
      .argument(
        "<id>",
        "the batch id (taskBatchId of the host task API)",
        positiveInt("the batch id"),
      )
      .option(
        "--interval <ms>",
        `how often to ask (default ${DEFAULT_INTERVAL_MS})`,
        positiveInt("--interval"),
      ),
    "print JSON lines: the API's batch plus rate and etaSeconds, one a change",
  )
    .addHelpText(
      "after",
      `
Reads GET /v3/applicationInstance/taskBatch/{id} of the host task API (the native API has
no batch route), sending the key as PRIVATE-TOKEN. On a terminal the bar is redrawn in
place (= done, x failed, - cancelled); elsewhere one line per change; --json prints the
batch as the API gives it plus "rate" (tasks/s) and "etaSeconds", one JSON line per change.

Exit code: 0 when every task is done, 3 when the batch ended with failed, timed-out or
cancelled tasks, 1 on an API error (an unknown batch, say).`,
    )
    .action(
      action(io, exit, async (ctx, options, id: number) => {
        const mode = ctx.json ? "json" : ctx.io.isTTY ? "tty" : "lines";
        const colour = ctx.io.isTTY && !ctx.io.env.NO_COLOR;
        const renderer = new ProgressRenderer(mode, { colour, columns: ctx.io.columns });
        return watchBatch(
          ctx,
          id,
          (options.interval as number | undefined) ?? DEFAULT_INTERVAL_MS,
          renderer,
        );
      }),
    );
  return batch;
}
