/**
 * Checks for what `npm start` needs outside node_modules, so a missing piece fails with one line that says
 * how to install it instead of a stack trace from deep inside a child process.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export class MissingDependencyError extends Error {
  override name = "MissingDependencyError";
}

function onPath(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: "ignore" });
  return !result.error;
}

/** Throws MissingDependencyError naming the first missing dependency and how to install it. */
export function checkSystemDependencies(root: string, redisServer = "redis-server"): void {
  const [major] = process.versions.node.split(".").map(Number);
  if (major < 20) {
    throw new MissingDependencyError(
      `Node.js ${process.versions.node} is too old: install Node.js 20 or newer.`,
    );
  }
  for (const bin of ["wrangler", "tsx"]) {
    if (!existsSync(join(root, "node_modules", ".bin", bin))) {
      throw new MissingDependencyError(`${bin} is not installed in node_modules: run \`npm install\` first.`);
    }
  }
  if (!onPath(redisServer, ["--version"])) {
    throw new MissingDependencyError(
      `${redisServer} was not found on PATH. Install it: \`sudo apt-get install redis-server\` ` +
        "(Debian/Ubuntu; `brew install redis` on macOS), or set REDIS_SERVER to its path.",
    );
  }
}
