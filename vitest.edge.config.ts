import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { freePort } from "./infra/upstash-bridge/redis-server";

// Real Redis for the rate-limit tests: globalSetup starts redis-server + the Upstash REST bridge on this port.
// The port is picked here because the Worker's bindings are fixed before globalSetup runs.
const bridgePort = await freePort();
const bridgeToken = "test-redis-token";
process.env.UPSTASH_BRIDGE_TEST_PORT = String(bridgePort);
process.env.UPSTASH_BRIDGE_TEST_TOKEN = bridgeToken;

// Workers-runtime tests (workerd via miniflare): real R2, Durable Objects and D1 emulation.
// GPU backends are scripted fakes reached through the test's fetch (see test/edge/support/fake-gpu.ts).
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      // SELF is the edge without the accounts layer, so the edge-core tests need no API keys; the production
      // entry (edge/index.ts, with accounts) is tested in test/edge/accounts/.
      main: "./test/edge/accounts/core-worker.ts",
      miniflare: {
        bindings: {
          GPU_BACKENDS: "http://gpu-a.test,http://gpu-b.test",
          GPU_HMAC_SECRET: "test-hmac-secret",
          CACHE_KEY_SECRET: "test-cache-key-secret",
          // Unset (a local .dev.vars may name one): the edge sends no Authorization header to the backends.
          GPU_BACKEND_TOKEN: "",
          ADMIN_TOKEN: "test-admin-token",
          UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${bridgePort}`,
          UPSTASH_REDIS_REST_TOKEN: bridgeToken,
          // A loaded CI machine can stall a Redis answer past the 1 s default; such a stall must not flip
          // a rate-limit decision into fail-open. (The timeout path has its own test with a short value.)
          RATE_LIMIT_TIMEOUT_MS: "10000",
          // D1 schema for the tests, applied by test/edge/accounts/apply-migrations.ts.
          TEST_MIGRATIONS: await readD1Migrations("./edge/migrations"),
          MODEL_REVISION: "test-rev",
          // Below the schema's 4000-character ceiling, so both limits are tested (and /openapi.json shows it).
          MAX_PROMPT_CHARS: "3000",
          GPU_ATTEMPT_TIMEOUT_MS: "2000",
          GPU_DEADLINE_MS: "5000",
          // Short, because breaker state is per isolate and test files share it.
          GPU_BREAKER_COOLDOWN_MS: "300",
          // Webhook retries 50 ms apart (doubling) instead of 5 s, so a retried delivery fits in a test.
          WEBHOOK_RETRY_BASE_MS: "50",
        },
      },
    }),
  ],
  test: {
    include: ["test/edge/**/*.test.ts", "test/reliability/**/*.edge.test.ts"],
    globalSetup: ["./infra/upstash-bridge/vitest-global-setup.ts"],
    setupFiles: ["./test/edge/accounts/apply-migrations.ts"],
    testTimeout: 30_000,
    // Each file keeps its own Worker and storage (the default). Sharing one (isolate: false) saved ~80 s, but
    // state leaks across files: GPU circuit breakers opened by one file's outage tests, alarms of its jobs still
    // running, made another file's first requests 503 in one file order.
  },
});
