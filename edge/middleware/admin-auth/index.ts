/**
 * Guards `/v1/admin/*` with its own credential: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant
 * time (SHA-256 of both sides, then `crypto.subtle.timingSafeEqual`, so neither content nor length leaks).
 * API keys never pass here. While ADMIN_TOKEN is unset the admin API answers 503.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { type AccountsEnv, readAccountsConfig } from "../../accounts/config";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}

/** Constant-time string equality for secrets. */
export async function secretsEqual(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(presented), digest(expected)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async function adminAuth(c, next) {
    const { adminToken } = readAccountsConfig(c.env as AccountsEnv);
    if (!adminToken) {
      throw new ApiError("service_unavailable", "The admin API is not configured (ADMIN_TOKEN is unset)", {
        code: "admin_not_configured",
      });
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
    if (!match || !(await secretsEqual(match[1], adminToken))) {
      throw new ApiError("authentication_error", "Invalid or missing admin credential", {
        code: "invalid_admin_token",
        headers: { "www-authenticate": 'Bearer realm="z-image-admin"' },
      });
    }
    await next();
  };
}
