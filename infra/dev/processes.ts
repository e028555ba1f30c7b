/**
 * Child processes of the local stack. Each one runs in its own process group (`detached: true`) so that
 * stopping it also stops whatever it spawned (wrangler leaves `workerd` children behind otherwise), and so
 * that a Ctrl-C in the terminal reaches only the stack, which then stops its children in order.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";

const TAIL_CHARS = 8000;

export interface LaunchOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Receives each output line (stdout and stderr); default: dropped (the tail is still kept). */
  onLine?: (line: string) => void;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  running(): boolean;
  /** Sends a signal to the whole process group at once. */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the leader has exited. */
  stop(graceMs?: number): Promise<void>;
  /** The last few KB of output, for error messages. */
  tail(): string;
}

/** Process groups still alive; killed synchronously if the stack's own process exits without stopping them. */
const liveGroups = new Set<number>();
process.once("exit", () => {
  for (const pgid of liveGroups) killGroup(pgid, "SIGKILL");
});

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function forwardLines(stream: NodeJS.ReadableStream | null, sink: (text: string) => void): void {
  let pending = "";
  stream?.setEncoding("utf8");
  stream?.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) sink(line);
  });
  stream?.on("end", () => {
    if (pending) sink(pending);
  });
}

/** Starts `command args` in a new process group. Throws ENOENT-style errors synchronously via `exited`. */
export function launch(
  name: string,
  command: string,
  args: string[],
  options: LaunchOptions,
): ManagedProcess {
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  const onLine = (line: string) => {
    tail = (tail + line + "\n").slice(-TAIL_CHARS);
    options.onLine?.(line);
  };
  forwardLines(child.stdout, onLine);
  forwardLines(child.stderr, onLine);

  const pid = child.pid ?? -1;
  if (pid > 0) liveGroups.add(pid);
  let alive = pid > 0;
  const exited = new Promise<number | null>((resolve) => {
    child.once("error", (error) => {
      onLine(`${name}: ${error.message}`);
      alive = false;
      resolve(null);
    });
    child.once("exit", (code) => {
      alive = false;
      // The leader is gone but its children may not be: sweep the group.
      if (pid > 0) {
        killGroup(pid, "SIGKILL");
        liveGroups.delete(pid);
      }
      resolve(code);
    });
  });

  return {
    name,
    pid,
    exited,
    running: () => alive,
    signal(sig) {
      if (pid > 0) killGroup(pid, sig);
    },
    async stop(graceMs = 5000) {
      if (!alive) return;
      killGroup(pid, "SIGTERM");
      const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
    tail: () => tail,
  };
}

/** Runs a command to completion (own process group too); rejects with its output on a non-zero exit. */
export async function runToCompletion(
  name: string,
  command: string,
  args: string[],
  options: LaunchOptions,
): Promise<string> {
  const proc = launch(name, command, args, options);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${name} failed (exit ${code}):\n${proc.tail()}`);
  return proc.tail();
}
