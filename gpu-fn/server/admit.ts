/**
 * What the plain and the streaming inference routes share: HMAC verification over the route's own path (bound
 * to this function's audience, refused when signed before the process started), readiness, the body (JSON, or
 * the image-to-image frame: JSON + RGB8 pixels) + schema validation, and the mapping of a failed generation to
 * status + envelope fields.
 * @module
 */
import type { z } from "zod";
import type { ApiErrorType } from "../../shared/errors";
import { type NonceStore, verifyRequest } from "../../shared/hmac";
import {
  decodeInferFrame,
  isInferFrame,
  MAX_INFER_JSON_BYTES,
  MAX_INIT_IMAGE_PIXELS,
} from "../../shared/protocol";
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
  wrong_audience: "wrong_audience",
  signed_before_start: "signed_before_start",
} as const;

export interface HmacOptions {
  secret: string;
  nonces: NonceStore;
  maxSkewMs?: number;
  /** Base URLs this function is reached at (GPU_AUDIENCE); empty = signatures for any audience pass. */
  audiences?: readonly string[];
  /** Signatures older than this (the process start) are refused: the nonce memory starts empty. */
  notBeforeMs?: number;
}

/** Largest body either route reads: the frame header, the JSON part and the biggest input image. */
export const MAX_INFER_BODY_BYTES = 8 + MAX_INFER_JSON_BYTES + 3 * MAX_INIT_IMAGE_PIXELS;

const invalid = (message: string, code: string, param?: string, status = 400): Refusal => ({
  status,
  type: "invalid_request_error",
  message,
  code,
  ...(param ? { param } : {}),
});

/** Verifies, checks readiness and parses; returns the request or why it is refused. */
export async function admitInfer<S extends z.ZodType>(opts: {
  path: string;
  body: Uint8Array;
  headers: Headers;
  hmac: HmacOptions;
  state: ServiceState;
  schema: S;
}): Promise<{ ok: true; request: z.infer<S>; pixels?: Uint8Array } | { ok: false; refusal: Refusal }> {
  const verdict = await verifyRequest({
    secret: opts.hmac.secret,
    method: "POST",
    path: opts.path,
    body: opts.body,
    headers: opts.headers,
    nonces: opts.hmac.nonces,
    maxSkewMs: opts.hmac.maxSkewMs,
    audiences: opts.hmac.audiences,
    notBeforeMs: opts.hmac.notBeforeMs,
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
  const frame = isInferFrame(opts.body) ? decodeInferFrame(opts.body) : null;
  if (isInferFrame(opts.body) && !frame) {
    return { ok: false, refusal: invalid("malformed request frame", "invalid_frame") };
  }
  if (!frame && opts.body.length > MAX_INFER_JSON_BYTES) {
    return { ok: false, refusal: invalid("JSON request body over 64 KiB", "body_too_large", undefined, 413) };
  }
  let json: unknown;
  try {
    json = JSON.parse(frame ? frame.json : new TextDecoder().decode(opts.body));
  } catch {
    return { ok: false, refusal: invalid("body is not valid JSON", "invalid_json") };
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
  // The frame's pixels must be exactly the init_image it announces (and only with one).
  const init = (parsed.data as { init_image?: { width: number; height: number } }).init_image;
  const expected = init ? init.width * init.height * 3 : 0;
  if ((frame?.pixels.length ?? 0) !== expected || (init && !frame)) {
    const message = init
      ? `init_image: expected ${expected} bytes of RGB8 pixels in a request frame, got ${frame?.pixels.length ?? 0}`
      : "a request frame carries pixels but no init_image";
    return { ok: false, refusal: invalid(message, "invalid_init_image", "init_image") };
  }
  if (init && init.width * init.height > MAX_INIT_IMAGE_PIXELS) {
    const message = `init_image: over ${MAX_INIT_IMAGE_PIXELS} pixels`;
    return { ok: false, refusal: invalid(message, "image_too_many_pixels", "init_image") };
  }
  return { ok: true, request: parsed.data, ...(frame ? { pixels: frame.pixels } : {}) };
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
