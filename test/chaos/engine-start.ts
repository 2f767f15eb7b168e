/**
 * One start of the engine under test, followed from its spawn: the harness may kill
 * it while it still starts (restoring its state, reconciling with agents) as well as
 * once it serves.
 */
import type { ChildProcess } from "node:child_process";
import { type ServerProcess, startServerProcess } from "../helpers/server-process";

export class EngineStart {
  readonly spawnedAt = performance.now();
  /** The server once it answers; undefined when it died first. */
  readonly ready: Promise<ServerProcess | undefined>;
  private child: ChildProcess | undefined;
  private server: ServerProcess | undefined;
  private failure = "";
  /** Spawn to answering HTTP, once it does. */
  readyAfterMs: number | undefined;

  constructor(options: Parameters<typeof startServerProcess>[0]) {
    this.ready = startServerProcess({
      ...options,
      onSpawn: (child) => {
        this.child = child;
      },
    }).then(
      (server) => {
        this.server = server;
        this.readyAfterMs = Math.round(performance.now() - this.spawnedAt);
        return server;
      },
      (error: unknown) => {
        // Killed while starting, or it could not start: the message holds its output.
        this.failure = error instanceof Error ? error.message : String(error);
        return undefined;
      },
    );
  }

  get isReady(): boolean {
    return this.server !== undefined;
  }

  /** True when the process ended without the harness killing it. */
  get exitedByItself(): boolean {
    const child = this.child;
    return child !== undefined && (child.exitCode !== null || child.signalCode !== null);
  }

  /** SIGKILL, then waits until the process is gone and its start has settled. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
    await this.ready;
  }

  /** What it printed (or, if it never got ready, why). */
  output(): string {
    return this.server?.output() ?? this.failure;
  }
}
