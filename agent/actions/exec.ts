/**
 * `exec`: `sh -c <command>` in its own process group, so pause, resume and cancel
 * reach every process it starts. Output streams live and a bounded tail of each
 * stream is kept with the result. The command finds its attempt in `FW_TASK_ID` and
 * `FW_EXEC_ID` (`<task>-<action index>-<attempt>`).
 */
import { spawn } from "node:child_process";
import { Type as T } from "@sinclair/typebox";
import type { ActionOutcome } from "../../src/protocol";
import type { ActionHandler } from "./action";

const ExecParams = T.Object(
  {
    command: T.String({ minLength: 1, description: "shell command, run with sh -c" }),
    cwd: T.Optional(T.String({ minLength: 1 })),
    env: T.Optional(T.Record(T.String(), T.String())),
    /** Seconds; the smaller of this and the task's execution limit applies. */
    timeout: T.Optional(T.Number({ exclusiveMinimum: 0 })),
  },
  { additionalProperties: false },
);

/** How much of each stream is kept with the result. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;
/** Between SIGTERM and SIGKILL when an attempt is cancelled or times out. */
const KILL_GRACE_MS = 5_000;

class Tail {
  private text = "";
  append(chunk: string) {
    this.text += chunk;
    if (this.text.length > OUTPUT_TAIL_BYTES * 2) this.text = this.text.slice(-OUTPUT_TAIL_BYTES);
  }
  toString() {
    return this.text.length > OUTPUT_TAIL_BYTES ? this.text.slice(-OUTPUT_TAIL_BYTES) : this.text;
  }
}

export const execAction: ActionHandler<typeof ExecParams> = {
  type: "exec",
  params: ExecParams,
  start({ execId, taskId, params, timeoutMs, output }) {
    const child = spawn("sh", ["-c", params.command], {
      cwd: params.cwd,
      // The attempt's identity, last so params.env cannot fake it: a command can key
      // its own side effects on FW_EXEC_ID to make a repeated attempt harmless.
      env: { ...process.env, ...params.env, FW_TASK_ID: String(taskId), FW_EXEC_ID: execId },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stdout = new Tail();
    const stderr = new Tail();
    let stopReason: string | null = null;
    let killTimer: ReturnType<typeof setTimeout> | undefined;

    const signal = (name: NodeJS.Signals) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, name);
      } catch {
        // The group is already gone.
      }
    };
    const stop = (reason: string) => {
      if (stopReason !== null) return;
      stopReason = reason;
      signal("SIGCONT");
      signal("SIGTERM");
      killTimer = setTimeout(() => signal("SIGKILL"), KILL_GRACE_MS);
    };

    const limits = [timeoutMs, (params.timeout ?? 0) * 1000].filter((ms) => ms > 0);
    const limit = limits.length > 0 ? Math.min(...limits) : 0;
    const limitTimer =
      limit > 0 ? setTimeout(() => stop(`timed out after ${limit} ms`), limit) : undefined;

    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout.append(chunk);
      output("stdout", chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr.append(chunk);
      output("stderr", chunk);
    });

    const done = new Promise<ActionOutcome>((resolve) => {
      child.on("error", (error) => {
        clearTimeout(limitTimer);
        resolve({ ok: false, message: `cannot start sh: ${error.message}` });
      });
      child.on("close", (code, signalName) => {
        clearTimeout(limitTimer);
        clearTimeout(killTimer);
        const ok = code === 0 && stopReason === null;
        const message =
          stopReason ??
          (code === 0 ? undefined : signalName ? `killed by ${signalName}` : `exit code ${code}`);
        resolve({
          ok,
          exitCode: code ?? undefined,
          stdout: stdout.toString(),
          stderr: stderr.toString(),
          message,
        });
      });
    });

    return {
      done,
      pid: child.pid,
      pause: () => signal("SIGSTOP"),
      resume: () => signal("SIGCONT"),
      cancel: () => stop("cancelled"),
    };
  },
};
