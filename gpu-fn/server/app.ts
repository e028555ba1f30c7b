/**
 * The GPU function's HTTP surface (Hono): `POST /v1/infer` (HMAC-verified, protocol from shared/), `GET /healthz`
 * (liveness), `GET /readyz` (models loaded and warmed up, not draining), `GET /ping` (RunPod health check),
 * `GET /metrics` (Prometheus text; behind `Authorization: Bearer <metricsToken>` when a token is configured).
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ApiErrorType, errorBody } from "../../shared/errors";
import { type NonceStore, verifyRequest } from "../../shared/hmac";
import {
  decodeInferFrame,
  INFER_PATH,
  inferRequestSchema,
  isInferFrame,
  MAX_INFER_JSON_BYTES,
  MAX_INIT_IMAGE_PIXELS,
} from "../../shared/protocol";
import { ClientGoneError, DeadlineExceededError, DrainingError, QueueFullError } from "./batcher";
import { type InferService, UnprocessableError } from "./infer-service";
import type { GpuMetrics } from "./metrics";
import type { ServiceState } from "./service-state";

export interface AppDeps {
  service: InferService;
  state: ServiceState;
  metrics: GpuMetrics;
  hmac: {
    secret: string;
    nonces: NonceStore;
    maxSkewMs?: number;
    /** Base URLs this function is reached at (GPU_AUDIENCE); empty = signatures for any audience pass. */
    audiences?: readonly string[];
    /** Signatures older than this (the process start) are refused: the nonce memory starts empty. */
    notBeforeMs?: number;
  };
  /** When set, GET /metrics requires `Authorization: Bearer <metricsToken>`; null/undefined = open. */
  metricsToken?: string | null;
  /** Seconds a client should wait before retrying a 503 (estimated from the queue). */
  retryAfterSeconds: () => number;
  log?: (line: string) => void;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest();

