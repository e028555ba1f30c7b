/**
 * Vitest globalSetup for the Workers-runtime tests: a throwaway redis-server plus the bridge on the port the
 * config chose (`UPSTASH_BRIDGE_TEST_PORT`), so @upstash/ratelimit inside workerd talks to real Redis.
 * The config sets the port and token because the Worker's bindings are fixed before this runs.
 *
 * @module
 */
import { startRedisServer } from "./redis-server";
import { startBridge } from "./server";

export default async function setup(): Promise<() => Promise<void>> {
  const port = Number(process.env.UPSTASH_BRIDGE_TEST_PORT);
  const token = process.env.UPSTASH_BRIDGE_TEST_TOKEN;
  if (!port || !token)
    throw new Error("vitest config must set UPSTASH_BRIDGE_TEST_PORT and UPSTASH_BRIDGE_TEST_TOKEN");
  const redis = await startRedisServer();
  const bridge = await startBridge({ redisUrl: redis.url, token, port });
  return async () => {
    await bridge.close();
    await redis.stop();
  };
}
