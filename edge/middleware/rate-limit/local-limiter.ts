/**
 * The in-isolate fallback of the per-minute request limit, used only while Redis cannot decide (degraded mode,
 * fail-policy.ts). A fixed one-minute window per key and limit, counted in this isolate's memory: it does not see
 * other isolates' requests, so with Redis down a key gets at most `limit` requests per minute per isolate that
 * serves it (instead of no bound at all). Bounded in size: the oldest windows are dropped first.
 *
 * @module
 */
import type { LimitState } from "./headers";

const WINDOW_MS = 60_000;
const MAX_KEYS = 10_000;

interface Window {
  start: number;
  count: number;
}

const windows = new Map<string, Window>();

/** Counts one request for `keyId`; the decision and the limit state for the response headers. */
export function localRequestDecision(
  keyId: string,
  limit: number,
  now = Date.now(),
): { success: boolean; state: LimitState } {
  const id = `${keyId}\n${limit}`;
  const start = Math.floor(now / WINDOW_MS) * WINDOW_MS;
  let window = windows.get(id);
  if (!window || window.start !== start) {
    windows.delete(id);
    if (windows.size >= MAX_KEYS) windows.delete(windows.keys().next().value as string);
    window = { start, count: 0 };
    windows.set(id, window);
  }
  const success = window.count < limit;
  if (success) window.count += 1;
  return {
    success,
    state: {
      policy: "requests",
      limit,
      remaining: Math.max(0, limit - window.count),
      resetAt: start + WINDOW_MS,
      windowSeconds: WINDOW_MS / 1000,
    },
  };
}
