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
import { INFER_PATH, inferRequestSchema } from "../../shared/protocol";
import { admitInfer, failureOf, type HmacOptions, MAX_INFER_BODY_BYTES } from "./admit";
import type { InferService } from "./infer-service";
import { mountInferStream } from "./infer-stream";
import type { GpuMetrics } from "./metrics";
import type { ServiceState } from "./service-state";

export interface AppDeps {
  service: InferService;
  state: ServiceState;
  metrics: GpuMetrics;
  hmac: HmacOptions;
  /** When set, GET /metrics requires `Authorization: Bearer <metricsToken>`; null/undefined = open. */
  metricsToken?: string | null;
  /** Seconds a client should wait before retrying a 503 (estimated from the queue). */
  retryAfterSeconds: () => number;
  log?: (line: string) => void;
  /** Interval of the streaming route's heartbeat events (default 1000 ms). */
  heartbeatMs?: number;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest();

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
    bodyLimit({
      // A frame with the largest input image; a JSON body alone is held to 64 KiB by admitInfer.
      maxSize: MAX_INFER_BODY_BYTES,
      onError: () => fail(413, "invalid_request_error", "request body too large", { code: "body_too_large" }),
    }),
    async (c) => {
      const admitted = await admitInfer({
        path: INFER_PATH,
        body: new Uint8Array(await c.req.arrayBuffer()),
        headers: c.req.raw.headers,
        hmac: deps.hmac,
        state: deps.state,
        schema: inferRequestSchema,
      });
      if (!admitted.ok) {
        const { status, type, message, param, code } = admitted.refusal;
        return fail(status, type, message, { param, code });
      }
      const request = admitted.request;
      try {
        const out = await deps.service.infer(request, c.req.raw.signal, { pixels: admitted.pixels });
        deps.metrics.requests.inc({ status: "200" });
        return new Response(new Uint8Array(out.body), { status: 200, headers: out.headers });
      } catch (err) {
        const f = failureOf(err);
        if (f.unexpected) log(`request ${request.request_id} failed: ${(err as Error).message}`);
        return fail(f.status, f.type, f.message, { param: f.param, code: f.code });
      }
    },
  );

  mountInferStream(app, {
    ...deps,
    log,
    bodyLimit: bodyLimit({
      // A frame with the largest input image; a JSON body alone is held to 64 KiB by admitInfer.
      maxSize: MAX_INFER_BODY_BYTES,
      onError: () => fail(413, "invalid_request_error", "request body too large", { code: "body_too_large" }),
    }),
    fail,
  });

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
