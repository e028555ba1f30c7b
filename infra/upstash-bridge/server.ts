/**
 * Runs the bridge as a Node HTTP server in front of one Redis connection.
 *
 * @module
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createClient, RESP_TYPES } from "redis";
import { createBridgeApp } from "./app";
import { CommandRunner, type RedisConnection } from "./commands";

export interface BridgeOptions {
  /** e.g. `redis://127.0.0.1:6379` */
  redisUrl: string;
  /** Bearer token clients must send. */
  token: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Defaults to loopback: the bridge is a local development and test tool. */
  hostname?: string;
}

export interface BridgeHandle {
  /** Base URL for `UPSTASH_REDIS_REST_URL`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startBridge(options: BridgeOptions): Promise<BridgeHandle> {
  const hostname = options.hostname ?? "127.0.0.1";
  const client = createClient({
    url: options.redisUrl,
    // Upstash answers in RESP2 shapes (maps as flat arrays, doubles as strings); so does the bridge.
    RESP: 2,
    // Fail fast while Redis is down instead of queueing: callers must see errors to apply their fail policy.
    disableOfflineQueue: true,
  })
    // Bulk strings as Buffers keep binary values intact for base64 replies.
    .withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  client.on("error", (error: Error) => console.error(`upstash bridge: redis: ${error.message}`));
  await client.connect();

  const app = createBridgeApp({
    runner: new CommandRunner(client as unknown as RedisConnection),
    token: options.token,
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: options.port ?? 0, hostname }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${hostname}:${port}`,
    port,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      client.destroy();
    },
  };
}
