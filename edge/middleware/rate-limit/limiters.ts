/**
 * @upstash/ratelimit limiters per plan, and the policy for Redis failures.
 *
 * Per API key: a sliding window of requests per minute (`zi:rpm:<keyId>`) and a fixed UTC-day window of
 * images (`zi:img:<keyId>`, consumed by the number of images requested, refunded for images not delivered).
 * Counters live in Redis, so a plan change applies to the next request with the counts kept.
 *
 * Why one Redis client per request ({@link LimiterSession}), not one per isolate: @upstash/redis'
 * auto-pipelining batches every command issued in the same tick into one HTTP call, and with a shared client
 * that call belongs to whichever request issued it first. In workerd a burst of concurrent requests then waits
 * on I/O owned by another request's context; on a cold isolate (no ephemeral block list yet) ~190 of 200
 * decisions ran into the timeout and the limit failed open (measured, docs/reliability.md). A per-request
 * client still pipelines the request limit and the image quota of one request into one round trip. The
 * in-isolate block lists (pure memory, no I/O) stay shared.
 *
 * The library's own timeout resolves as "success" (fail-open) and races a busy event loop; it is off. The
 * deadline here (RATE_LIMIT_TIMEOUT_MS) turns a silent Redis into {@link LimiterUnavailable}, and a reservation
 * that Redis still grants after its deadline is given back (the request was already refused).
 *
 * @module
 */
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis/cloudflare";
import type { AccountsConfig } from "../../accounts/config";
import type { LimitState } from "./headers";
import { admitRedisCall, recordRedisFailure, recordRedisSuccess, redisHealthId } from "./redis-health";

export const REQUEST_WINDOW_SECONDS = 60;
export const QUOTA_WINDOW_SECONDS = 86_400;

/** In-isolate block lists of the request limiter, per limit (memory only: safe to share across requests). */
const blockLists = new Map<string, Map<string, number>>();

function blockListFor(limit: number): Map<string, number> {
  let list = blockLists.get(String(limit));
  if (!list) {
    list = new Map();
    blockLists.set(String(limit), list);
  }
  return list;
}

/** Thrown when Redis cannot decide (error, refused connection, bad token, timeout, or cooling down). */
export class LimiterUnavailable extends Error {}

export interface Decision {
  success: boolean;
  state: LimitState;
}

type LimitResult = Awaited<ReturnType<Ratelimit["limit"]>>;

/**
 * The limiters of one request. Calls issued in the same tick share one HTTP round trip to Redis.
 * `waitUntil` (the request's ExecutionContext) keeps late refunds alive after the response.
 */
export class LimiterSession {
  readonly #config: AccountsConfig;
  readonly #waitUntil: (promise: Promise<unknown>) => void;
  #redis: Redis | null = null;
  #admission: ReturnType<typeof admitRedisCall> | null = null;
  readonly #limiters = new Map<string, Ratelimit>();

  constructor(config: AccountsConfig, waitUntil?: (promise: Promise<unknown>) => void) {
    this.#config = config;
    this.#waitUntil = waitUntil ?? ((promise) => void promise.catch(() => {}));
  }

  #limiter(kind: "rpm" | "img", limit: number): Ratelimit {
    const id = `${kind}\n${limit}`;
    let limiter = this.#limiters.get(id);
    if (!limiter) {
      this.#redis ??= new Redis({
        url: this.#config.redisUrl,
        token: this.#config.redisToken,
        // One quick retry for a dropped connection; longer outages go to the fail policy instead of stalling.
        retry: { retries: 1, backoff: () => 50 },
        enableTelemetry: false,
        // The request limit and the image quota of this request go out in one HTTP round trip.
        enableAutoPipelining: true,
      });
      limiter = new Ratelimit({
        redis: this.#redis,
        prefix: `zi:${kind}`,
        limiter:
          kind === "rpm"
            ? Ratelimit.slidingWindow(limit, `${REQUEST_WINDOW_SECONDS} s`)
            : Ratelimit.fixedWindow(limit, "1 d"),
        timeout: 0,
        // The in-isolate block list suits the request limit (rate 1). The quota is consumed by variable
        // amounts and refunded, so a local "blocked until midnight" would be wrong there.
        ephemeralCache: kind === "rpm" ? blockListFor(limit) : false,
      });
      this.#limiters.set(id, limiter);
    }
    return limiter;
  }

  async #decide(kind: "rpm" | "img", limit: number, keyId: string, rate?: number): Promise<LimitResult> {
    const { rateLimitTimeoutMs, rateLimitCooldownMs } = this.#config;
    const redisId = redisHealthId(this.#config);
    // One admission per request: a probe request makes all of its calls.
    this.#admission ??= admitRedisCall(redisId);
    if (this.#admission === "skip") throw new LimiterUnavailable("redis unavailable (cooling down)");
    const call = this.#limiter(kind, limit).limit(keyId, rate === undefined ? undefined : { rate });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new LimiterUnavailable(`rate limiter timed out after ${rateLimitTimeoutMs} ms`));
      }, rateLimitTimeoutMs);
    });
    try {
      const result = await Promise.race([call, deadline]);
      recordRedisSuccess(redisId);
      return result;
    } catch (error) {
      recordRedisFailure(redisId, rateLimitCooldownMs);
      if (timedOut && kind === "img" && rate !== undefined && rate > 0) {
        // The request is refused now; if Redis still counts the reservation, give it back.
        // Waiting for the late answer is bounded too (a hung Redis never answers).
        const giveUp = new Promise<null>((resolve) =>
          setTimeout(() => resolve(null), Math.min(25_000, 10 * rateLimitTimeoutMs)),
        );
        this.#waitUntil(
          Promise.race([call, giveUp]).then((late) =>
            late?.success ? this.#limiter(kind, limit).limit(keyId, { rate: -rate }) : null,
          ),
        );
      } else {
        call.catch(() => {});
      }
      if (error instanceof LimiterUnavailable) throw error;
      throw new LimiterUnavailable(error instanceof Error ? error.message : String(error));
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Counts one request against the key's per-minute limit. */
  async request(keyId: string, perMinute: number): Promise<Decision> {
    const result = await this.#decide("rpm", perMinute, keyId);
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
  async reserve(keyId: string, perDay: number, images: number): Promise<Decision> {
    const result = await this.#decide("img", perDay, keyId, images);
    let remaining = result.remaining;
    if (!result.success) {
      const refund = await this.#decide("img", perDay, keyId, -images);
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
  async refund(keyId: string, perDay: number, images: number): Promise<void> {
    if (images <= 0) return;
    await this.#decide("img", perDay, keyId, -images);
  }
}
