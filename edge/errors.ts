/**
 * Edge error handling: every error a client sees is the shared envelope (shared/errors.ts).
 * Throw `ApiError` for client-visible errors; `onError` maps everything else, logging unknown errors.
 * @module
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ApiErrorType, ERROR_STATUS, errorBody } from "../shared/errors";
import type { AppEnv } from "./types";

export interface ApiErrorOptions {
  status?: ContentfulStatusCode;
  param?: string | null;
  code?: string | null;
  headers?: Record<string, string>;
}

/** A client-visible error rendered as the error envelope. */
export class ApiError extends HTTPException {
  readonly type: ApiErrorType;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(type: ApiErrorType, message: string, opts: ApiErrorOptions = {}) {
    super(opts.status ?? (ERROR_STATUS[type] as ContentfulStatusCode), { message });
    this.type = type;
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = opts.headers ?? {};
  }

  override getResponse(): Response {
    return Response.json(errorBody(this.type, this.message, { param: this.param, code: this.code }), {
      status: this.status,
      headers: this.headers,
    });
  }
}

function typeForStatus(status: number): ApiErrorType {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status === 503) return "service_unavailable";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

function withRequestId(c: Context<AppEnv>, res: Response): Response {
  const id = c.get("requestId");
  if (id && !res.headers.has("x-request-id")) res.headers.set("x-request-id", id);
  return res;
}

/** The app's single error handler. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof ApiError) return withRequestId(c, err.getResponse());
  if (err instanceof HTTPException) {
    // Errors raised by Hono itself (e.g. malformed JSON in the validator) keep their status.
    const type = typeForStatus(err.status);
    const message = err.status >= 500 ? "Internal error" : err.message || "Bad request";
    return withRequestId(c, c.json(errorBody(type, message), err.status as ContentfulStatusCode));
  }
  console.error(JSON.stringify({ level: "error", requestId: c.get("requestId"), error: String(err) }));
  return withRequestId(c, c.json(errorBody("server_error", "Internal error"), 500));
};

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  c.json(
    errorBody("not_found_error", `No route for ${c.req.method} ${c.req.path}`, { code: "unknown_route" }),
    404,
  );
