/**
 * CLI: `tsx infra/upstash-bridge/main.ts`
 *
 * Environment: `REDIS_URL` (default: start a throwaway redis-server), `UPSTASH_BRIDGE_TOKEN` (required),
 * `UPSTASH_BRIDGE_PORT` (default 8079). Prints the URL to use as `UPSTASH_REDIS_REST_URL`.
 *
 * @module
 */
import { startRedisServer } from "./redis-server";
import { startBridge } from "./server";

const token = process.env.UPSTASH_BRIDGE_TOKEN;
if (!token) {
  console.error("UPSTASH_BRIDGE_TOKEN must be set (the token clients send as UPSTASH_REDIS_REST_TOKEN)");
  process.exit(2);
}
const redis = process.env.REDIS_URL ? undefined : await startRedisServer();
const bridge = await startBridge({
  redisUrl: process.env.REDIS_URL ?? redis!.url,
  token,
  port: Number(process.env.UPSTASH_BRIDGE_PORT ?? 8079),
});
console.log(`upstash bridge listening on ${bridge.url} -> ${process.env.REDIS_URL ?? redis!.url}`);

async function shutdown() {
  await bridge.close();
  await redis?.stop();
  process.exit(0);
}
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
