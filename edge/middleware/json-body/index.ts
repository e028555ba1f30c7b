/**
 * Guards JSON endpoints before validation: `content-type: application/json` (else 415) and a body size
 * limit (else 413, checked on Content-Length and on the streamed body by hono/body-limit).
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../../errors";
import type { AppEnv } from "../../types";

export interface JsonBodyOptions {
  /** Largest accepted body in bytes; read per request because it comes from the Worker's env. */
  maxBytes: (c: Context<AppEnv>) => number;
}

export function jsonBody(options: JsonBodyOptions): MiddlewareHandler<AppEnv> {
  return async function jsonBody(c, next) {
    const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (type !== "application/json") {
      throw new ApiError("invalid_request_error", "Content-Type must be application/json", {
        status: 415,
        code: "unsupported_media_type",
      });
    }
    const max = options.maxBytes(c);
    const limit = bodyLimit({
      maxSize: max,
      onError: () => {
        throw new ApiError("invalid_request_error", `Request body is larger than ${max} bytes`, {
          status: 413,
          code: "body_too_large",
        });
      },
    });
    return limit(c, next);
  };
}
