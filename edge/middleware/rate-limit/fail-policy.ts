/**
 * Degraded mode: what happens when Redis cannot decide (down, hung past RATE_LIMIT_TIMEOUT_MS, bad token, or
 * cooling down after such a failure; see redis-health.ts). Every event is logged (key id, never the key).
 *
 * - Per-minute request limit, `RATE_LIMIT_FAIL_MODE=local` (the default): decided by the in-isolate fallback
 *   limiter (local-limiter.ts) with the plan's limit, so a key still gets at most its limit per minute per
 *   isolate, with RateLimit headers. `closed`: 503 + Retry-After. (`open`, the former default that admitted
 *   everything, is read as `local`: no mode admits without a bound.)
 * - Daily image quota: always fails closed (images are money): 503 `quota_unavailable` + Retry-After until
 *   Redis is tried again. No image is generated or billed without a quota decision.
 *
 * @module
 */
import type { AccountsConfig } from "../../accounts/config";
import { ApiError } from "../../errors";
import type { Decision } from "./limiters";
import { localRequestDecision } from "./local-limiter";
import { redisHealthId, redisRetryAfterSeconds } from "./redis-health";

interface Context {
  requestId: string;
  keyId: string;
}

function logUnavailable(
  config: AccountsConfig,
  limiter: "requests" | "images",
  context: Context,
  error: Error,
) {
  console.warn(
    JSON.stringify({
      level: "warn",
      event: "rate_limiter_unavailable",
      limiter,
      policy: limiter === "images" ? "closed" : config.failMode,
      requestId: context.requestId,
      keyId: context.keyId,
      error: error.message,
    }),
  );
}

function unavailable(config: AccountsConfig, message: string, code: string): ApiError {
  const seconds = redisRetryAfterSeconds(redisHealthId(config));
  return new ApiError("service_unavailable", message, {
    code,
    headers: { "retry-after": String(seconds), "retry-after-ms": String(seconds * 1000) },
  });
}

/** The request-limit decision when Redis gave none: the local fallback's, or a 503 in `closed` mode. */
export function degradedRequestDecision(
  config: AccountsConfig,
  perMinute: number,
  context: Context,
  error: Error,
): Decision {
  logUnavailable(config, "requests", context, error);
  if (config.failMode === "closed") {
    throw unavailable(
      config,
      "Rate limiting is temporarily unavailable; retry shortly",
      "rate_limiter_unavailable",
    );
  }
  return localRequestDecision(context.keyId, perMinute);
}

/** The image quota when Redis gave no decision: fail closed. */
export function quotaUnavailable(config: AccountsConfig, context: Context, error: Error): ApiError {
  logUnavailable(config, "images", context, error);
  return unavailable(
    config,
    "The image quota cannot be checked right now, so no image is generated; retry shortly",
    "quota_unavailable",
  );
}
