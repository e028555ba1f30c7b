/**
 * Configuration of the accounts layer, read from the Worker's vars and secrets:
 * - `ADMIN_TOKEN` (secret): bearer credential of `/v1/admin/*`; admin routes answer 503 while it is unset.
 * - `UPSTASH_REDIS_REST_URL`, `UPSTASH_REDIS_REST_TOKEN` (secrets): Redis for rate limits and quotas.
 * - `RATE_LIMIT_FAIL_MODE`: `local` (default: while Redis cannot decide, the request limit is enforced per
 *   isolate) or `closed` (answer 503); `open` (the former default) reads as `local`. The image quota always fails
 *   closed. See edge/middleware/rate-limit/fail-policy.ts.
 * - `RATE_LIMIT_TIMEOUT_MS` (default 5000): a Redis call slower than this counts as a Redis failure.
 * - `RATE_LIMIT_COOLDOWN_MS` (default 5000): after a failure, Redis is skipped (degraded mode) this long, then
 *   one request probes it.
 * - `AUTH_CACHE_TTL_MS` (default 30000, at most 60000): how long an isolate trusts a key lookup, which is
 *   the bound on how long a revoked key or a changed plan keeps its old behaviour elsewhere.
 *
 * @module
 */
import { z } from "zod";

/** A revoked key stops working everywhere within this bound (the cache TTL can only be set lower). */
export const MAX_AUTH_CACHE_TTL_MS = 60_000;

const accountsConfigSchema = z.object({
  adminToken: z.string(),
  redisUrl: z.string(),
  redisToken: z.string(),
  failMode: z
    .enum(["local", "open", "closed"])
    .transform((mode) => (mode === "closed" ? "closed" : "local"))
    .catch("local"),
  rateLimitTimeoutMs: z.coerce.number().int().min(1).max(30_000).catch(5000),
  rateLimitCooldownMs: z.coerce.number().int().min(0).max(300_000).catch(5000),
  authCacheTtlMs: z.coerce.number().int().min(0).max(MAX_AUTH_CACHE_TTL_MS).catch(30_000),
});

export type AccountsConfig = z.infer<typeof accountsConfigSchema>;

/** The env entries read here; optional so a deployment may leave the tunables unset. */
export interface AccountsEnv {
  ADMIN_TOKEN?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  RATE_LIMIT_FAIL_MODE?: string;
  RATE_LIMIT_TIMEOUT_MS?: string;
  RATE_LIMIT_COOLDOWN_MS?: string;
  AUTH_CACHE_TTL_MS?: string;
}

const cache = new WeakMap<object, AccountsConfig>();

/** Parsed once per env object (Workers reuse env across the requests of an isolate). */
export function readAccountsConfig(env: AccountsEnv): AccountsConfig {
  const cached = cache.get(env);
  if (cached) return cached;
  const config = accountsConfigSchema.parse({
    adminToken: env.ADMIN_TOKEN ?? "",
    redisUrl: env.UPSTASH_REDIS_REST_URL ?? "",
    redisToken: env.UPSTASH_REDIS_REST_TOKEN ?? "",
    failMode: env.RATE_LIMIT_FAIL_MODE,
    rateLimitTimeoutMs: env.RATE_LIMIT_TIMEOUT_MS,
    rateLimitCooldownMs: env.RATE_LIMIT_COOLDOWN_MS,
    authCacheTtlMs: env.AUTH_CACHE_TTL_MS,
  });
  cache.set(env, config);
  return config;
}
