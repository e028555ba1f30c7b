/**
 * GPU function configuration from environment variables (validated once at start, with clear messages).
 * @module
 */
import { z } from "zod";
import { type ExecutionProviderSetting, parseExecutionProvider } from "../runtime/execution-provider";

const intFrom = (name: string, def: number, min: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) {
        ctx.addIssue({ code: "custom", message: `${name} must be an integer >= ${min}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const envSchema = z.object({
  MODEL_DIR: z.string({ error: "MODEL_DIR is required (a converted model folder with model.json)" }).min(1),
  PORT: intFrom("PORT", 8080, 0),
  /** Bind address; containers need all interfaces, the local stack uses loopback. */
  HOST: z.string().optional(),
  EXECUTION_PROVIDER: z.string().optional(),
  GPU_HMAC_SECRET: z
    .string({ error: "GPU_HMAC_SECRET is required" })
    .min(16, "GPU_HMAC_SECRET must be >= 16 chars"),
  MAX_BATCH: intFrom("MAX_BATCH", 4, 1),
  MAX_WAIT_MS: intFrom("MAX_WAIT_MS", 10, 0),
  MAX_QUEUE: intFrom("MAX_QUEUE", 32, 1),
  /** Largest accepted width or height in pixels. */
  MAX_SIDE: intFrom("MAX_SIDE", 2048, 16),
  /** Warm-up image side; 0 disables the warm-up; default: the model's default size. */
  WARMUP_SIZE: intFrom("WARMUP_SIZE", -1, -1),
  DRAIN_TIMEOUT_MS: intFrom("DRAIN_TIMEOUT_MS", 120_000, 0),
  HMAC_MAX_SKEW_MS: intFrom("HMAC_MAX_SKEW_MS", 300_000, 1),
  /** Comma-separated base URLs the edge reaches this function at (its GPU_BACKENDS entries for it). */
  GPU_AUDIENCE: z.string().optional(),
  /** When set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>`; unset or empty = open. */
  METRICS_TOKEN: z.string().optional(),
  /** Heartbeat interval of POST /v1/infer/stream (the edge treats a few missed beats as a dead backend). */
  HEARTBEAT_MS: intFrom("HEARTBEAT_MS", 1000, 50),
});

export interface GpuFnConfig {
  modelDir: string;
  port: number;
  /** Address the HTTP server binds to (default 0.0.0.0). */
  host: string;
  executionProvider: ExecutionProviderSetting;
  hmacSecret: string;
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  maxSide: number;
  /** -1: the model's default size; 0: no warm-up. */
  warmupSize: number;
  drainTimeoutMs: number;
  hmacMaxSkewMs: number;
  /** GPU_AUDIENCE: a signed request must name one of these; empty = any (no binding to this instance). */
  audiences: string[];
  /** Bearer token required by GET /metrics; null = /metrics is open. */
  metricsToken: string | null;
  /** Heartbeat interval of the streaming inference route (optional: default 1000 ms). */
  heartbeatMs?: number;
}

export function loadConfig(env: Record<string, string | undefined>): GpuFnConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`invalid configuration: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  }
  const e = parsed.data;
  return {
    modelDir: e.MODEL_DIR,
    port: e.PORT,
    host: e.HOST?.trim() || "0.0.0.0",
    executionProvider: parseExecutionProvider(e.EXECUTION_PROVIDER),
    hmacSecret: e.GPU_HMAC_SECRET,
    maxBatch: e.MAX_BATCH,
    maxWaitMs: e.MAX_WAIT_MS,
    maxQueue: e.MAX_QUEUE,
    maxSide: e.MAX_SIDE,
    warmupSize: e.WARMUP_SIZE,
    drainTimeoutMs: e.DRAIN_TIMEOUT_MS,
    hmacMaxSkewMs: e.HMAC_MAX_SKEW_MS,
    audiences: (e.GPU_AUDIENCE ?? "")
      .split(",")
      .map((s) => s.trim().replace(/\/+$/, ""))
      .filter(Boolean),
    metricsToken: e.METRICS_TOKEN?.trim() || null,
    heartbeatMs: e.HEARTBEAT_MS,
  };
}
