/**
 * Per-key request rate limit (sliding window per minute, from the key's plan) via @upstash/ratelimit.
 * Sets `RateLimit-Policy`, `RateLimit` and `x-ratelimit-*` on every response it lets through; answers 429
 * with `Retry-After` / `retry-after-ms` when the window is spent. While Redis cannot decide, the degraded mode
 * of fail-policy.ts applies. Mount after `apiKeyAuth`.
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { type AccountsEnv, readAccountsConfig } from "../../accounts/config";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";
import { degradedRequestDecision } from "./fail-policy";
import { applyLimitHeaders, retryHeaders } from "./headers";
import { type Decision, LimiterSession, LimiterUnavailable } from "./limiters";

/** The request's ExecutionContext.waitUntil, when it has one (tests may call the app without one). */
export function waitUntilOf(c: Context<AppEnv>): ((p: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise.catch(() => {}));
  } catch {
    return undefined;
  }
}

export function requestRateLimit(): MiddlewareHandler<AppEnv> {
  return async function requestRateLimit(c, next) {
    const config = readAccountsConfig(c.env as AccountsEnv);
    const { keyId, plan } = c.var.principal;
    let decision: Decision;
    try {
      decision = await new LimiterSession(config, waitUntilOf(c)).request(keyId, plan.requestsPerMinute);
    } catch (error) {
      if (!(error instanceof LimiterUnavailable)) throw error;
      decision = degradedRequestDecision(
        config,
        plan.requestsPerMinute,
        { requestId: c.var.requestId, keyId },
        error,
      );
    }
    if (!decision.success) {
      throw new ApiError(
        "rate_limit_error",
        `Rate limit of ${decision.state.limit} requests per minute reached for this API key`,
        { code: "rate_limit_exceeded", headers: retryHeaders(decision.state) },
      );
    }
    await next();
    applyLimitHeaders(c.res.headers, decision.state);
  };
}
