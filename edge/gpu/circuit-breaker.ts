/**
 * Per-backend health for the GPU client: a consecutive-failure circuit breaker plus a "busy until" embargo
 * from 503 Retry-After answers (load shedding is not a failure, but the backend asked us to stay away).
 *
 * closed --(failureThreshold consecutive failures)--> open --(cooldownMs)--> half-open (one trial call)
 * half-open --success--> closed; half-open --failure--> open again.
 *
 * State is per isolate (module scope in the Worker / Durable Object); good enough to stop hammering a dead
 * backend, and it needs no storage round-trip on the hot path.
 * @module
 */

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (default 3). */
  failureThreshold?: number;
  /** How long an open circuit skips the backend (default 30000 ms). */
  cooldownMs?: number;
}

interface BackendState {
  failures: number;
  openUntil: number;
  busyUntil: number;
  trialInFlight: boolean;
}

export class CircuitBreaker {
  readonly #states = new Map<string, BackendState>();
  readonly failureThreshold: number;
  readonly cooldownMs: number;

  constructor(opts: CircuitBreakerOptions = {}) {
    this.failureThreshold = opts.failureThreshold ?? 3;
    this.cooldownMs = opts.cooldownMs ?? 30_000;
  }

  #state(backend: string): BackendState {
    let s = this.#states.get(backend);
    if (!s) {
      s = { failures: 0, openUntil: 0, busyUntil: 0, trialInFlight: false };
      this.#states.set(backend, s);
    }
    return s;
  }

  /** "closed" | "open" | "half-open" at time `now`. */
  stateOf(backend: string, now: number): "closed" | "open" | "half-open" {
    const s = this.#state(backend);
    if (s.failures < this.failureThreshold) return "closed";
    return now < s.openUntil ? "open" : "half-open";
  }

  /** Earliest time the backend may be called again (now if it may be called now). */
  availableAt(backend: string, now: number): number {
    const s = this.#state(backend);
    const state = this.stateOf(backend, now);
    let at = Math.max(now, s.busyUntil);
    if (state === "open") at = Math.max(at, s.openUntil);
    // Half-open admits a single trial at a time; others wait for its verdict (re-checked after one cooldown).
    if (state === "half-open" && s.trialInFlight) at = Math.max(at, now + this.cooldownMs);
    return at;
  }

  /** Marks the start of a call (needed so half-open admits exactly one trial). */
  begin(backend: string, now: number): void {
    if (this.stateOf(backend, now) === "half-open") this.#state(backend).trialInFlight = true;
  }

  recordSuccess(backend: string): void {
    const s = this.#state(backend);
    s.failures = 0;
    s.openUntil = 0;
    s.trialInFlight = false;
  }

  recordFailure(backend: string, now: number): void {
    const s = this.#state(backend);
    s.failures += 1;
    s.trialInFlight = false;
    if (s.failures >= this.failureThreshold) s.openUntil = now + this.cooldownMs;
  }

  /** A 503 with Retry-After: not a failure, but do not call before `untilMs`. */
  recordBusy(backend: string, untilMs: number): void {
    const s = this.#state(backend);
    s.busyUntil = Math.max(s.busyUntil, untilMs);
    s.trialInFlight = false;
  }
}

/** Parses Retry-After (delta-seconds or HTTP-date) into milliseconds from now; null when absent/invalid. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
