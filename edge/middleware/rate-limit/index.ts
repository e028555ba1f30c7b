/**
 * Per-key request rate limit (sliding window per minute, from the key's plan) via @upstash/ratelimit.
 * Sets `RateLimit-Policy`, `RateLimit` and `x-ratelimit-*` on every response it lets through; answers 429
 * with `Retry-After` / `retry-after-ms` when the window is spent. Mount after `apiKeyAuth`.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { type AccountsEnv, readAccountsConfig } from "../../accounts/config";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";
import { applyFailPolicy } from "./fail-policy";
import { applyLimitHeaders, retryHeaders } from "./headers";
import { LimiterUnavailable, limitRequest } from "./limiters";

export function requestRateLimit(): MiddlewareHandler<AppEnv> {
  return async function requestRateLimit(c, next) {
    const config = readAccountsConfig(c.env as AccountsEnv);
    const { keyId, plan } = c.var.principal;
    let decision: Awaited<ReturnType<typeof limitRequest>> | null = null;
    try {
      decision = await limitRequest(config, keyId, plan.requestsPerMinute);
    } catch (error) {
      if (!(error instanceof LimiterUnavailable)) throw error;
      applyFailPolicy(config, "requests", { requestId: c.var.requestId, keyId }, error);
    }
    if (decision && !decision.success) {
      throw new ApiError(
        "rate_limit_error",
        `Rate limit of ${decision.state.limit} requests per minute reached for this API key`,
        { code: "rate_limit_exceeded", headers: retryHeaders(decision.state) },
      );
    }
    await next();
    if (decision) applyLimitHeaders(c.res.headers, decision.state);
  };
}
