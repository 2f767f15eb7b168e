import { describe, expect, it } from "vitest";
import { execAction } from "../../../agent/actions/exec";

describe("an exec'd command knows its attempt", () => {
  it("finds FW_TASK_ID and FW_EXEC_ID in its environment, which params.env cannot fake", async () => {
    const running = execAction.start({
      execId: "42-1-3",
      taskId: 42,
      params: {
        command: 'printf "%s %s %s" "$FW_TASK_ID" "$FW_EXEC_ID" "$OWN"',
        env: { FW_EXEC_ID: "forged", OWN: "kept" },
      },
      timeoutMs: 0,
      output: () => {},
    });
    const outcome = await running.done;
    expect(outcome).toMatchObject({ ok: true, stdout: "42 42-1-3 kept" });
  });
});
