/** The final states of a task, as stored and as published in events. */
export const FINAL_TASK_STATES = ["done", "failed", "cancelled", "timedOut"] as const;
export type FinalTaskState = (typeof FINAL_TASK_STATES)[number];
