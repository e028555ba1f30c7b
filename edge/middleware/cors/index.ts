/**
 * CORS for browser apps on the public API only: `/v1/images/*`, `/v1/models`, `/v1/usage`, `/v1/jobs` (a web
 * app polls its jobs) and `/openapi.json`. The admin API (`/v1/admin/*`) and the webhook secret
 * (`/v1/webhooks/*`, for servers only) get no CORS at all, so browsers can neither preflight nor read them.
 *
 * Allowed origins come from `CORS_ORIGINS` (comma-separated origins, or `*`; empty = no CORS). Preflights are
 * answered here, before API-key auth and the 405 check, with the requested headers allowed (the openai SDK sends
 * its own `x-stainless-*` headers). Every answer on these paths, errors included, carries
 * `Access-Control-Allow-Origin` and exposes the headers clients read (request id, cache status, rate limits,
 * retry hints, usage). API keys travel in `Authorization`, never in cookies: no credentials mode.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { readConfig } from "../../config";
import type { AppEnv } from "../../types";

/** Route patterns (Hono `app.use` paths) that get CORS. */
export const CORS_PATHS = [
  "/v1/images/*",
  "/v1/models",
  "/v1/models/*",
  "/v1/usage",
  "/v1/jobs",
  "/v1/jobs/*",
  "/openapi.json",
] as const;

/** Response headers a browser app may read besides the CORS-safelisted ones. */
export const CORS_EXPOSE_HEADERS = [
  "x-request-id",
  "x-cache",
  "ratelimit",
  "ratelimit-policy",
  "x-ratelimit-limit",
  "x-ratelimit-remaining",
  "x-ratelimit-reset",
  "x-ratelimit-limit-requests",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-reset-requests",
  "x-ratelimit-limit-images",
  "x-ratelimit-remaining-images",
  "x-ratelimit-reset-images",
  "retry-after",
  "retry-after-ms",
  "x-should-retry",
  "x-usage-images",
  "x-usage-amount-micros",
  "x-original-request-id",
  "etag",
  "content-range",
  "accept-ranges",
  // An async job's answer (202): where to poll it, and that the preference was applied.
  "location",
  "preference-applied",
];

const ALLOW_METHODS = ["GET", "HEAD", "POST", "OPTIONS"];
/** Seconds a browser may cache a preflight answer. */
const MAX_AGE_S = 600;

export function publicCors(): MiddlewareHandler<AppEnv> {
  const common = { allowMethods: ALLOW_METHODS, exposeHeaders: CORS_EXPOSE_HEADERS, maxAge: MAX_AGE_S };
  // `*`: one answer for every origin (no Vary: Origin, so CDNs keep one copy of an image).
  const anyOrigin = cors({ ...common, origin: "*" });
  // A list: the request's Origin is echoed when listed (with Vary: Origin), otherwise no CORS headers.
  const listedOrigins = cors({
    ...common,
    origin: (origin, c) => (readConfig(c.env).corsOrigins.includes(origin) ? origin : null),
  });
  return async function publicCors(c, next) {
    const origins = readConfig(c.env).corsOrigins;
    if (origins.length === 0) return next();
    return origins.includes("*") ? anyOrigin(c, next) : listedOrigins(c, next);
  };
}
