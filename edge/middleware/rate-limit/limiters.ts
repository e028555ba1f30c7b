/**
 * @upstash/ratelimit limiters per plan, and the policy for Redis failures.
 *
 * Per API key: a sliding window of requests per minute (`zi:rpm:<keyId>`) and a fixed UTC-day window of
 * images (`zi:img:<keyId>`, consumed by the number of images requested, refunded for images not delivered).
 * Limiter objects are cached per isolate by their parameters; counters live in Redis, so a plan change
 * applies to the next request with the counts kept.
 *
 * @module
 */
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis/cloudflare";
import type { AccountsConfig } from "../../accounts/config";
import type { LimitState } from "./headers";

export const REQUEST_WINDOW_SECONDS = 60;
export const QUOTA_WINDOW_SECONDS = 86_400;

const redisClients = new Map<string, Redis>();
const limiters = new Map<string, Ratelimit>();

function redisFor(config: AccountsConfig): Redis {
  const id = `${config.redisUrl}\n${config.redisToken}`;
  let redis = redisClients.get(id);
  if (!redis) {
    redis = new Redis({
      url: config.redisUrl,
      token: config.redisToken,
      // One quick retry for a dropped connection; longer outages go to the fail policy instead of stalling.
      retry: { retries: 1, backoff: () => 50 },
      enableTelemetry: false,
      // On (the default, stated because it matters): the request limit and the image quota are checked
      // concurrently, and auto-pipelining sends both in one HTTP round trip.
      enableAutoPipelining: true,
    });
    redisClients.set(id, redis);
  }
  return redis;
}

function limiterFor(config: AccountsConfig, kind: "rpm" | "img", limit: number): Ratelimit {
  const id = `${config.redisUrl}\n${config.redisToken}\n${kind}\n${limit}\n${config.rateLimitTimeoutMs}`;
  let limiter = limiters.get(id);
  if (!limiter) {
    limiter = new Ratelimit({
      redis: redisFor(config),
      prefix: `zi:${kind}`,
      limiter:
        kind === "rpm"
          ? Ratelimit.slidingWindow(limit, `${REQUEST_WINDOW_SECONDS} s`)
          : Ratelimit.fixedWindow(limit, "1 d"),
      timeout: config.rateLimitTimeoutMs,
      // The in-isolate block list suits the request limit (rate 1). The quota is consumed by variable
      // amounts and refunded, so a local "blocked until midnight" would be wrong there.
      ephemeralCache: kind === "rpm" ? new Map() : false,
    });
    limiters.set(id, limiter);
  }
  return limiter;
}

/** Thrown when Redis cannot decide (error, refused connection, bad token or timeout). */
export class LimiterUnavailable extends Error {}

async function decide(limiter: Ratelimit, identifier: string, rate?: number) {
  let result: Awaited<ReturnType<Ratelimit["limit"]>>;
  try {
    result = await limiter.limit(identifier, rate === undefined ? undefined : { rate });
  } catch (error) {
    throw new LimiterUnavailable(error instanceof Error ? error.message : String(error));
  }
  // On timeout the library answers success; that is not a decision, so the fail policy applies.
  if (result.reason === "timeout") throw new LimiterUnavailable("rate limiter timed out");
  return result;
}

export interface Decision {
  success: boolean;
  state: LimitState;
}

/** Counts one request against the key's per-minute limit. */
export async function limitRequest(
  config: AccountsConfig,
  keyId: string,
  perMinute: number,
): Promise<Decision> {
  const result = await decide(limiterFor(config, "rpm", perMinute), keyId);
  return {
    success: result.success,
    state: {
      policy: "requests",
      limit: result.limit,
      remaining: result.remaining,
      resetAt: result.reset,
      windowSeconds: REQUEST_WINDOW_SECONDS,
    },
  };
}

/**
 * Reserves `images` from the key's daily quota. A denied reservation is given back at once, so a request
 * for more images than remain does not eat the rest (under concurrency, requests near the quota may be
 * refused conservatively; the quota is never exceeded).
 */
export async function reserveImages(
  config: AccountsConfig,
  keyId: string,
  perDay: number,
  images: number,
): Promise<Decision> {
  const limiter = limiterFor(config, "img", perDay);
  const result = await decide(limiter, keyId, images);
  let remaining = result.remaining;
  if (!result.success) {
    const refund = await decide(limiter, keyId, -images);
    remaining = refund.remaining;
  }
  return {
    success: result.success,
    state: {
      policy: "images",
      limit: result.limit,
      remaining,
      resetAt: result.reset,
      windowSeconds: QUOTA_WINDOW_SECONDS,
    },
  };
}

/** Gives back images reserved but not delivered (failed generation, error response). */
export async function refundImages(config: AccountsConfig, keyId: string, perDay: number, images: number) {
  if (images <= 0) return;
  await decide(limiterFor(config, "img", perDay), keyId, -images);
}
