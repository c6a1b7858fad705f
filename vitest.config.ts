import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

// Two projects:
//  - "unit": fast Node tests mirroring src/ (test/**/*.test.ts, browser tests excluded);
//  - "e2e":  browser tests in test/e2e/ that build/serve dist/ and drive Chromium (slow, one file at a time).
export default defineConfig({
  test: {
    // vitest's default is one worker fewer than the CPUs: one on the 2-core machines the project is tested on,
    // where two unit files at a time take 73 s instead of 113 s (the e2e files still run one at a time)
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/e2e/**", "**/node_modules/**"],
          environment: "node",
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
