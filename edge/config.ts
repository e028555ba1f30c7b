/**
 * Edge configuration parsed from the Worker's vars and secrets (wrangler.toml [vars], .dev.vars, secrets).
 * Parsed once per env object: Workers reuse the same env across requests of an isolate.
 * @module
 */
import { z } from "zod";

const intVar = (fallback: number, min = 0) => z.coerce.number().int().min(min).catch(fallback);

const configSchema = z.object({
  gpuBackends: z.array(z.url()),
  gpuHmacSecret: z.string(),
  /** Optional bearer token for the GPU host's own gate (RunPod API key); empty = no Authorization header. */
  gpuBackendToken: z.string(),
  modelId: z.string().min(1),
  modelRevision: z.string().min(1),
  modelCreated: intVar(0),
  publicBaseUrl: z.string(),
  /** "production" never falls back to the request's origin for URLs (see `publicOrigin`). */
  deployment: z.enum(["local", "production"]).catch("production"),
  maxPromptChars: intVar(4000, 1),
  minImageSide: intVar(64, 16),
  maxImageSide: intVar(2048, 16),
  maxBodyBytes: intVar(65536, 1024),
  gpuAttemptTimeoutMs: intVar(60_000, 1),
  gpuDeadlineMs: intVar(120_000, 1),
  gpuBreakerFailures: intVar(3, 1),
  gpuBreakerCooldownMs: intVar(30_000, 0),
  /** Browser origins allowed by CORS on the public API: exact origins, or ["*"]; empty = no CORS. */
  corsOrigins: z.array(z.string()),
});

export type EdgeConfig = z.infer<typeof configSchema>;

/**
 * The subset of Env the config reads; tests can pass plain objects. GPU_BACKEND_TOKEN is an optional secret, so
 * it is not in the generated Env (whose secrets come from .dev.vars.example, where it is commented out).
 */
export type ConfigSource = Pick<
  Env,
  | "GPU_BACKENDS"
  | "GPU_HMAC_SECRET"
  | "MODEL_ID"
  | "MODEL_REVISION"
  | "MODEL_CREATED"
  | "PUBLIC_BASE_URL"
  | "DEPLOYMENT"
  | "MAX_PROMPT_CHARS"
  | "MIN_IMAGE_SIDE"
  | "MAX_IMAGE_SIDE"
  | "MAX_BODY_BYTES"
  | "GPU_ATTEMPT_TIMEOUT_MS"
  | "GPU_DEADLINE_MS"
  | "GPU_BREAKER_FAILURES"
  | "GPU_BREAKER_COOLDOWN_MS"
  | "CORS_ORIGINS"
> & { GPU_BACKEND_TOKEN?: string };

const cache = new WeakMap<object, EdgeConfig>();

/** Parses the env into an EdgeConfig; throws on a missing secret or malformed backend URL (a deploy bug). */
export function readConfig(env: ConfigSource): EdgeConfig {
  const cached = cache.get(env);
  if (cached) return cached;
  const config = configSchema.parse({
    gpuBackends: String(env.GPU_BACKENDS ?? "")
      .split(",")
      .map((s) => s.trim().replace(/\/+$/, ""))
      .filter(Boolean),
    gpuHmacSecret: env.GPU_HMAC_SECRET ?? "",
    gpuBackendToken: String(env.GPU_BACKEND_TOKEN ?? "").trim(),
    modelId: env.MODEL_ID,
    modelRevision: env.MODEL_REVISION,
    modelCreated: env.MODEL_CREATED,
    publicBaseUrl: String(env.PUBLIC_BASE_URL ?? "").replace(/\/+$/, ""),
    deployment: env.DEPLOYMENT,
    maxPromptChars: env.MAX_PROMPT_CHARS,
    minImageSide: env.MIN_IMAGE_SIDE,
    maxImageSide: env.MAX_IMAGE_SIDE,
    maxBodyBytes: env.MAX_BODY_BYTES,
    gpuAttemptTimeoutMs: env.GPU_ATTEMPT_TIMEOUT_MS,
    gpuDeadlineMs: env.GPU_DEADLINE_MS,
    gpuBreakerFailures: env.GPU_BREAKER_FAILURES,
    gpuBreakerCooldownMs: env.GPU_BREAKER_COOLDOWN_MS,
    corsOrigins: parseCorsOrigins(String(env.CORS_ORIGINS ?? "*")),
  });
  if (config.publicBaseUrl && !/^https?:\/\/[^/]+/.test(config.publicBaseUrl)) {
    throw new Error(`PUBLIC_BASE_URL: "${config.publicBaseUrl}" is not an http(s) URL`);
  }
  cache.set(env, config);
  return config;
}

/**
 * `CORS_ORIGINS`: comma-separated origins (`https://app.example.com`, normalized as browsers send them) or `*`.
 * Throws on an entry that is not an origin (a path, a typo): like a malformed backend URL, a deploy bug.
 */
export function parseCorsOrigins(raw: string): string[] {
  const entries = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return entries.map((entry) => {
    if (entry === "*") return entry;
    const url = URL.canParse(entry) ? new URL(entry) : null;
    const isOrigin =
      url !== null &&
      url.origin !== "null" &&
      url.pathname === "/" &&
      !url.search &&
      !url.hash &&
      !url.username &&
      !url.password;
    if (!isOrigin) throw new Error(`CORS_ORIGINS: "${entry}" is not an origin (scheme://host[:port]) or *`);
    return url.origin;
  });
}

/**
 * The origin for URLs the API hands out (image URLs, OpenAPI `servers`): PUBLIC_BASE_URL, or in local dev the
 * request's own origin. Never the Host header in production: `requireDeploymentConfig` refuses to serve there
 * until PUBLIC_BASE_URL is set, so this fallback is local only.
 */
export function publicOrigin(config: EdgeConfig, requestUrl: string): string {
  return config.publicBaseUrl || new URL(requestUrl).origin;
}

/** Why this deployment cannot serve, or null. */
export function deploymentProblem(config: EdgeConfig): string | null {
  if (config.deployment === "production" && !config.publicBaseUrl) {
    return "PUBLIC_BASE_URL is required in production (image URLs must not come from the Host header)";
  }
  return null;
}
