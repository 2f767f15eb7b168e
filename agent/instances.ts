/**
 * The application instances this host runs, and their processes.
 *
 * An instance lives in its configured directory: `current` is a symlink to the deployed
 * build, `logs/instance.log` collects its output and `instance.pid` names its process
 * group. The pid file outlives the agent, so an agent that restarts still knows which
 * instances are running and can stop them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { mkdir, open, readlink, rename, rm, stat, symlink } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { ConfigError, ErrorCode, FleetworkError, NotFoundError } from "../src/errors";

export interface InstanceConfig {
  id: string;
  /** Holds `current`, `logs/` and the pid file; created when first needed. */
  directory: string;
  start: {
    /** Run with `sh -c` in `<directory>/current`. */
    command: string;
    /** Added to the agent's environment. */
    env?: Record<string, string>;
  };
  labels?: Record<string, string>;
  fleetId?: number;
  regionId?: number;
}

export const StopMethod = { Graceful: "graceful", Hard: "hard" } as const;
export type StopMethod = (typeof StopMethod)[keyof typeof StopMethod];

/** Called when an instance this agent started exits without being asked to. */
export type InstanceExitListener = (
  instanceId: string,
  code: number | null,
  signal: NodeJS.Signals | null,
) => void;

export interface InstancePaths {
  readonly directory: string;
  readonly current: string;
  readonly log: string;
  readonly pid: string;
}

export interface InstanceExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export type StartResult =
  | { readonly alreadyRunning: true; readonly pid: number }
  | {
      readonly alreadyRunning: false;
      readonly pid: number;
      /** Where this run's output begins in the log. */
      readonly logOffset: number;
      /** Settles when the process `sh -c` ran exits. */
      readonly exited: Promise<InstanceExit>;
    };

export interface StopResult {
  readonly wasRunning: boolean;
  readonly pid?: number;
  /** A graceful stop that ran out of time and ended with SIGKILL. */
  readonly escalated: boolean;
  /** The caller gave up waiting; the instance was left as it was. */
  readonly cancelled: boolean;
}

/** How often a stop checks whether the process group is gone (no event says so). */
const GONE_POLL_MS = 50;
/** How long a SIGKILLed group may take to disappear before the stop is reported failed. */
const KILL_WAIT_MS = 10_000;

export class InstanceError extends FleetworkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidInput, message, options);
  }
}

interface InstanceState {
  readonly config: InstanceConfig;
  readonly paths: InstancePaths;
  child?: ChildProcess;
  /** The pid this agent is stopping, so its exit is not reported as a crash. */
  stopping?: number;
}

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
}

/** A process's state letter and process group, from Linux's /proc; undefined elsewhere. */
function procStat(pid: number): { state: string; pgid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses; the fields after its last ")" do not.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", pgid: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

function liveIn(pgid: number, pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.pgid === pgid && stat.state !== "Z" && stat.state !== "X";
}

/**
 * Whether a process group still has a live process. Instances lead their own group, so
 * pid = pgid. The kernel answers for zombies too, and orphaned zombies wait for init to
 * reap them, which some inits (a container's own PID 1, say) do late or never; so on
 * Linux a group of zombies only counts as gone.
 */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    // EPERM: the group exists but is not ours to signal.
    return errnoCode(error) === "EPERM";
  }
  if (liveIn(pgid, pgid)) return true;
  let pids: string[];
  try {
    pids = readdirSync("/proc");
  } catch {
    return true;
  }
  return pids.some((name) => /^\d+$/.test(name) && liveIn(pgid, Number(name)));
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if (errnoCode(error) !== "ESRCH") throw error;
  }
}

