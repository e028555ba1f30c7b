/**
 * The secret that keys cache keys (shared/private-cache-key.ts): CACHE_KEY_SECRET, or, when a deployment has not
 * set one, a key derived from GPU_HMAC_SECRET (HMAC with a fixed label, so the HMAC secret itself is never used
 * for two purposes). Set CACHE_KEY_SECRET explicitly in production: rotating GPU_HMAC_SECRET would otherwise
 * change every cache key (a cold cache, nothing worse). Derived once per isolate and secret.
 * @module
 */
import { hmacSha256Hex } from "../../shared/hmac";
import type { EdgeConfig } from "../config";
import { ApiError } from "../errors";

const derived = new Map<string, Promise<string>>();

export function cacheKeySecret(config: EdgeConfig): Promise<string> {
  if (config.cacheKeySecret) return Promise.resolve(config.cacheKeySecret);
  if (!config.gpuHmacSecret) {
    // Without either secret no image can be generated either; refuse rather than fall back to guessable keys.
    throw new ApiError("service_unavailable", "Image generation is not configured on this deployment", {
      code: "cache_key_secret_missing",
      headers: { "retry-after": "60" },
    });
  }
  let secret = derived.get(config.gpuHmacSecret);
  if (!secret) {
    secret = hmacSha256Hex(config.gpuHmacSecret, "zi-cache-key-secret-v1");
    derived.set(config.gpuHmacSecret, secret);
  }
  return secret;
}
