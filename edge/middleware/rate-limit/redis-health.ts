/**
 * Per-isolate health of the rate-limit Redis, so a dead or hung Redis costs its timeout once, not on every
 * request: after a failure (error or no answer within RATE_LIMIT_TIMEOUT_MS) the limiters skip Redis for
 * RATE_LIMIT_COOLDOWN_MS and decide in degraded mode (see fail-policy.ts). When the cooldown is over, one request
 * probes Redis while the others stay degraded; its success closes the breaker, its failure restarts the cooldown.
 *
 * @module
 */

interface Health {
  /** Unix ms until which Redis is not called (0 = healthy). */
  openUntil: number;
  /** A probe is in flight: others stay degraded until it settles. */
  probing: boolean;
}

const health = new Map<string, Health>();

/** Health is tracked per Redis URL and token (a wrong token is that deployment's failure, not Redis'). */
export function redisHealthId(config: { redisUrl: string; redisToken: string }): string {
  return `${config.redisUrl}\n${config.redisToken}`;
}

function stateOf(redisId: string): Health {
  let state = health.get(redisId);
  if (!state) {
    state = { openUntil: 0, probing: false };
    health.set(redisId, state);
  }
  return state;
}

export type Admission = "call" | "probe" | "skip";

/** Whether this request may call Redis now: `call` (healthy), `probe` (the one trial call) or `skip`. */
export function admitRedisCall(redisId: string, now = Date.now()): Admission {
  const state = stateOf(redisId);
  if (state.openUntil === 0) return "call";
  if (now < state.openUntil || state.probing) return "skip";
  state.probing = true;
  return "probe";
}

export function recordRedisSuccess(redisId: string): void {
  const state = stateOf(redisId);
  state.openUntil = 0;
  state.probing = false;
}

export function recordRedisFailure(redisId: string, cooldownMs: number, now = Date.now()): void {
  const state = stateOf(redisId);
  state.openUntil = now + cooldownMs;
  state.probing = false;
}

/** Seconds until Redis will be tried again (at least 1): the Retry-After of a degraded 503. */
export function redisRetryAfterSeconds(redisId: string, now = Date.now()): number {
  const state = stateOf(redisId);
  return Math.max(1, Math.ceil((state.openUntil - now) / 1000));
}
