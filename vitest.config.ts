import { defineConfig } from "vitest/config";

/**
 * Runs whose verdicts depend on having the machine to themselves: the soak measures its
 * own peak and then holds half of it, and the crash harness times its kills against a
 * steady load. They run after everything else, one at a time.
 */
const MEASURED = ["test/soak/soak.test.ts", "test/chaos/crash.test.ts"];

export default defineConfig({
  test: {
    // Integration tests start real servers and child processes; give them room,
    // but never so much that a hang hides for long.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: { name: "suite", include: ["test/**/*.test.ts"], exclude: MEASURED },
      },
      {
        extends: true,
        test: {
          name: "measured",
          include: MEASURED,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
