/**
 * `POST /v1/infer/stream`: the streaming form of the inference call (shared/protocol.ts INFER_STREAM_PATH).
 * Same HMAC scheme (signed over this path), same body plus `previews`. Refusals before any work keep the plain
 * route's JSON errors and statuses, so the edge fails over exactly as before; once accepted the answer is NDJSON:
 * queued (position) and heartbeats while waiting, started, one step event per Euler step, `previews` preview
 * images, then exactly one `image` or `error`. Heartbeats continue during compute, so a silent connection means a
 * dead or frozen host. The client closing the stream cancels the job (dropped from the queue, or from its batch
 * between steps), as for the plain route; an expired deadline drops it while queued (error 504).
 * NDJSON rather than SSE: the only consumer is the edge's GPU client, and one JSON object per line needs no
 * framing parser there.
 * @module
 */
import type { Hono, MiddlewareHandler } from "hono";
import type { ApiErrorType } from "../../shared/errors";
import { INFER_STREAM_PATH, type InferEvent, inferStreamRequestSchema } from "../../shared/protocol";
import { encodeImage } from "../pipeline/image-encode";
import { admitInfer, failureOf } from "./admit";
import type { AppDeps } from "./app";
import type { ItemEvents } from "./batcher";

export interface InferStreamDeps extends AppDeps {
  log: (line: string) => void;
  bodyLimit: MiddlewareHandler;
  fail: (
    status: number,
    type: ApiErrorType,
    message: string,
    opts?: { param?: string; code?: string },
  ) => Response;
}

const encoder = new TextEncoder();
const toB64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");

export function mountInferStream(app: Hono, deps: InferStreamDeps): void {
  const heartbeatMs = deps.heartbeatMs ?? 1000;

  app.post(INFER_STREAM_PATH, deps.bodyLimit, async (c) => {
    const admitted = await admitInfer({
      path: INFER_STREAM_PATH,
      body: new Uint8Array(await c.req.arrayBuffer()),
      headers: c.req.raw.headers,
      hmac: deps.hmac,
      state: deps.state,
      schema: inferStreamRequestSchema,
    });
    if (!admitted.ok) {
      const { status, type, message, param, code } = admitted.refusal;
      return deps.fail(status, type, message, { param, code });
    }
    const request = admitted.request;
    const refused = deps.service.refusal(request);
    if (refused) {
      const f = failureOf(refused);
      return deps.fail(f.status, f.type, f.message, { param: f.param, code: f.code });
    }

    const t0 = performance.now();
    const since = () => Math.round(performance.now() - t0);
    const abort = new AbortController();
    c.req.raw.signal.addEventListener("abort", () => abort.abort(), { once: true });
    let closed = false;
    let heartbeat: NodeJS.Timeout | null = null;
    let startedAt = 0;

    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (event: InferEvent) => {
          if (closed) return;
          controller.enqueue(encoder.encode(`${JSON.stringify(event)}\n`));
        };
        const finish = () => {
          if (heartbeat) clearInterval(heartbeat);
          if (!closed) controller.close();
          closed = true;
        };
        let queuedSent = false;
        const sendQueued = (position: number) => {
          if (queuedSent) return;
          queuedSent = true;
          send({ type: "queued", position, heartbeat_ms: heartbeatMs, t_ms: since() });
        };
        // Previews are encoded off the step path in order; the final image waits for them.
        let previewsDone: Promise<void> = Promise.resolve();
        const events: ItemEvents = {
          onStart: ({ batchSize, queueMs }) => {
            sendQueued(0);
            startedAt = performance.now();
            send({ type: "started", batch_size: batchSize, queue_ms: Math.round(queueMs), t_ms: since() });
          },
          onStep: (step, total) =>
            send({
              type: "step",
              step,
              total,
              elapsed_ms: Math.round(performance.now() - startedAt),
              t_ms: since(),
            }),
          onPreview: (index, step, image) => {
            previewsDone = previewsDone.then(async () => {
              const bytes = await encodeImage(image.rgb, image.width, image.height, {
                format: request.output_format,
                quality: 70,
              });
              send({
                type: "preview",
                index,
                step,
                width: image.width,
                height: image.height,
                content_type: `image/${request.output_format}`,
                b64: toB64(bytes),
                t_ms: since(),
              });
            });
          },
        };
        heartbeat = setInterval(
          () => send({ type: "heartbeat", position: deps.service.queuePosition(events), t_ms: since() }),
          heartbeatMs,
        );
        deps.service.infer(request, abort.signal, { events, pixels: admitted.pixels }).then(
          async (out) => {
            await previewsDone.catch(() => {});
            deps.metrics.requests.inc({ status: "200" });
            send({
              type: "image",
              content_type: out.headers["content-type"],
              seed: request.seed,
              model_revision: out.headers["x-zi-model-revision"],
              prompt_truncated: out.headers["x-zi-prompt-truncated"] === "1",
              server_timing: out.headers["server-timing"],
              batch_size: Number(out.headers["x-zi-batch-size"]),
              b64: toB64(out.body),
              t_ms: since(),
            });
            finish();
          },
          (err) => {
            const f = failureOf(err);
            if (f.unexpected) deps.log(`request ${request.request_id} failed: ${(err as Error).message}`);
            deps.metrics.errors.inc({ status: String(f.status), code: f.code });
            deps.metrics.requests.inc({ status: String(f.status) });
            send({
              type: "error",
              status: f.status,
              error: { message: f.message, type: f.type, param: f.param ?? null, code: f.code },
              t_ms: since(),
            });
            finish();
          },
        );
        // infer() queues the job synchronously, so its position is known here (0 if it already runs).
        sendQueued(deps.service.queuePosition(events));
      },
      cancel() {
        closed = true;
        if (heartbeat) clearInterval(heartbeat);
        abort.abort();
      },
    });
    return new Response(stream, {
      status: 200,
      headers: {
        "content-type": "application/x-ndjson",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  });

  app.all(INFER_STREAM_PATH, () => {
    const res = deps.fail(405, "invalid_request_error", "use POST", { code: "method_not_allowed" });
    res.headers.set("allow", "POST");
    return res;
  });
}
