/**
 * Daily image quota and plan size limit for image generation, per API key.
 *
 * Before the route runs, reads `n` and `size` from the JSON body (Hono caches the parsed body, so the route's
 * validator reuses it): a size above the plan's `max_pixels` -> 403; otherwise `n` images are reserved from
 * the day's quota (UTC day) via @upstash/ratelimit -> 429 when they do not fit. After the route, images not
 * delivered (error responses, fewer images) are given back. Bodies that do not parse are left to the
 * route's validation (400) and reserve nothing.
 * Mount after `apiKeyAuth` and the JSON body guard; idempotent replays never reach it.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { DEFAULT_SIZE, MAX_IMAGES_PER_REQUEST, parseSize } from "../../../shared/api";
import { type AccountsEnv, readAccountsConfig } from "../../accounts/config";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";
import { applyFailPolicy } from "../rate-limit/fail-policy";
import { applyLimitHeaders, type LimitState, retryHeaders } from "../rate-limit/headers";
import { LimiterUnavailable, refundImages, reserveImages } from "../rate-limit/limiters";

interface RequestedImages {
  count: number;
  pixels: number | null;
}

/** What the body asks for, if it is well-formed enough to tell; null otherwise (validation will answer). */
async function requestedImages(readJson: () => Promise<unknown>): Promise<RequestedImages | null> {
  let body: unknown;
  try {
    body = await readJson();
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null) return null;
  const { n = 1, size = DEFAULT_SIZE } = body as { n?: unknown; size?: unknown };
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_IMAGES_PER_REQUEST) return null;
  const parsed = typeof size === "string" ? parseSize(size) : null;
  return { count: n, pixels: parsed ? parsed.width * parsed.height : null };
}

export function imageQuota(): MiddlewareHandler<AppEnv> {
  return async function imageQuota(c, next) {
    const wanted = await requestedImages(() => c.req.json());
    if (!wanted) return next();
    const { keyId, plan } = c.var.principal;
    if (wanted.pixels !== null && wanted.pixels > plan.maxPixels) {
      throw new ApiError(
        "permission_error",
        `size is larger than the ${plan.name} plan allows (${plan.maxPixels} pixels per image)`,
        { param: "size", code: "plan_max_pixels" },
      );
    }

    const config = readAccountsConfig(c.env as AccountsEnv);
    let state: LimitState | null = null;
    try {
      const decision = await reserveImages(config, keyId, plan.imagesPerDay, wanted.count);
      if (!decision.success) {
        throw new ApiError(
          "rate_limit_error",
          `Daily quota of ${decision.state.limit} images reached for this API key (${decision.state.remaining} left)`,
          { code: "daily_quota_exceeded", headers: retryHeaders(decision.state) },
        );
      }
      state = decision.state;
    } catch (error) {
      if (!(error instanceof LimiterUnavailable)) throw error;
      applyFailPolicy(config, "images", { requestId: c.var.requestId, keyId }, error);
    }

    await next();
    if (!state) return;
    const delivered = c.res.status >= 200 && c.res.status < 300 ? c.var.servedImages.length : 0;
    const unused = wanted.count - delivered;
    if (unused > 0) {
      // Inline rather than waitUntil: only failures get here, and the headers below must be true.
      try {
        await refundImages(config, keyId, plan.imagesPerDay, unused);
        state = { ...state, remaining: Math.min(state.limit, state.remaining + unused) };
      } catch (error) {
        console.warn(
          JSON.stringify({ level: "warn", event: "quota_refund_failed", keyId, error: String(error) }),
        );
      }
    }
    applyLimitHeaders(c.res.headers, state);
  };
}