function readPidFile(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export class Instances {
  private readonly states = new Map<string, InstanceState>();

  constructor(
    configs: readonly InstanceConfig[],
    private readonly onExit: InstanceExitListener = () => {},
  ) {
    for (const config of configs) {
      if (this.states.has(config.id))
        throw new ConfigError(`instance ${config.id} is configured twice`);
      if (config.start.command.trim() === "") {
        throw new ConfigError(`instance ${config.id} has an empty start command`);
      }
      const directory = resolve(config.directory);
      this.states.set(config.id, {
        config,
        paths: {
          directory,
          current: join(directory, "current"),
          log: join(directory, "logs", "instance.log"),
          pid: join(directory, "instance.pid"),
        },
      });
    }
  }

  ids(): string[] {
    return [...this.states.keys()];
  }

  /** @throws NotFoundError for an instance that is not configured. */
  get(id: string): InstanceConfig {
    return this.state(id).config;
  }

  paths(id: string): InstancePaths {
    return this.state(id).paths;
  }

  /**
   * The pid (= process group) of the running instance. A process this agent started
   * counts while alive; otherwise a pid file whose process group still exists, which is
   * how an instance started before an agent restart is found.
   */
  pid(id: string): number | undefined {
    const state = this.state(id);
    const child = state.child;
    // Node learns of a child's exit a little after the kernel does: until its exit
    // event, ask the kernel whether the group is still there.
    if (
      child?.pid !== undefined &&
      child.exitCode === null &&
      child.signalCode === null &&
      groupAlive(child.pid)
    ) {
      return child.pid;
    }
    const pid = readPidFile(state.paths.pid);
    return pid !== undefined && groupAlive(pid) ? pid : undefined;
  }

  isRunning(id: string): boolean {
    return this.pid(id) !== undefined;
  }

  /** The build `current` points at, or undefined when nothing is deployed. */
  async deployedBuild(id: string): Promise<string | undefined> {
    try {
      return basename(await readlink(this.state(id).paths.current));
    } catch (error) {
      // EINVAL: `current` is there but not a symlink, so not a deployment of ours.
      const code = errnoCode(error);
      if (code === "ENOENT" || code === "EINVAL") return undefined;
      throw error;
    }
  }

  /**
   * Points `current` at `buildDir`. The new link is made under a temporary name and
   * renamed over `current`, so `current` is always one build or the other.
   */
  async deploy(id: string, buildDir: string): Promise<void> {
    const { paths } = this.state(id);
    await mkdir(paths.directory, { recursive: true });
    const temp = join(paths.directory, `.current.${randomBytes(6).toString("hex")}`);
    await symlink(buildDir, temp, "dir");
    try {
      await rename(temp, paths.current);
    } catch (error) {
      await rm(temp, { force: true });
      const why = error instanceof Error ? error.message : String(error);
      throw new InstanceError(`cannot replace ${paths.current}: ${why}`, { cause: error });
    }
  }

  /**
   * Starts the instance unless it is running: `sh -c <command>` in `current`, detached
   * in its own process group (so a stop reaches everything it starts, and it outlives
   * the agent), output appended to the log, pid written to the pid file.
   */
  async start(id: string): Promise<StartResult> {
    const state = this.state(id);
    const running = this.pid(id);
    if (running !== undefined) return { alreadyRunning: true, pid: running };
    const { paths, config } = state;
    const build = await this.deployedBuild(id);
    if (build === undefined) throw new InstanceError(`instance ${id} has no deployed build`);
    try {
      if (!(await stat(paths.current)).isDirectory()) throw new Error("not a directory");
    } catch (error) {
      throw new InstanceError(`instance ${id}: deployed build ${build} is missing`, {
        cause: error,
      });
    }
    await mkdir(join(paths.directory, "logs"), { recursive: true });

    const logFd = openSync(paths.log, "a");
    let child: ChildProcess;
    let logOffset: number;
    try {
      logOffset = fstatSync(logFd).size;
      child = spawn("sh", ["-c", config.start.command], {
        cwd: paths.current,
        // As the exec action does: the instance gets the agent's environment plus its own.
        env: { ...process.env, ...config.start.env },
        detached: true,
        stdio: ["ignore", logFd, logFd],
      });
    } finally {
      // The child holds its own copy of the descriptor.
      closeSync(logFd);
    }
    const exited = new Promise<InstanceExit>((settle) => {
      child.once("exit", (code, signal) => settle({ code, signal }));
    });
    await new Promise<void>((ready, fail) => {
      child.once("spawn", ready);
      child.once("error", (error) =>
        fail(new InstanceError(`cannot start ${id}: ${error.message}`)),
      );
    });
    const pid = child.pid;
    if (pid === undefined) throw new InstanceError(`cannot start ${id}: no pid`);
    state.child = child;
    state.stopping = undefined;
    // Synchronous, so the exit handler below can never run before the file exists.
    const temp = `${paths.pid}.${pid}.tmp`;
    writeFileSync(temp, `${pid}\n`);
    renameSync(temp, paths.pid);
    // The agent must be able to exit while its instances keep running.
    child.unref();
    void exited.then(({ code, signal }) => this.exitedOnItsOwn(id, state, pid, code, signal));
    return { alreadyRunning: false, pid, logOffset, exited };
  }

  /**
   * Stops the instance's process group. `graceful`: SIGTERM, then SIGKILL once
   * `timeoutSec` has passed; `hard`: SIGKILL at once. When `cancel` fires during the
   * graceful wait, gives up and leaves the instance as it is.
   */
  async stop(
    id: string,
    method: StopMethod,
    timeoutSec: number,
    cancel?: AbortSignal,
  ): Promise<StopResult> {
    const state = this.state(id);
    const pid = this.pid(id);
    if (pid === undefined) return { wasRunning: false, escalated: false, cancelled: false };
    state.stopping = pid;
    let escalated = false;
    if (method === StopMethod.Graceful) {
      signalGroup(pid, "SIGTERM");
      // A paused (SIGSTOPped) instance would otherwise never act on the SIGTERM.
      signalGroup(pid, "SIGCONT");
      const graceful = await this.waitGone(state, pid, timeoutSec * 1000, cancel);
      if (graceful === "cancelled") return { wasRunning: true, pid, escalated, cancelled: true };
      escalated = graceful === "timeout";
    }
    if (method === StopMethod.Hard || escalated) {
      signalGroup(pid, "SIGKILL");
      const killed = await this.waitGone(state, pid, KILL_WAIT_MS);
      if (killed !== "gone") {
        throw new InstanceError(`instance ${id} (pid ${pid}) is still alive after SIGKILL`);
      }
    }
    this.removePidFile(state, pid);
    return { wasRunning: true, pid, escalated, cancelled: false };
  }

  /** The end of the log from `fromOffset` on, at most `maxBytes`. */
  async logTail(id: string, fromOffset = 0, maxBytes = 4096): Promise<string> {
    let file: Awaited<ReturnType<typeof open>>;
    try {
      file = await open(this.state(id).paths.log, "r");
    } catch {
      return "";
    }
    try {
      const { size } = await file.stat();
      const start = Math.max(fromOffset, size - maxBytes);
      const length = Math.max(0, size - start);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, start);
      return buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await file.close();
    }
  }

  private state(id: string): InstanceState {
    const state = this.states.get(id);
    if (!state) throw new NotFoundError("instance", id);
    return state;
  }

  private exitedOnItsOwn(
    id: string,
    state: InstanceState,
    pid: number,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (state.child?.pid === pid) state.child = undefined;
    // Processes it started may still hold the group; the pid file then stays so a stop
    // can still reach them.
    if (!groupAlive(pid)) this.removePidFile(state, pid);
    if (state.stopping === pid) return;
    try {
      this.onExit(id, code, signal);
    } catch {
      // A listener's failure must not take the agent down.
    }
  }

  private removePidFile(state: InstanceState, pid: number): void {
    // Only our own: a later start may already have written its pid.
    if (readPidFile(state.paths.pid) === pid) rmSync(state.paths.pid, { force: true });
  }

  /**
   * Waits until the process group is gone. No event reports that for a group (nor for a
   * process another agent run started), so it is checked on a short interval, and at
   * once when our own child exits; bounded by `timeoutMs`.
   */
  private waitGone(
    state: InstanceState,
    pgid: number,
    timeoutMs: number,
    cancel?: AbortSignal,
  ): Promise<"gone" | "timeout" | "cancelled"> {
    return new Promise((settle) => {
      const child = state.child?.pid === pgid ? state.child : undefined;
      const check = () => {
        if (!groupAlive(pgid)) finish("gone");
      };
      const onCancel = () => finish("cancelled");
      const poll = setInterval(check, GONE_POLL_MS);
      const deadline = setTimeout(() => finish(groupAlive(pgid) ? "timeout" : "gone"), timeoutMs);
      function finish(result: "gone" | "timeout" | "cancelled") {
        clearInterval(poll);
        clearTimeout(deadline);
        cancel?.removeEventListener("abort", onCancel);
        child?.off("exit", check);
        settle(result);
      }
      child?.on("exit", check);
      if (cancel?.aborted) return finish("cancelled");
      cancel?.addEventListener("abort", onCancel, { once: true });
      check();
    });
  }
}