const HMAC_CODES = {
  missing: "missing_signature",
  bad_signature: "bad_signature",
  stale: "stale_timestamp",
  replay: "replayed_nonce",
  wrong_audience: "wrong_audience",
  signed_before_start: "signed_before_start",
} as const;

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  const log = deps.log ?? (() => {});

  const fail = (
    status: number,
    type: ApiErrorType,
    message: string,
    opts: { param?: string; code?: string } = {},
  ) => {
    deps.metrics.errors.inc({ status: String(status), code: opts.code ?? type });
    deps.metrics.requests.inc({ status: String(status) });
    const headers: Record<string, string> = {};
    if (status === 503) headers["retry-after"] = String(deps.retryAfterSeconds());
    return new Response(JSON.stringify(errorBody(type, message, opts)), {
      status: status as ContentfulStatusCode,
      headers: { "content-type": "application/json", ...headers },
    });
  };

  app.get("/healthz", (c) =>
    deps.state.alive ? c.json({ status: "ok" }) : c.json({ status: "dead", reason: deps.state.reason }, 503),
  );

  app.get("/readyz", (c) => {
    if (deps.state.ready) return c.json({ status: "ready", ...deps.state.info });
    c.header("retry-after", String(deps.retryAfterSeconds()));
    return c.json({ status: deps.state.phase, reason: deps.state.reason }, 503);
  });

  // RunPod load-balancing health check (PORT_HEALTH): 200 ready, 204 still loading, 503 draining or failed.
  app.get("/ping", (c) => {
    if (deps.state.ready) return c.json({ status: "healthy" });
    if (deps.state.phase === "starting") return c.body(null, 204);
    return c.json({ status: deps.state.phase }, 503);
  });

  const metricsTokenDigest = deps.metricsToken ? sha256(deps.metricsToken) : null;
  app.get("/metrics", async (c) => {
    if (metricsTokenDigest) {
      const presented = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
      // Compare digests: constant time, and neither the token's content nor its length leaks.
      if (!presented || !timingSafeEqual(sha256(presented), metricsTokenDigest)) {
        const res = fail(
          401,
          "authentication_error",
          presented
            ? "invalid metrics token"
            : "missing metrics token: send Authorization: Bearer <METRICS_TOKEN>",
          { code: presented ? "invalid_metrics_token" : "missing_metrics_token" },
        );
        res.headers.set("www-authenticate", 'Bearer realm="metrics"');
        return res;
      }
    }
    c.header("content-type", deps.metrics.registry.contentType);
    return c.body(await deps.metrics.registry.metrics());
  });

  app.post(
    INFER_PATH,
    // JSON (text-to-image) or a frame with the input pixels (image-to-image); the exact size is checked below.
    bodyLimit({
      maxSize: 8 + MAX_INFER_JSON_BYTES + 3 * MAX_INIT_IMAGE_PIXELS,
      onError: () =>
        fail(413, "invalid_request_error", "request body over the image-to-image frame limit", {
          code: "body_too_large",
        }),
    }),
    async (c) => {
      const body = new Uint8Array(await c.req.arrayBuffer());
      const verdict = await verifyRequest({
        secret: deps.hmac.secret,
        method: "POST",
        path: INFER_PATH,
        body,
        headers: c.req.raw.headers,
        nonces: deps.hmac.nonces,
        maxSkewMs: deps.hmac.maxSkewMs,
        audiences: deps.hmac.audiences,
        notBeforeMs: deps.hmac.notBeforeMs,
      });
      if (!verdict.ok) {
        return fail(401, "authentication_error", `request signature rejected: ${verdict.reason}`, {
          code: HMAC_CODES[verdict.reason],
        });
      }
      if (!deps.state.ready) {
        const draining = deps.state.phase === "draining";
        return fail(
          503,
          "service_unavailable",
          draining ? "server is shutting down" : "models are not ready yet",
          {
            code: draining ? "draining" : "not_ready",
          },
        );
      }
      const frame = isInferFrame(body) ? decodeInferFrame(body) : null;
      if (isInferFrame(body) && !frame) {
        return fail(400, "invalid_request_error", "malformed request frame", { code: "invalid_frame" });
      }
      if (!frame && body.length > MAX_INFER_JSON_BYTES) {
        return fail(413, "invalid_request_error", "JSON request body over 64 KiB", {
          code: "body_too_large",
        });
      }
      let json: unknown;
      try {
        json = JSON.parse(frame ? frame.json : new TextDecoder().decode(body));
      } catch {
        return fail(400, "invalid_request_error", "body is not valid JSON", { code: "invalid_json" });
      }
      const parsed = inferRequestSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const param = issue.path.join(".") || null;
        return fail(400, "invalid_request_error", `${param ?? "body"}: ${issue.message}`, {
          param: param ?? undefined,
          code: "invalid_parameter",
        });
      }
      const init = parsed.data.init_image;
      const expected = init ? init.width * init.height * 3 : 0;
      if ((frame?.pixels.length ?? 0) !== expected || (init && !frame)) {
        return fail(
          400,
          "invalid_request_error",
          init
            ? `init_image: expected ${expected} bytes of RGB8 pixels in a request frame, got ${frame?.pixels.length ?? 0}`
            : "a request frame carries pixels but no init_image",
          { param: "init_image", code: "invalid_init_image" },
        );
      }
      if (init && init.width * init.height > MAX_INIT_IMAGE_PIXELS) {
        return fail(400, "invalid_request_error", `init_image: over ${MAX_INIT_IMAGE_PIXELS} pixels`, {
          param: "init_image",
          code: "image_too_many_pixels",
        });
      }
      try {
        const out = await deps.service.infer(parsed.data, c.req.raw.signal, frame?.pixels);
        deps.metrics.requests.inc({ status: "200" });
        return new Response(new Uint8Array(out.body), { status: 200, headers: out.headers });
      } catch (err) {
        if (err instanceof UnprocessableError) {
          return fail(422, "invalid_request_error", err.message, {
            param: err.param,
            code: "unsupported_value",
          });
        }
        if (err instanceof QueueFullError) {
          return fail(503, "service_unavailable", "queue is full, retry later", { code: "queue_full" });
        }
        if (err instanceof DrainingError) {
          return fail(503, "service_unavailable", "server is shutting down", { code: "draining" });
        }
        if (err instanceof DeadlineExceededError) {
          return fail(504, "server_error", err.message, { code: "deadline_exceeded" });
        }
        if (err instanceof ClientGoneError) {
          return fail(499, "invalid_request_error", err.message, { code: "client_closed_request" });
        }
        log(`request ${parsed.data.request_id} failed: ${(err as Error).message}`);
        return fail(500, "server_error", `image generation failed: ${(err as Error).message}`, {
          code: "model_failure",
        });
      }
    },
  );

  app.all(INFER_PATH, (c) => {
    const res = fail(405, "invalid_request_error", `${c.req.method} is not allowed; use POST`, {
      code: "method_not_allowed",
    });
    res.headers.set("allow", "POST");
    return res;
  });

  app.notFound(() => fail(404, "not_found_error", "no such route", { code: "not_found" }));
  app.onError((err) => {
    log(`unhandled error: ${err.message}`);
    return fail(500, "server_error", "internal error", { code: "internal" });
  });
  return app;
}
