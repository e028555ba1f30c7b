/**
 * In-isolate cache of key lookups (hash -> principal, or null for unknown keys), so most requests skip D1.
 * An entry is trusted for at most the configured TTL (<= 60 s): that is the bound on how long a key revoked
 * through another isolate keeps working. Revocation through this isolate evicts the entry at once.
 *
 * @module
 */
import type { Principal } from "./store";

interface Entry {
  principal: Principal | null;
  fetchedAt: number;
}

export class PrincipalCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 10_000;
    // Read the clock through Date each time (not a captured Date.now) so test clocks apply.
    this.#now = options.now ?? (() => Date.now());
  }

  /** The cached lookup if younger than `ttlMs`; `undefined` when absent or stale. */
  get(hash: string, ttlMs: number): Principal | null | undefined {
    const entry = this.#entries.get(hash);
    if (!entry) return undefined;
    if (this.#now() - entry.fetchedAt >= ttlMs) {
      this.#entries.delete(hash);
      return undefined;
    }
    return entry.principal;
  }

  set(hash: string, principal: Principal | null): void {
    this.#entries.delete(hash);
    // Map keeps insertion order: dropping the first entry evicts the oldest lookup.
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(hash, { principal, fetchedAt: this.#now() });
  }

  delete(hash: string): void {
    this.#entries.delete(hash);
  }

  /** Drops every entry of an account (after a plan or status change through this isolate). */
  deleteAccount(accountId: string): void {
    for (const [hash, entry] of this.#entries) {
      if (entry.principal?.accountId === accountId) this.#entries.delete(hash);
    }
  }
}

/** The isolate's cache, shared by the auth middleware and the admin routes (which evict on revoke). */
export const principalCache = new PrincipalCache();
