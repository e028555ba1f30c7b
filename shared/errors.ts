/**
 * The one error envelope of the public API and of the edge<->GPU protocol, shaped like OpenAI's:
 * `{"error":{"message","type","param","code"}}`.
 * @module
 */
import { z } from "zod";

export const API_ERROR_TYPES = [
  "invalid_request_error",
  "authentication_error",
  "permission_error",
  "not_found_error",
  "rate_limit_error",
  "idempotency_error",
  "server_error",
  "service_unavailable",
] as const;

export type ApiErrorType = (typeof API_ERROR_TYPES)[number];

export const errorEnvelopeSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.enum(API_ERROR_TYPES),
      param: z.string().nullable(),
      code: z.string().nullable(),
    }),
  })
  .meta({
    id: "ErrorEnvelope",
    example: {
      error: {
        message: "size must be WxH",
        type: "invalid_request_error",
        param: "size",
        code: "invalid_size",
      },
    },
  });

export type ErrorEnvelope = z.infer<typeof errorEnvelopeSchema>;

/**
 * Builds an error envelope.
 * @param type - error class the client can switch on
 * @param message - human-readable, says how to fix the input where possible
 * @param opts.param - the offending request field (default null)
 * @param opts.code - a stable machine-readable code (default null)
 * @example errorBody("invalid_request_error", "n must be 1-4", { param: "n", code: "out_of_range" })
 */
export function errorBody(
  type: ApiErrorType,
  message: string,
  opts: { param?: string | null; code?: string | null } = {},
): ErrorEnvelope {
  return { error: { message, type, param: opts.param ?? null, code: opts.code ?? null } };
}

/** Default HTTP status for each error type; callers may pick a more precise one (e.g. 413, 415, 405, 504). */
export const ERROR_STATUS: Record<ApiErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  rate_limit_error: 429,
  idempotency_error: 409,
  server_error: 500,
  service_unavailable: 503,
};
