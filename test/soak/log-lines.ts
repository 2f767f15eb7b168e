/**
 * Counts what a child process logs, by pino level, as its output streams by: the soak
 * asserts that nothing at error level or above was written, so it must see every line
 * without keeping them all (a ten-minute run at info level would be tens of MB).
 */
import type { Readable } from "node:stream";

/** pino's numeric levels: 40 warn, 50 error, 60 fatal. */
const WARN = 40;
const ERROR = 50;
/** How many offending lines are kept to show in the report. */
const KEPT_SAMPLES = 5;

export interface LogLineCounts {
  readonly lines: number;
  readonly warn: number;
  /** Lines at level >= 50 (error, fatal). */
  readonly error: number;
  /**
   * Lines that are not pino JSON: an uncaught exception's stack or a runtime's own
   * complaint bypasses the logger, so these count as errors too.
   */
  readonly unstructured: number;
  /** The first few error and unstructured lines, for whoever reads the report. */
  readonly samples: readonly string[];
}

export class LogLineCounter {
  private lines = 0;
  private warn = 0;
  private error = 0;
  private unstructured = 0;
  private readonly samples: string[] = [];

  /** Reads `stream` to its end; several streams (stdout and stderr) may share one counter. */
  follow(stream: Readable | null | undefined): void {
    if (!stream) throw new Error("the process's output is not piped; nothing to count");
    // Each stream needs its own partial line, or interleaved chunks would mix lines.
    let partial = "";
    stream.on("data", (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const end = text.lastIndexOf("\n");
      if (end === -1) {
        partial = text;
        return;
      }
      partial = text.slice(end + 1);
      for (const line of text.slice(0, end).split("\n")) this.count(line);
    });
    stream.on("end", () => {
      if (partial !== "") this.count(partial);
      partial = "";
    });
  }

  /** Classifies one line. */
  count(line: string): void {
    if (line.trim() === "") return;
    this.lines++;
    const level = pinoLevel(line);
    if (level === undefined) {
      this.unstructured++;
      this.keep(line);
    } else if (level >= ERROR) {
      this.error++;
      this.keep(line);
    } else if (level >= WARN) {
      this.warn++;
    }
  }

  counts(): LogLineCounts {
    return {
      lines: this.lines,
      warn: this.warn,
      error: this.error,
      unstructured: this.unstructured,
      samples: [...this.samples],
    };
  }

  private keep(line: string): void {
    if (this.samples.length < KEPT_SAMPLES) this.samples.push(line.slice(0, 500));
  }
}

function pinoLevel(line: string): number | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === "object" && parsed !== null && "level" in parsed) {
      const { level } = parsed as { level: unknown };
      if (typeof level === "number") return level;
    }
  } catch {
    // Not JSON: the caller counts it as unstructured.
  }
  return undefined;
}
