/**
 * Starts the whole stack on one machine: redis-server + Upstash-REST bridge, the GPU function on the CPU
 * execution provider with the tiny model, and `wrangler dev` (local R2/D1/Durable Objects, migrations
 * applied), then creates a dev account and API key. Used by `npm start` (stack.ts) and the e2e tests.
 *
 * @module
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../upstash-bridge/redis-server";
import { type BridgeHandle, startBridge } from "../upstash-bridge/server";
import { AdminClient, createDevAccount } from "./admin-client";
import { ensureDevVars, readDevVars, SECRET_KEYS, type Vars, writePrivateEnvFile } from "./dev-vars";
import { launch, type ManagedProcess, runToCompletion } from "./processes";
import { waitForHttp } from "./readiness";
import { type LocalRedis, startLocalRedis } from "./redis";
import { checkSystemDependencies } from "./system-deps";

/** Repository root (this file lives in infra/dev/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const DEFAULT_MODEL_DIR = join(REPO_ROOT, "models", "tiny");
const D1_DATABASE = "zimage";

/** Environment for wrangler: no telemetry, no request.cf download, no update check (works offline). */
export const WRANGLER_OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
} as const;

export interface StackOptions {
  /** Ports; 0 or missing picks a free one. */
  edgePort?: number;
  gpuPort?: number;
  bridgePort?: number;
  redisPort?: number;
  /** Model folder for the GPU function; default models/tiny, built if missing. */
  modelDir?: string;
  /** wrangler `--persist-to` folder (local R2/D1/DO state); default: a fresh temporary folder. */
  stateDir?: string;
  /** Edge vars and secrets; default: .dev.vars (created from the example if missing) + process env. */
  vars?: Vars;
  /** Extra environment for the GPU function (e.g. queue sizes). */
  gpuEnv?: Record<string, string>;
  /** Receives every log line of every piece, prefixed with its name. Default: dropped. */
  onLog?: (source: string, line: string) => void;
  /** Per-piece readiness timeout; default 180 s (the GPU function warms the model on a slow CPU). */
  readyTimeoutMs?: number;
  redisServer?: string;
  /** Plan of the dev account (default "pro"). */
  devPlan?: string;
}

export interface GpuFunctionControl {
  url: string;
  /** Kills the GPU function's process group at once (SIGKILL): a crash, not a drain. */
  kill(): Promise<void>;
  /** Starts it again on the same port and waits for /readyz. */
  start(): Promise<void>;
  running(): boolean;
}

/** The stack's redis-server, for fault tests: `signal("SIGSTOP")` hangs it, `kill()` + `start()` restarts it. */
export interface RedisControl {
  signal(signal: NodeJS.Signals): void;
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence); the bridge reconnects on its own. */
  start(): Promise<void>;
}

export interface Stack {
  urls: { edge: string; gpu: string; bridge: string };
  apiKey: string;
  accountId: string;
  /** Admin API client (holds ADMIN_TOKEN, which is never printed). */
  admin: AdminClient;
  modelRevision: string;
  stateDir: string;
  gpu: GpuFunctionControl;
  redis: RedisControl;
  /** Stops every process it started, edge first; safe to call twice. */
  stop(): Promise<void>;
}

function modelRevisionOf(modelDir: string): string {
  const manifest = JSON.parse(readFileSync(join(modelDir, "model.json"), "utf8")) as { revision?: unknown };
  if (typeof manifest.revision !== "string" || !manifest.revision) {
    throw new Error(`${join(modelDir, "model.json")} has no "revision"`);
  }
  return manifest.revision;
}

async function ensureModel(modelDir: string, log: (line: string) => void): Promise<void> {
  if (resolve(modelDir) !== DEFAULT_MODEL_DIR) {
    if (!existsSync(join(modelDir, "model.json"))) {
      throw new Error(`MODEL_DIR ${modelDir} has no model.json (build one with \`npm run convert\`).`);
    }
    return;
  }
  // Reuses a valid folder at once; builds (first run) or rebuilds (stale generator) otherwise.
  const { ensureTinyModel } = await import("../../gpu-fn/cli/model-tiny");
  const result = await ensureTinyModel(modelDir, { log });
  if (result.built) log(`built the tiny model in ${modelDir}`);
}

