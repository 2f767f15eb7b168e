/** `noop`: succeeds at once. For benchmarks and smoke tests of the pipeline. */
import { Type as T } from "@sinclair/typebox";
import type { ActionHandler } from "./action";

const NoopParams = T.Object({}, { additionalProperties: true });

export const noopAction: ActionHandler<typeof NoopParams> = {
  type: "noop",
  params: NoopParams,
  start: () => ({ done: Promise.resolve({ ok: true }), cancel: () => {} }),
};
