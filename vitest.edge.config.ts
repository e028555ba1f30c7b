import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Workers-runtime tests (workerd via miniflare): real R2, Durable Objects, D1 and KV emulation.
// GPU backends are scripted fakes reached through the test's fetch (see test/edge/support/fake-gpu.ts).
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          GPU_BACKENDS: "http://gpu-a.test,http://gpu-b.test",
          GPU_HMAC_SECRET: "test-hmac-secret",
          ADMIN_TOKEN: "test-admin-token",
          UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1",
          UPSTASH_REDIS_REST_TOKEN: "test-redis-token",
          MODEL_REVISION: "test-rev",
          GPU_ATTEMPT_TIMEOUT_MS: "2000",
          GPU_DEADLINE_MS: "5000",
          // Short, because breaker state is per isolate and test files share it.
          GPU_BREAKER_COOLDOWN_MS: "300",
        },
      },
    }),
  ],
  test: {
    include: ["test/edge/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