function resolveVars(options: StackOptions): Vars {
  if (options.vars) return { ...options.vars };
  ensureDevVars(join(REPO_ROOT, ".dev.vars"), join(REPO_ROOT, ".dev.vars.example"));
  return readDevVars(join(REPO_ROOT, ".dev.vars"));
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = (source: string) => (line: string) => options.onLog?.(source, line);
  const timeoutMs = options.readyTimeoutMs ?? 180_000;
  checkSystemDependencies(REPO_ROOT, options.redisServer);

  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: Error) => log("stack")(`stop: ${error.message}`));
    }
  };

  try {
    const modelDir = resolve(options.modelDir ?? DEFAULT_MODEL_DIR);
    await ensureModel(modelDir, log("stack"));
    const modelRevision = modelRevisionOf(modelDir);

    const vars = resolveVars(options);
    for (const key of SECRET_KEYS) {
      if (!vars[key]) throw new Error(`${key} is not set (in .dev.vars or the environment)`);
    }

    const [edgePort, gpuPort, bridgePort, redisPort, inspectorPort] = await Promise.all([
      options.edgePort || freePort(),
      options.gpuPort || freePort(),
      options.bridgePort || freePort(),
      options.redisPort || freePort(),
      freePort(),
    ]);
    const stateDir = resolve(options.stateDir ?? mkdtempSync(join(tmpdir(), "zimage-state-")));
    mkdirSync(stateDir, { recursive: true });
    if (!options.stateDir) cleanups.push(async () => rmSync(stateDir, { recursive: true, force: true }));
    // The edge's env file holds secrets: a private temporary folder, removed on stop.
    const secretsDir = mkdtempSync(join(tmpdir(), "zimage-edge-env-"));
    const removeSecrets = () => rmSync(secretsDir, { recursive: true, force: true });
    process.once("exit", removeSecrets);
    cleanups.push(async () => removeSecrets());

    // 1. Redis and the Upstash-REST bridge in front of it.
    const startRedis = () =>
      startLocalRedis({ port: redisPort, cwd: stateDir, binary: options.redisServer, onLine: log("redis") });
    let redis: LocalRedis = await startRedis();
    cleanups.push(() => redis.process.stop());
    const bridge: BridgeHandle = await startBridge({
      redisUrl: redis.url,
      token: vars.UPSTASH_REDIS_REST_TOKEN,
      port: bridgePort,
    });
    cleanups.push(() => bridge.close());

    // 2. GPU function (CPU execution provider) and the edge start in parallel: both take seconds.
    const gpuUrl = `http://127.0.0.1:${gpuPort}`;
    const gpuEnv: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(gpuPort),
      // Loopback only: the function's default (0.0.0.0) is for containers.
      HOST: "127.0.0.1",
      MODEL_DIR: modelDir,
      EXECUTION_PROVIDER: "cpu",
      GPU_HMAC_SECRET: vars.GPU_HMAC_SECRET,
      // The URL the edge calls it at (its GPU_BACKENDS entry): signatures for another backend are refused.
      GPU_AUDIENCE: gpuUrl,
      ...options.gpuEnv,
    };
    let gpuProcess: ManagedProcess | undefined;
    const startGpu = async () => {
      gpuProcess = launch("gpu-fn", process.execPath, ["--import", "tsx", "gpu-fn/server/main.ts"], {
        cwd: REPO_ROOT,
        env: gpuEnv,
        onLine: log("gpu-fn"),
      });
      await waitForHttp(`${gpuUrl}/readyz`, { what: "GPU function /readyz", timeoutMs, process: gpuProcess });
    };
    cleanups.push(async () => gpuProcess?.stop());

    const edgeUrl = `http://127.0.0.1:${edgePort}`;
    const wranglerEnv: NodeJS.ProcessEnv = { ...process.env, ...WRANGLER_OFFLINE_ENV };
    const wranglerJs = join(REPO_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
    const envFile = join(secretsDir, "edge.env");
    writePrivateEnvFile(envFile, {
      ...vars,
      GPU_BACKENDS: gpuUrl,
      UPSTASH_REDIS_REST_URL: bridge.url,
      MODEL_REVISION: modelRevision,
    });
    let edgeProcess: ManagedProcess | undefined;
    const startEdge = async () => {
      await runToCompletion(
        "wrangler d1 migrations apply",
        process.execPath,
        [wranglerJs, "d1", "migrations", "apply", D1_DATABASE, "--local", "--persist-to", stateDir],
        { cwd: REPO_ROOT, env: wranglerEnv, onLine: log("d1") },
      );
      edgeProcess = launch(
        "wrangler dev",
        process.execPath,
        [
          wranglerJs,
          "dev",
          "--local",
          "--ip",
          "127.0.0.1",
          "--port",
          String(edgePort),
          "--inspector-port",
          String(inspectorPort),
          "--persist-to",
          stateDir,
          "--env-file",
          envFile,
          "--show-interactive-dev-session=false",
        ],
        { cwd: REPO_ROOT, env: wranglerEnv, onLine: log("edge") },
      );
      // Any answer from the Worker (even 401/404) means workerd has loaded it.
      await waitForHttp(`${edgeUrl}/v1/models`, {
        what: "edge (wrangler dev)",
        timeoutMs,
        process: edgeProcess,
        // wrangler dev keeps running (watching for edits) after a failed build or runtime start.
        fatalOutput: /Build failed|Workers runtime failed to start/,
        ready: (r) => r.status < 500,
      });
    };
    cleanups.push(async () => edgeProcess?.stop());

    // allSettled: a failure of one must not leave the other starting after cleanup ran.
    const started = await Promise.allSettled([startGpu(), startEdge()]);
    for (const result of started) if (result.status === "rejected") throw result.reason;

    // 3. A dev account and API key through the admin API.
    const admin = new AdminClient(edgeUrl, vars.ADMIN_TOKEN);
    const dev = await createDevAccount(admin, { planId: options.devPlan ?? "pro" });

    let stopped: Promise<void> | undefined;
    return {
      urls: { edge: edgeUrl, gpu: gpuUrl, bridge: bridge.url },
      apiKey: dev.key.secret,
      accountId: dev.account.id,
      admin,
      modelRevision,
      stateDir,
      gpu: {
        url: gpuUrl,
        kill: async () => {
          gpuProcess?.signal("SIGKILL");
          await gpuProcess?.exited;
        },
        start: startGpu,
        running: () => gpuProcess?.running() ?? false,
      },
      redis: {
        signal: (signal) => redis.process.signal(signal),
        kill: async () => {
          redis.process.signal("SIGKILL");
          await redis.process.exited;
        },
        start: async () => {
          redis = await startRedis();
        },
      },
      stop: () => {
        stopped ??= stopAll();
        return stopped;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
