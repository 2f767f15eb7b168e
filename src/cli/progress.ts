/**
 * The progress of a host task batch (`batch watch`): counts from the batch's
 * `TaskBatchStatus`, a rate over what this watch has seen finish, an ETA, and three
 * ways to show it: a bar redrawn in place on a terminal, one line per change
 * elsewhere, and JSON lines.
 *
 * Hand-written rather than cli-progress: the bar has three coloured segments (done,
 * failed, cancelled), a pipe gets a line per change and not per timer tick, and the
 * JSON mode needs the numbers, not a rendering.
 */
import { duration } from "./format";

/** The host task API's batch (`GET /v3/applicationInstance/taskBatch/{id}`). */
export interface TaskBatchStatus {
  readonly id: number;
  readonly createdAt: number;
  readonly executeAt: number;
  /** Unix seconds; 0 while the batch runs. */
  readonly finishedAt: number;
  readonly numTasks: number;
  readonly numTasksOk: number;
  readonly numTasksFailed: number;
  readonly numTasksCancelled: number;
  /** Task id → result code: 0 pending, 1 in progress, 2 paused, 124–127 final. */
  readonly taskIds: Readonly<Record<string, number>>;
}

export interface BatchCounts {
  readonly id: number;
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly running: number;
  readonly pending: number;
  readonly paused: number;
  readonly finished: boolean;
}

export function countBatch(batch: TaskBatchStatus): BatchCounts {
  let running = 0;
  let pending = 0;
  let paused = 0;
  for (const code of Object.values(batch.taskIds)) {
    if (code === 1) running++;
    else if (code === 2) paused++;
    else if (code === 0) pending++;
  }
  const done = batch.numTasksOk;
  const failed = batch.numTasksFailed;
  const cancelled = batch.numTasksCancelled;
  const total = batch.numTasks;
  return {
    id: batch.id,
    total,
    done,
    failed,
    cancelled,
    running,
    pending,
    paused,
    finished: batch.finishedAt !== 0 || done + failed + cancelled >= total,
  };
}

export interface Progress extends BatchCounts {
  /** Tasks finished a second, over this watch; null until one has finished. */
  readonly rate: number | null;
  /** Seconds left at that rate; null when unknown, 0 when finished. */
  readonly etaSeconds: number | null;
}

/** Keeps the first observation, so the rate is what this watch has seen. */
export class RateMeter {
  private first: { at: number; ended: number } | null = null;
  private lastChange: { at: number; ended: number } | null = null;

  measure(counts: BatchCounts, now: number): Progress {
    const ended = counts.done + counts.failed + counts.cancelled;
    if (this.first === null) this.first = { at: now, ended };
    if (this.lastChange === null || this.lastChange.ended !== ended) {
      this.lastChange = { at: now, ended };
    }
    const seen = ended - this.first.ended;
    // Up to the last change, so a long wait for one slow task does not read as 0/s.
    const elapsed = (this.lastChange.at - this.first.at) / 1000;
    const rate = seen > 0 && elapsed > 0 ? seen / elapsed : null;
    const left = counts.total - ended;
    const etaSeconds = counts.finished ? 0 : rate === null ? null : left / rate;
    return { ...counts, rate, etaSeconds };
  }
}

const COLOURS = { green: 32, red: 31, yellow: 33, dim: 2 } as const;
const paint = (on: boolean, colour: keyof typeof COLOURS, text: string) =>
  on && text ? `\u001b[${COLOURS[colour]}m${text}\u001b[0m` : text;

/** `[=====xx--      ]`: done, failed, cancelled, then what is left. */
export function bar(p: BatchCounts, width: number, colour: boolean): string {
  const total = Math.max(p.total, 1);
  const cells = (n: number) => Math.round((n / total) * width);
  const done = cells(p.done);
  const failed = Math.min(cells(p.failed), width - done);
  const cancelled = Math.min(cells(p.cancelled), width - done - failed);
  const rest = width - done - failed - cancelled;
  return `[${paint(colour, "green", "=".repeat(done))}${paint(colour, "red", "x".repeat(failed))}${paint(colour, "yellow", "-".repeat(cancelled))}${" ".repeat(rest)}]`;
}

