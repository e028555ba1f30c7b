/**
 * An ephemeral redis-server for the local stack: loopback only, no RDB/AOF files, own process group.
 *
 * @module
 */
import { REDIS_READY_LINE, redisServerArgs } from "../upstash-bridge/redis-server";
import { launch, type ManagedProcess } from "./processes";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface LocalRedis {
  url: string;
  process: ManagedProcess;
}

export async function startLocalRedis(options: {
  port: number;
  cwd: string;
  binary?: string;
  timeoutMs?: number;
  onLine?: (line: string) => void;
}): Promise<LocalRedis> {
  const proc = launch(
    "redis-server",
    options.binary ?? "redis-server",
    redisServerArgs(options.port, ["--protected-mode", "yes"]),
    { cwd: options.cwd, env: process.env, onLine: options.onLine },
  );
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (!proc.tail().includes(REDIS_READY_LINE)) {
    if (!proc.running()) throw new Error(`redis-server exited on start:\n${proc.tail()}`);
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`redis-server was not ready within ${options.timeoutMs ?? 10_000} ms:\n${proc.tail()}`);
    }
    await sleep(50);
  }
  return { url: `redis://127.0.0.1:${options.port}`, process: proc };
}
