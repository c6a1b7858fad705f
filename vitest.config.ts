import { defineConfig } from "vitest/config";

// Two projects:
//  - "unit": fast Node tests mirroring src/ (test/**/*.test.ts, browser tests excluded);
//  - "e2e":  browser tests in test/e2e/ that build/serve dist/ and drive Chromium (slow, one file at a time).
export default defineConfig({
  test: {
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
