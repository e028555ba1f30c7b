import { defineConfig } from "vitest/config";

// Node-side tests: shared/ units, gpu-fn (model builder, pipeline, server), bridge, end-to-end stack, and the
// pages in a real browser (test/browser: Debian chromium via playwright-core, against the same stack).
export default defineConfig({
  test: {
    include: [
      "test/node/**/*.test.ts",
      "test/reliability/**/*.test.ts",
      "test/e2e/**/*.test.ts",
      "test/browser/**/*.test.ts",
    ],
    // test/reliability/*.edge.test.ts run in workerd (vitest.edge.config.ts).
    exclude: ["**/node_modules/**", "test/reliability/**/*.edge.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: "forks",
    fileParallelism: false,
  },
});
