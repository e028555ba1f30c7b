/**
 * `npm start` as a person uses it: start it, run the curl line it prints, press Ctrl-C, and check that every
 * process it started is gone (no orphaned workerd, redis-server or GPU function).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/dev/start-stack";
import { freePort } from "../../infra/upstash-bridge/redis-server";

const run = promisify(execFile);
const stateDir = mkdtempSync(join(tmpdir(), "zimage-npm-start-"));
let cli: ChildProcess | undefined;

afterAll(() => {
  // Only if an assertion failed before Ctrl-C: stop the CLI's process group.
  if (cli?.exitCode === null && cli.pid) process.kill(-cli.pid, "SIGKILL");
  rmSync(stateDir, { recursive: true, force: true });
});

/** Every descendant of `pid`, from /proc (children of children included). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the parenthesised command name: state, ppid, ...
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // The process exited while we read.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(state); // a zombie has exited
  } catch {
    return false;
  }
}

// The whole stack starts inside this test (not in a hook), hence its own timeout.
it("starts the stack, prints a working curl line, and Ctrl-C leaves no process behind", async () => {
  const [edge, gpu, bridge, redis] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  cli = spawn(process.execPath, ["--import", "tsx", "infra/dev/stack.ts"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      EDGE_PORT: String(edge),
      GPU_PORT: String(gpu),
      UPSTASH_BRIDGE_PORT: String(bridge),
      REDIS_PORT: String(redis),
      STATE_DIR: stateDir,
      QUIET: "1",
    },
    // Its own process group, like a shell job: Ctrl-C is a SIGINT to that group.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  cli.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  cli.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => cli?.once("exit", (code) => resolve(code)));

  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (output.includes("Ctrl-C stops everything")) {
        clearInterval(timer);
        resolve();
      } else if (cli?.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`npm start exited early:\n${output}`));
      }
    }, 100);
  });

  expect(output).toContain(`API        http://127.0.0.1:${edge}`);
  const apiKey = /API key\s+(zi_live_\w+)/.exec(output)?.[1];
  expect(apiKey).toBeTruthy();
  // The curl line as printed (backslash continuations included), run by a shell.
  const curlLine = /\n\s*(curl -s [\s\S]*?'\{[^\n]*\}')/.exec(output)?.[1];
  expect(curlLine).toBeTruthy();
  const { stdout } = await run("bash", ["-c", curlLine!]);
  const response = JSON.parse(stdout) as { data: { url: string; seed: number }[] };
  expect(response.data[0].url).toMatch(
    new RegExp(`^http://127\\.0\\.0\\.1:${edge}/v1/images/[0-9a-f]{64}\\.png$`),
  );
  expect((await fetch(response.data[0].url)).status).toBe(200);

  const started = descendants(cli.pid!);
  const names = started.map((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8"));
  expect(names.some((name) => name.includes("workerd"))).toBe(true);
  expect(names.some((name) => name.includes("redis-server"))).toBe(true);
  expect(names.some((name) => name.includes("gpu-fn/server/main.ts"))).toBe(true);

  process.kill(-cli.pid!, "SIGINT");
  expect(await exited).toBe(0);
  expect(started.filter(alive)).toEqual([]);
}, 300_000);

it("names a missing system dependency and how to install it", async () => {
  const result = await run(process.execPath, ["--import", "tsx", "infra/dev/stack.ts"], {
    cwd: REPO_ROOT,
    env: { ...process.env, REDIS_SERVER: "redis-server-not-installed", EDGE_PORT: "0", GPU_PORT: "0" },
  }).then(
    () => null,
    (error: { code: number; stderr: string }) => error,
  );
  expect(result?.code).toBe(1);
  expect(result?.stderr).toContain("redis-server-not-installed was not found on PATH");
  expect(result?.stderr).toContain("sudo apt-get install redis-server");
});
