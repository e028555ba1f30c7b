/**
 * Per-request context: a request id (hono/request-id: a client `x-request-id` of word characters is kept,
 * anything else is replaced) echoed as `x-request-id`, and the list of images served by this request,
 * which billing middleware reads after `await next()`.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { requestId } from "hono/request-id";
import type { AppEnv } from "../../types";

export function requestContext(): MiddlewareHandler<AppEnv> {
  const assignId = requestId({
    headerName: "x-request-id",
    // Short enough that "{id}-{imageIndex}" fits the GPU protocol's 128-character request_id.
    limitLength: 64,
    generator: () => `req_${crypto.randomUUID().replaceAll("-", "")}`,
  });
  return async function requestContext(c, next) {
    c.set("servedImages", []);
    return assignId(c, next);
  };
}
