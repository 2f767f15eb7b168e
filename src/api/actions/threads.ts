/**
 * PAUSE and RESUME of threads (seed-spec 3.12–3.13). A thread is the engine's lane,
 * kept per tenant: one client's thread "x" is not another's. A name never used
 * before is fine; it is stored as paused.
 */
import type { EngineCommands } from "../../runtime/commands";

type LaneCommands = Pick<EngineCommands, "pauseLane" | "resumeLane">;

/** The running task is not affected; queued ones wait until the thread resumes. */
export async function pauseThreads(
  engine: LaneCommands,
  tenant: string,
  threads: readonly string[],
): Promise<void> {
  for (const thread of threads) await engine.pauseLane(tenant, thread);
}

/**
 * Unpauses. With `continueLocked`, a paused task still holding the thread is resumed
 * too; without it, that task keeps the thread locked (3.13).
 */
export async function resumeThreads(
  engine: LaneCommands,
  tenant: string,
  threads: readonly string[],
  continueLocked: boolean,
): Promise<void> {
  for (const thread of threads) await engine.resumeLane(tenant, thread, continueLocked);
}
