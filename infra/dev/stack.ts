/**
 * `npm start`: the whole stack on this machine (see start-stack.ts), until Ctrl-C.
 *
 * Environment: EDGE_PORT (8787), GPU_PORT (8188), UPSTASH_BRIDGE_PORT (8079), REDIS_PORT (free), MODEL_DIR
 * (models/tiny), STATE_DIR (.wrangler/state), REDIS_SERVER, QUIET=1 (only errors from the pieces), plus every
 * key of .dev.vars.
 *
 * The playground link carries the dev key in its URL fragment, which the browser keeps to itself (it is never
 * sent to a server); the page moves it into local storage. Production never prints or serves a key.
 *
 * @module
 */
import { createServer } from "node:net";
import { join } from "node:path";
import { REPO_ROOT, startStack } from "./start-stack";
import { MissingDependencyError } from "./system-deps";

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  const port = raw ? Number(raw) : fallback;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MissingDependencyError(`${name}=${raw} is not a TCP port`);
  }
  return port;
}

function assertPortFree(port: number, envName: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", () =>
      reject(new MissingDependencyError(`Port ${port} is in use: stop what uses it or set ${envName}.`)),
    );
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}

async function main(): Promise<void> {
  const ports = {
    edgePort: portFromEnv("EDGE_PORT", 8787),
    gpuPort: portFromEnv("GPU_PORT", 8188),
    bridgePort: portFromEnv("UPSTASH_BRIDGE_PORT", 8079),
    redisPort: portFromEnv("REDIS_PORT", 0),
  };
  await assertPortFree(ports.edgePort, "EDGE_PORT");
  await assertPortFree(ports.gpuPort, "GPU_PORT");
  await assertPortFree(ports.bridgePort, "UPSTASH_BRIDGE_PORT");
  await assertPortFree(ports.redisPort, "REDIS_PORT");

  const quiet = process.env.QUIET === "1";
  const width = 7;
  let stopping = false;
  let stack: Awaited<ReturnType<typeof startStack>> | undefined;
  const shutdown = async (signal: NodeJS.Signals, code: number) => {
    // During start-up, or on a second signal while stopping: exit at once. process.exit runs the exit hook in
    // processes.ts, which kills every process group still alive (a signal's default action would not).
    if (!stack || stopping) process.exit(code);
    stopping = true;
    console.log(`\n${signal}: stopping the local stack...`);
    await stack.stop();
    console.log("stopped.");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT", 130));
  process.on("SIGTERM", () => void shutdown("SIGTERM", 143));
  process.on("SIGHUP", () => void shutdown("SIGHUP", 129));

  console.log("Starting the local stack (first run builds the tiny model; this takes a minute)...");
  stack = await startStack({
    ...ports,
    modelDir: process.env.MODEL_DIR,
    stateDir: process.env.STATE_DIR ?? join(REPO_ROOT, ".wrangler", "state"),
    redisServer: process.env.REDIS_SERVER,
    onLog: (source, line) => {
      if (quiet && !/error|fail/i.test(line)) return;
      console.log(`${`[${source}]`.padEnd(width + 2)} ${line}`);
    },
  });

  const body = JSON.stringify({ prompt: "a lighthouse at dawn, watercolor", size: "256x256", seed: 7 });
  console.log(`
Z-Image API (local stack) is ready.

  API        ${stack.urls.edge}        (OpenAPI: ${stack.urls.edge}/openapi.json)
  GPU fn     ${stack.urls.gpu}        (CPU execution provider, model revision ${stack.modelRevision})
  API key    ${stack.apiKey}
  State      ${stack.stateDir}

  Playground ${stack.urls.edge}/playground#key=${stack.apiKey}
  API docs   ${stack.urls.edge}/docs

Try it:

  curl -s ${stack.urls.edge}/v1/images/generations \\
    -H "Authorization: Bearer ${stack.apiKey}" \\
    -H "Content-Type: application/json" \\
    -d '${body}'

Ctrl-C stops everything.
`);
}

main().catch((error: Error) => {
  if (error instanceof MissingDependencyError) {
    console.error(`\nnpm start: ${error.message}`);
  } else {
    console.error(`\nnpm start failed: ${error.message}`);
  }
  process.exit(1);
});
