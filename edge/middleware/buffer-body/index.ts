/**
 * Reads the request body once, keeps it in Hono's body cache (so `c.req.json()` / validators reuse it) and
 * re-installs it as a fresh stream on `c.req.raw`. Middleware that must see the body before the route
 * (idempotency fingerprint, image quota) would otherwise leave a consumed stream for the route's own body
 * guard, which reads `c.req.raw.body` again when the client sent no Content-Length.
 * Mount after the JSON body guard, which bounds what is read here.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../types";

export function bufferBody(): MiddlewareHandler<AppEnv> {
  return async function bufferBody(c, next) {
    if (c.req.raw.body) {
      const bytes = await c.req.arrayBuffer();
      c.req.raw = new Request(c.req.raw, { body: bytes });
    }
    await next();
  };
}
