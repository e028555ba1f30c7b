/**
 * API-key authentication: `Authorization: Bearer zi_live_…` -> `c.var.principal` (key, account, plan).
 * Missing, malformed, unknown or revoked keys -> 401; a suspended account -> 403; a key without the scope a
 * route requires (`requireScope`) -> 403. All answers use the shared error envelope.
 *
 * Lookups go through the isolate's {@link principalCache} (TTL `AUTH_CACHE_TTL_MS`, <= 60 s), then D1.
 * The plaintext key is never logged or stored; only its SHA-256 is looked up.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { hashApiKey, isWellFormedKey } from "../../accounts/api-key";
import { type AccountsEnv, readAccountsConfig } from "../../accounts/config";
import { type PrincipalCache, principalCache } from "../../accounts/principal-cache";
import type { Scope } from "../../accounts/scopes";
import { AccountStore, type Principal } from "../../accounts/store";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";

declare module "hono" {
  interface ContextVariableMap {
    /** The authenticated caller; set by `apiKeyAuth`. */
    principal: Principal;
  }
}

export interface ApiKeyAuthOptions {
  /** Defaults to the isolate-wide cache that admin revocations evict. */
  cache?: PrincipalCache;
  /** `last_used_at` is written at most this often per key and isolate (default 60 s), off the response path. */
  touchIntervalMs?: number;
}

const CHALLENGE = { "www-authenticate": 'Bearer realm="z-image"' };

function unauthorized(message: string, code: string): ApiError {
  return new ApiError("authentication_error", message, { code, headers: CHALLENGE });
}

function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : "";
}

export function apiKeyAuth(options: ApiKeyAuthOptions = {}): MiddlewareHandler<AppEnv> {
  const cache = options.cache ?? principalCache;
  const touchIntervalMs = options.touchIntervalMs ?? 60_000;
  const lastTouched = new Map<string, number>();

  return async function apiKeyAuth(c, next) {
    const token = bearerToken(c.req.header("authorization"));
    if (token === null) {
      throw unauthorized("Missing API key: send `Authorization: Bearer <key>`", "missing_api_key");
    }
    if (!isWellFormedKey(token)) throw unauthorized("Invalid API key", "invalid_api_key");

    const { authCacheTtlMs } = readAccountsConfig(c.env as AccountsEnv);
    const hash = await hashApiKey(token);
    let principal = cache.get(hash, authCacheTtlMs);
    if (principal === undefined) {
      principal = await new AccountStore(c.env.DB).principalByKeyHash(hash);
      cache.set(hash, principal);
    }
    if (!principal) throw unauthorized("Invalid API key", "invalid_api_key");
    if (!principal.keyActive) throw unauthorized("This API key has been revoked", "api_key_revoked");
    if (!principal.accountActive) {
      throw new ApiError("permission_error", "This account is suspended", { code: "account_suspended" });
    }
    c.set("principal", principal);

    const now = Date.now();
    if (now - (lastTouched.get(principal.keyId) ?? 0) >= touchIntervalMs) {
      lastTouched.set(principal.keyId, now);
      const touch = new AccountStore(c.env.DB).touchKey(principal.keyId, now).catch((error: unknown) => {
        console.error(
          JSON.stringify({
            level: "error",
            event: "key_touch_failed",
            keyId: principal.keyId,
            error: String(error),
          }),
        );
      });
      c.executionCtx.waitUntil(touch);
    }
    await next();
  };
}

/** Answers 403 unless the authenticated key carries `scope`. Mount after `apiKeyAuth`. */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async function requireScope(c, next) {
    if (!c.var.principal.scopes.includes(scope)) {
      throw new ApiError("permission_error", `This API key lacks the "${scope}" scope`, {
        code: "missing_scope",
      });
    }
    await next();
  };
}
