import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start real servers and child processes; give them room,
    // but never so much that a hang hides for long.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
