/**
 * What a client command may touch of the world: its output streams, environment,
 * `fetch`, the clock and the signal that says the user wants it to stop. Tests give a
 * fake one; `runClient` builds the real one.
 */
export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stdout is a terminal (redrawn progress, colours). */
  readonly isTTY: boolean;
  /** The terminal's width, when stdout is one. */
  readonly columns?: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fetch: (input: string, init?: RequestInit) => Promise<Response>;
  readonly now: () => number;
  /** Resolves after `ms`, or at once when `signal` is aborted. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Aborted on SIGINT or SIGTERM while a command follows something. */
  readonly signal: AbortSignal;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Exit codes of the client commands. */
export const Exit = {
  Ok: 0,
  /** The API answered an error, or could not be reached. */
  ApiError: 1,
  /** Bad flags or arguments. */
  Usage: 2,
  /** `batch watch`: the batch ended with failed, timed-out or cancelled tasks. */
  BatchNotOk: 3,
  Interrupted: 130,
  Terminated: 143,
} as const;

/** A usage error found after parsing (bad combination of flags, say): exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The exit code of a command the user stopped: 130 for SIGINT, 143 for SIGTERM. */
export function interruptedCode(io: Io): number {
  return io.signal.reason === "SIGTERM" ? Exit.Terminated : Exit.Interrupted;
}
