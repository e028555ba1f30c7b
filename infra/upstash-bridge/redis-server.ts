/**
 * Starts a throwaway `redis-server` (no persistence, loopback only) on a free port, for tests and the local
 * stack. Needs the Debian/Ubuntu `redis-server` package on PATH.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export interface RedisServerHandle {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** Printed by redis-server once it accepts connections. */
export const REDIS_READY_LINE = "Ready to accept connections";

/**
 * Command line of a throwaway redis-server: `port` on loopback only, no RDB snapshots, no AOF; `extra` flags
 * are appended.
 */
export function redisServerArgs(port: number, extra: string[] = []): string[] {
  return ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...extra];
}

/** Asks the OS for a free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function waitForReady(child: ChildProcess, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(REDIS_READY_LINE)) {
        child.stdout?.off("data", onData);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.once("error", (error) =>
      reject(new Error(`redis-server could not start (is it installed?): ${error.message}`)),
    );
    child.once("exit", (code) =>
      reject(new Error(`redis-server on port ${port} exited (${code}): ${output}`)),
    );
  });
}

export async function startRedisServer(): Promise<RedisServerHandle> {
  const port = await freePort();
  const child = spawn("redis-server", redisServerArgs(port, ["--loglevel", "notice"]), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await waitForReady(child, port);
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
