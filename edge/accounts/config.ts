/**
 * Configuration of the accounts layer, read from the Worker's vars and secrets:
 * - `ADMIN_TOKEN` (secret): bearer credential of `/v1/admin/*`; admin routes answer 503 while it is unset.
 * - `UPSTASH_REDIS_REST_URL`, `UPSTASH_REDIS_REST_TOKEN` (secrets): Redis for rate limits and quotas.
 * - `RATE_LIMIT_FAIL_MODE`: `open` (default: admit and log when Redis fails) or `closed` (answer 503).
 * - `RATE_LIMIT_TIMEOUT_MS` (default 1000): a Redis call slower than this counts as a Redis failure.
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
  failMode: z.enum(["open", "closed"]).catch("open"),
  rateLimitTimeoutMs: z.coerce.number().int().min(1).max(30_000).catch(1000),
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
    authCacheTtlMs: env.AUTH_CACHE_TTL_MS,
  });
  cache.set(env, config);
  return config;
}
