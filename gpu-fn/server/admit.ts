/**
 * What the plain and the streaming inference routes share: HMAC verification over the route's own path,
 * readiness, JSON + schema validation, and the mapping of a failed generation to status + envelope fields.
 * @module
 */
import type { z } from "zod";
import type { ApiErrorType } from "../../shared/errors";
import { type NonceStore, verifyRequest } from "../../shared/hmac";
import { ClientGoneError, DeadlineExceededError, DrainingError, QueueFullError } from "./batcher";
import { UnprocessableError } from "./infer-service";
import type { ServiceState } from "./service-state";

export interface Refusal {
  status: number;
  type: ApiErrorType;
  message: string;
  param?: string;
  code: string;
}

const HMAC_CODES = {
  missing: "missing_signature",
  bad_signature: "bad_signature",
  stale: "stale_timestamp",
  replay: "replayed_nonce",
} as const;

/** Verifies, checks readiness and parses; returns the request or why it is refused. */
export async function admitInfer<S extends z.ZodType>(opts: {
  path: string;
  body: Uint8Array;
  headers: Headers;
  hmac: { secret: string; nonces: NonceStore; maxSkewMs?: number };
  state: ServiceState;
  schema: S;
}): Promise<{ ok: true; request: z.infer<S> } | { ok: false; refusal: Refusal }> {
  const verdict = await verifyRequest({
    secret: opts.hmac.secret,
    method: "POST",
    path: opts.path,
    body: opts.body,
    headers: opts.headers,
    nonces: opts.hmac.nonces,
    maxSkewMs: opts.hmac.maxSkewMs,
  });
  if (!verdict.ok) {
    const refusal: Refusal = {
      status: 401,
      type: "authentication_error",
      message: `request signature rejected: ${verdict.reason}`,
      code: HMAC_CODES[verdict.reason],
    };
    return { ok: false, refusal };
  }
  if (!opts.state.ready) {
    const draining = opts.state.phase === "draining";
    const refusal: Refusal = {
      status: 503,
      type: "service_unavailable",
      message: draining ? "server is shutting down" : "models are not ready yet",
      code: draining ? "draining" : "not_ready",
    };
    return { ok: false, refusal };
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(opts.body));
  } catch {
    return {
      ok: false,
      refusal: {
        status: 400,
        type: "invalid_request_error",
        message: "body is not valid JSON",
        code: "invalid_json",
      },
    };
  }
  const parsed = opts.schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue.path.join(".") || null;
    const refusal: Refusal = {
      status: 400,
      type: "invalid_request_error",
      message: `${param ?? "body"}: ${issue.message}`,
      param: param ?? undefined,
      code: "invalid_parameter",
    };
    return { ok: false, refusal };
  }
  return { ok: true, request: parsed.data };
}

/** A failed generation as status + envelope fields (the plain route answers it, the stream sends it as an event). */
export function failureOf(err: unknown): Refusal & { unexpected: boolean } {
  const known = (r: Refusal) => ({ ...r, unexpected: false });
  if (err instanceof UnprocessableError) {
    return known({
      status: 422,
      type: "invalid_request_error",
      message: err.message,
      param: err.param,
      code: "unsupported_value",
    });
  }
  if (err instanceof QueueFullError) {
    return known({
      status: 503,
      type: "service_unavailable",
      message: "queue is full, retry later",
      code: "queue_full",
    });
  }
  if (err instanceof DrainingError) {
    return known({
      status: 503,
      type: "service_unavailable",
      message: "server is shutting down",
      code: "draining",
    });
  }
  if (err instanceof DeadlineExceededError) {
    return known({ status: 504, type: "server_error", message: err.message, code: "deadline_exceeded" });
  }
  if (err instanceof ClientGoneError) {
    return known({
      status: 499,
      type: "invalid_request_error",
      message: err.message,
      code: "client_closed_request",
    });
  }
  return {
    status: 500,
    type: "server_error",
    message: `image generation failed: ${(err as Error).message}`,
    code: "model_failure",
    unexpected: true,
  };
}
