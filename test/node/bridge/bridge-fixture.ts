import { Redis } from "@upstash/redis";
import { afterAll, beforeAll } from "vitest";
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

export interface BridgeTestContext {
  readonly fixture: BridgeFixture;
  /** An Upstash client of the fixture's bridge (no retries). */
  readonly redis: Redis;
}

/** Call at a test file's top level: one fixture for the file's tests, started before them and stopped after. */
export function useBridgeFixture(): BridgeTestContext {
  let fixture: BridgeFixture | undefined;
  let redis: Redis | undefined;
  beforeAll(async () => {
    fixture = await startBridgeFixture();
    redis = new Redis({ url: fixture.bridge.url, token: BRIDGE_TOKEN, retry: false });
  });
  afterAll(() => fixture?.stop());
  return {
    get fixture() {
      if (!fixture) throw new Error("bridge fixture not started (use it inside a test)");
      return fixture;
    },
    get redis() {
      if (!redis) throw new Error("bridge fixture not started (use it inside a test)");
      return redis;
    },
  };
}
