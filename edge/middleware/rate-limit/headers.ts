/**
 * Rate-limit response headers:
 * - `RateLimit-Policy` / `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10, structured fields):
 *   `RateLimit-Policy: "requests";q=120;w=60` and `RateLimit: "requests";r=87;t=42`;
 * - `x-ratelimit-limit` / `-remaining` / `-reset` (reset in seconds from now) for the per-minute request limit,
 *   and `x-ratelimit-{limit,remaining,reset}-images` for the daily image quota;
 * - OpenAI's names for the request limit: `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests` and
 *   `x-ratelimit-reset-requests` (a duration such as `1s`, `6m0s`, `250ms`, as OpenAI writes it);
 * - on 429: `Retry-After` (seconds) and `retry-after-ms`, which the official openai client honours.
 *
 * @module
 */

export interface LimitState {
  /** Policy name in the structured fields: "requests" (per minute) or "images" (per UTC day). */
  policy: "requests" | "images";
  limit: number;
  remaining: number;
  /** Unix ms when the window resets. */
  resetAt: number;
  windowSeconds: number;
}

export function secondsUntil(resetAt: number, now: number): number {
  return Math.max(0, Math.ceil((resetAt - now) / 1000));
}

function policyItem(state: LimitState): string {
  const unit = state.policy === "images" ? ';qu="images"' : "";
  return `"${state.policy}";q=${state.limit};w=${state.windowSeconds}${unit}`;
}

function remainingItem(state: LimitState, now: number): string {
  return `"${state.policy}";r=${state.remaining};t=${secondsUntil(state.resetAt, now)}`;
}

/** A wait as OpenAI's `x-ratelimit-reset-*` headers write it: `250ms`, `1s`, `6m0s`, `1h2m3s`. */
export function openAiDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** Appends this limit to the structured-field lists and sets its x-ratelimit-* headers. */
export function applyLimitHeaders(headers: Headers, state: LimitState, now = Date.now()): void {
  for (const [name, item] of [
    ["ratelimit-policy", policyItem(state)],
    ["ratelimit", remainingItem(state, now)],
  ] as const) {
    const existing = headers.get(name);
    headers.set(name, existing ? `${existing}, ${item}` : item);
  }
  const suffix = state.policy === "images" ? "-images" : "";
  headers.set(`x-ratelimit-limit${suffix}`, String(state.limit));
  headers.set(`x-ratelimit-remaining${suffix}`, String(state.remaining));
  headers.set(`x-ratelimit-reset${suffix}`, String(secondsUntil(state.resetAt, now)));
  if (state.policy === "requests") {
    headers.set("x-ratelimit-limit-requests", String(state.limit));
    headers.set("x-ratelimit-remaining-requests", String(state.remaining));
    headers.set("x-ratelimit-reset-requests", openAiDuration(state.resetAt - now));
  }
}

/** The headers of a 429: the limit's own headers plus when to retry. */
export function retryHeaders(state: LimitState, now = Date.now()): Record<string, string> {
  const headers = new Headers();
  applyLimitHeaders(headers, state, now);
  const waitMs = Math.max(0, state.resetAt - now);
  headers.set("retry-after", String(Math.max(1, Math.ceil(waitMs / 1000))));
  headers.set("retry-after-ms", String(waitMs));
  // A spent daily quota will not come back within a client's retry budget: tell the openai client not to retry.
  if (state.policy === "images") headers.set("x-should-retry", "false");
  return Object.fromEntries(headers);
}
