/**
 * Limits of `POST /v1/images/generations`, per API key: the per-minute request limit and the daily image quota,
 * checked together. Both @upstash/ratelimit calls are issued at once, so @upstash/redis auto-pipelining sends
 * them in one Redis round trip instead of two.
 *
 * - `n` and `size` are read from the JSON body (Hono caches it, the route's validator reuses it). A size above
 *   the plan's `max_pixels`, or an `n` above its `max_images_per_request` -> 403, before anything is counted. A body that does not parse reserves no images
 *   (the route's validation answers 400).
 * - Request limit spent -> 429 (any images reserved alongside are given back). Quota short -> 429 with
 *   `x-should-retry: false`.
 * - After the route, images not delivered (errors, idempotent replays and 409s, which the idempotency
 *   middleware answers after this one) are given back.
 * - Redis failures follow RATE_LIMIT_FAIL_MODE for each limit separately.
 * Mount after `apiKeyAuth` and `bufferBody`.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { DEFAULT_SIZE, MAX_IMAGES_PER_REQUEST, parseSize } from "../../../shared/api";
import { type AccountsConfig, type AccountsEnv, readAccountsConfig } from "../../accounts/config";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";
import { applyFailPolicy } from "../rate-limit/fail-policy";
import { applyLimitHeaders, type LimitState, retryHeaders } from "../rate-limit/headers";
import {
  type Decision,
  LimiterUnavailable,
  limitRequest,
  refundImages,
  reserveImages,
} from "../rate-limit/limiters";

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
  // null = the default, as in the schema (OpenAI marks both nullable).
  const { n, size } = body as { n?: unknown; size?: unknown };
  const count = n ?? 1;
  const sizeText = size ?? DEFAULT_SIZE;
  if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > MAX_IMAGES_PER_REQUEST)
    return null;
  const parsed = typeof sizeText === "string" ? parseSize(sizeText) : null;
  return { count, pixels: parsed ? parsed.width * parsed.height : null };
}

/** A decision, or null when Redis could not decide and the fail policy lets the request through. */
function settle(
  outcome: PromiseSettledResult<Decision | null>,
  config: AccountsConfig,
  limiter: "requests" | "images",
  context: { requestId: string; keyId: string },
): Decision | null {
  if (outcome.status === "fulfilled") return outcome.value;
  if (!(outcome.reason instanceof LimiterUnavailable)) throw outcome.reason;
  applyFailPolicy(config, limiter, context, outcome.reason);
  return null;
}

export function generationLimits(): MiddlewareHandler<AppEnv> {
  return async function generationLimits(c, next) {
    const { keyId, plan } = c.var.principal;
    const wanted = await requestedImages(() => c.req.json());
    if (wanted?.pixels != null && wanted.pixels > plan.maxPixels) {
      throw new ApiError(
        "permission_error",
        `size is larger than the ${plan.name} plan allows (${plan.maxPixels} pixels per image)`,
        { param: "size", code: "plan_max_pixels" },
      );
    }
    if (wanted && wanted.count > plan.maxImagesPerRequest) {
      throw new ApiError(
        "permission_error",
        `n is larger than the ${plan.name} plan allows (${plan.maxImagesPerRequest} images per request)`,
        { param: "n", code: "plan_max_images" },
      );
    }

    const config = readAccountsConfig(c.env as AccountsEnv);
    const context = { requestId: c.var.requestId, keyId };
    const [requestOutcome, quotaOutcome] = await Promise.allSettled([
      limitRequest(config, keyId, plan.requestsPerMinute),
      wanted ? reserveImages(config, keyId, plan.imagesPerDay, wanted.count) : Promise.resolve(null),
    ]);
    const reserved = quotaOutcome.status === "fulfilled" && quotaOutcome.value?.success ? wanted!.count : 0;
    const giveBack = async (images: number) => {
      if (images <= 0) return true;
      try {
        await refundImages(config, keyId, plan.imagesPerDay, images);
        return true;
      } catch (error) {
        console.warn(
          JSON.stringify({ level: "warn", event: "quota_refund_failed", keyId, error: String(error) }),
        );
        return false;
      }
    };

    let requests: Decision | null;
    let quota: Decision | null;
    try {
      requests = settle(requestOutcome, config, "requests", context);
      quota = settle(quotaOutcome, config, "images", context);
    } catch (error) {
      await giveBack(reserved); // fail-closed 503: nothing will be delivered
      throw error;
    }
    if (requests && !requests.success) {
      await giveBack(reserved);
      throw new ApiError(
        "rate_limit_error",
        `Rate limit of ${requests.state.limit} requests per minute reached for this API key`,
        { code: "rate_limit_exceeded", headers: retryHeaders(requests.state) },
      );
    }
    if (quota && !quota.success) {
      throw new ApiError(
        "rate_limit_error",
        `Daily quota of ${quota.state.limit} images reached for this API key (${quota.state.remaining} left)`,
        { code: "daily_quota_exceeded", headers: retryHeaders(quota.state) },
      );
    }

    await next();
    if (requests) applyLimitHeaders(c.res.headers, requests.state);
    if (!quota) return;
    let state: LimitState = quota.state;
    const delivered = c.res.status >= 200 && c.res.status < 300 ? c.var.servedImages.length : 0;
    // Inline rather than waitUntil: only failures and replays get here, and the headers below must be true.
    if (await giveBack(reserved - delivered)) {
      state = { ...state, remaining: Math.min(state.limit, state.remaining + reserved - delivered) };
    }
    applyLimitHeaders(c.res.headers, state);
  };
}
