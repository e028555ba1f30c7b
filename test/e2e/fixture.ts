/**
 * The real local stack for end-to-end tests: redis-server + bridge, GPU function (CPU, tiny model) and
 * `wrangler dev`, with fresh secrets, free ports and a fresh state folder per test file. Logs go to a file
 * (its path is printed) so a failure can be read without flooding the test output.
 */
import { createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import type { PlanInput } from "../../infra/dev/admin-client";
import { generateSecret } from "../../infra/dev/dev-vars";
import { type Stack, startStack } from "../../infra/dev/start-stack";
import { privateCacheKey } from "../../shared/private-cache-key";
import type { OutputFormat } from "../../shared/protocol";

/** Prices of the plan the tests' accounts use, so ledger amounts are known. */
export const E2E_PLAN: PlanInput = {
  name: "E2E",
  requests_per_minute: 10_000,
  images_per_day: 10_000,
  max_pixels: 1_048_576,
  image_base_micros: 1000,
  megapixel_step_micros: 500,
  cache_hit_micros: 200,
};

export interface E2EStack extends Stack {
  hmacSecret: string;
  /** CACHE_KEY_SECRET of the edge (image URLs are keyed with it). */
  cacheKeySecret: string;
  logFile: string;
  /** A new account on `planId` (default: the E2E plan) and its key. */
  newAccount(planId?: string): Promise<{ accountId: string; apiKey: string }>;
  /** The official client, unmodified except baseURL and apiKey. */
  openai(apiKey: string, options?: { maxRetries?: number }): OpenAI;
  /** Sum of every sample of a metric family on the GPU function's /metrics. */
  gpuMetric(name: string): Promise<number>;
  /** The client-facing usage report (GET /v1/usage with the account's key): totals of the last 30 days. */
  usage(apiKey: string): Promise<UsageTotals>;
  cacheKeyOf(request: ImageParams): Promise<string>;
}

export interface UsageTotals {
  images: number;
  generated: number;
  cache_hits: number;
  amount_micros: number;
}

export interface ImageParams {
  prompt: string;
  width: number;
  height: number;
  seed: number;
  steps?: number;
  outputFormat?: OutputFormat;
}

/** Parses Prometheus text and sums the samples of one metric (all label sets). */
export function sumMetric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match && match[1] === name) sum += Number(match[3]);
  }
  return sum;
}

/** `vars`: extra edge vars (e.g. WEBHOOK_ALLOW_HOSTS for a test receiver). */
export async function startE2EStack(options: { vars?: Record<string, string> } = {}): Promise<E2EStack> {
  const hmacSecret = generateSecret();
  const cacheKeySecret = generateSecret();
  const logFile = join(tmpdir(), `zimage-e2e-${process.pid}-${Date.now()}.log`);
  const log = createWriteStream(logFile);
  console.info(`e2e stack log: ${logFile}`);
  const stack = await startStack({
    vars: {
      GPU_HMAC_SECRET: hmacSecret,
      CACHE_KEY_SECRET: cacheKeySecret,
      ADMIN_TOKEN: generateSecret(),
      UPSTASH_REDIS_REST_TOKEN: generateSecret(),
      // One local backend: after it is killed, the next request must not wait out a long breaker cooldown.
      GPU_BREAKER_COOLDOWN_MS: "500",
      ...options.vars,
    },
    // A small warm-up keeps start-up short on slow CPUs.
    gpuEnv: { WARMUP_SIZE: "64" },
    onLog: (source, line) => log.write(`[${source}] ${line}\n`),
  });
  await stack.admin.putPlan("e2e", E2E_PLAN);

  const stop = stack.stop;
  return Object.assign(stack, {
    hmacSecret,
    cacheKeySecret,
    logFile,
    async newAccount(planId = "e2e") {
      const account = await stack.admin.createAccount(`e2e ${planId}`, planId);
      const key = await stack.admin.issueKey(account.id, "e2e");
      return { accountId: account.id, apiKey: key.secret };
    },
    openai(apiKey: string, options: { maxRetries?: number } = {}) {
      return new OpenAI({ baseURL: `${stack.urls.edge}/v1`, apiKey, maxRetries: options.maxRetries ?? 0 });
    },
    async gpuMetric(name: string) {
      const response = await fetch(`${stack.urls.gpu}/metrics`);
      return sumMetric(await response.text(), name);
    },
    async usage(apiKey: string) {
      const response = await fetch(`${stack.urls.edge}/v1/usage`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      if (!response.ok) throw new Error(`GET /v1/usage: HTTP ${response.status} ${await response.text()}`);
      return ((await response.json()) as { total: UsageTotals }).total;
    },
    cacheKeyOf(request: ImageParams) {
      return privateCacheKey(
        {
          modelRevision: stack.modelRevision,
          prompt: request.prompt,
          negativePrompt: "",
          width: request.width,
          height: request.height,
          steps: request.steps ?? 8,
          guidanceScale: 0,
          seed: request.seed,
          outputFormat: request.outputFormat ?? "png",
          outputQuality: request.outputFormat === undefined || request.outputFormat === "png" ? null : 100,
        },
        { secret: cacheKeySecret },
      );
    },
    stop: async () => {
      await stop();
      log.end();
    },
  });
}
