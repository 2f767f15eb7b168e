/**
 * What an action handler is: a type name, a TypeBox schema for its params, and a
 * `start` that begins one attempt and returns a handle to steer it.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import type { ActionOutcome } from "../../src/protocol";

export interface ActionContext<P> {
  readonly execId: string;
  readonly taskId: number;
  readonly params: P;
  /** The engine's execution limit for the attempt; 0 = none. */
  readonly timeoutMs: number;
  /** Live output, published as it comes. */
  output(stream: "stdout" | "stderr", chunk: string): void;
}

export interface RunningAction {
  readonly done: Promise<ActionOutcome>;
  /** The process group leader, when the action runs processes. */
  readonly pid?: number;
  /** Freeze the attempt where it is; absent when the action cannot be paused. */
  pause?(): void;
  resume?(): void;
  /** Stop the attempt; `done` then resolves with a failed outcome. */
  cancel(): void;
}

export interface ActionHandler<S extends TSchema = TSchema> {
  readonly type: string;
  readonly params: S;
  start(context: ActionContext<Static<S>>): RunningAction;
}