function rateText(p: Progress): string {
  return p.rate === null ? "-/s" : `${p.rate >= 10 ? Math.round(p.rate) : p.rate.toFixed(1)}/s`;
}

function etaText(p: Progress): string {
  if (p.finished) return "finished";
  return p.etaSeconds === null ? "ETA -" : `ETA ${duration(p.etaSeconds * 1000)}`;
}

/** The numbers after the bar (or alone, on a pipe). */
export function summary(p: Progress, withActive = true): string {
  const ended = p.done + p.failed + p.cancelled;
  const active = [
    p.running > 0 ? `running ${p.running}` : "",
    p.paused > 0 ? `paused ${p.paused}` : "",
    p.pending > 0 ? `pending ${p.pending}` : "",
  ].filter(Boolean);
  return [
    `${ended}/${p.total}`,
    `done ${p.done}`,
    `failed ${p.failed}`,
    `cancelled ${p.cancelled}`,
    rateText(p),
    etaText(p),
    // Last: on a narrow terminal these go first.
    ...(withActive ? active : []),
  ].join("  ");
}

/** `5/10 =3 x1 -1 2.5/s ETA 2.0s`, for a narrow terminal. */
export function compactSummary(p: Progress): string {
  const ended = p.done + p.failed + p.cancelled;
  return `${ended}/${p.total} =${p.done} x${p.failed} -${p.cancelled} ${rateText(p)} ${etaText(p)}`;
}

export type ProgressMode = "tty" | "lines" | "json";

/**
 * Turns each observation into output: on a terminal, a carriage return and the
 * redrawn line every time (the rate and ETA move); on a pipe, a line when a count
 * changes; in JSON, the batch as the API gave it plus `rate` and `etaSeconds`, a
 * line when a count changes.
 */
export class ProgressRenderer {
  private meter = new RateMeter();
  private lastKey = "";
  private drawn = false;

  constructor(
    private readonly mode: ProgressMode,
    private readonly options: { width?: number; colour?: boolean; columns?: number } = {},
  ) {}

  render(batch: TaskBatchStatus, now: number): string {
    const progress = this.meter.measure(countBatch(batch), now);
    const key = JSON.stringify([
      progress.done,
      progress.failed,
      progress.cancelled,
      progress.running,
      progress.paused,
      progress.pending,
      progress.finished,
    ]);
    const changed = key !== this.lastKey;
    this.lastKey = key;
    if (this.mode === "json") {
      if (!changed) return "";
      return `${JSON.stringify({ ...batch, rate: progress.rate, etaSeconds: progress.etaSeconds })}\n`;
    }
    if (this.mode === "lines") {
      return changed ? `batch ${batch.id}  ${summary(progress)}\n` : "";
    }
    // One line that fits the terminal, or \r cannot redraw it: the bar gives way first.
    const columns = this.options.columns ?? 0;
    const prefix = `batch ${batch.id} `;
    let text = summary(progress);
    let width = this.options.width ?? 30;
    if (columns > 0) {
      const fits = (summaryText: string) => columns - 1 - prefix.length - summaryText.length - 3;
      // Too narrow: without the active counts; then the bar's symbols instead of words.
      if (fits(text) < 10) text = summary(progress, false);
      if (fits(text) < 10) text = compactSummary(progress);
      width = Math.max(10, Math.min(width, fits(text)));
      const left = columns - 1 - prefix.length - width - 3;
      if (text.length > left) text = text.slice(0, Math.max(0, left));
    }
    const line = `${prefix}${bar(progress, width, this.options.colour ?? false)} ${text}`;
    this.drawn = !progress.finished;
    // \r and "erase to end of line": the new line may be shorter than the old.
    return `\r${line}\u001b[K${progress.finished ? "\n" : ""}`;
  }

  /** What to print when the watch stops before the batch finished. */
  end(): string {
    return this.mode === "tty" && this.drawn ? "\n" : "";
  }
}
