import { type RedisServerHandle, startRedisServer } from "../../../infra/upstash-bridge/redis-server";
import { type BridgeHandle, startBridge } from "../../../infra/upstash-bridge/server";

export const BRIDGE_TOKEN = "bridge-test-token";

export interface BridgeFixture {
  redis: RedisServerHandle;
  bridge: BridgeHandle;
  stop(): Promise<void>;
}

/** A fresh redis-server (no persistence) with the bridge in front of it. */
export async function startBridgeFixture(): Promise<BridgeFixture> {
  const redis = await startRedisServer();
  const bridge = await startBridge({ redisUrl: redis.url, token: BRIDGE_TOKEN });
  return {
    redis,
    bridge,
    stop: async () => {
      await bridge.close();
      await redis.stop();
    },
  };
}
