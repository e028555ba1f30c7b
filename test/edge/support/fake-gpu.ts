/**
 * A scripted fake of the GPU functions' `POST /v1/infer` and its streaming form `POST /v1/infer/stream` (NDJSON
 * events as gpu-fn/server/infer-stream.ts sends them, heartbeats every HEARTBEAT_MS), installed as the test isolate's global fetch (the
 * Worker, its Durable Objects and the tests share that isolate). It verifies the HMAC signature with
 * shared/hmac and the body with shared/protocol like the real server does, records every call, and answers
 * per backend host from a script. Requests to any other host fail loudly ("No fake for ...").
 *
 * The "images" are tiny byte strings framed as PNG/JPEG/WebP (right signature and trailer, seed-dependent
 * payload): enough for the edge's integrity check and for byte-for-byte comparisons; no pixels are decoded.
 */
import { vi } from "vitest";
import { previewSteps } from "../../../gpu-fn/pipeline/previews";
import { MemoryNonceStore, verifyRequest } from "../../../shared/hmac";
import {
  CONTENT_TYPES,
  decodeInferFrame,
  INFER_HEADERS,
  INFER_PATH,
  INFER_STREAM_PATH,
  type InferEvent,
  type InferRequest,
  type InferStreamRequest,
  inferRequestSchema,
  inferStreamRequestSchema,
} from "../../../shared/protocol";
import { BACKEND_A, BACKEND_B, TEST_REVISION, TEST_SECRET } from "./api";

export const HEARTBEAT_MS = 50;

export type Behaviour =
  /** On the stream: `gate` holds the job queued; `stepMs` spaces the steps (heartbeats keep flowing). */
  | { kind: "ok"; revision?: string; gate?: Promise<void>; stepMs?: number }
  /** Stream only: the connection breaks after `afterSteps` steps (the host was killed). */
  | { kind: "die"; afterSteps: number; gate?: Promise<void> }
  /** Stream only: no more steps after `afterSteps`; with `heartbeats` the process still beats (a stuck model). */
  | { kind: "stall"; afterSteps: number; heartbeats: boolean }
  /** Stream only: an error event after the stream began. */
  | { kind: "error-event"; status: number; code?: string }
  | { kind: "refuse" }
  | { kind: "hang" }
  | { kind: "status"; status: number; retryAfter?: string; gate?: Promise<void> }
  | { kind: "truncated" };

export interface FakeCall {
  host: string;
  body: InferRequest | InferStreamRequest | null;
  path: string;
  auth: "ok" | Exclude<Awaited<ReturnType<typeof verifyRequest>>, { ok: true }>["reason"];
  /** The request's Authorization header (the GPU host's own gate, e.g. RunPod's API key), null when absent. */
  authorization: string | null;
  /** Image-to-image: the frame's input pixels (RGB8), null for JSON bodies. */
  pixels: Uint8Array | null;
  answered: string;
  /** Streaming route: the client closed the stream before its end (e.g. the edge cancelled the job). */
  aborted?: boolean;
}

const encoder = new TextEncoder();

/** Deterministic fake image bytes for a request. */
export function fakeImage(req: Pick<InferRequest, "output_format" | "seed" | "prompt">): Uint8Array {
  const payload = encoder.encode(`fake:${req.seed}:${req.prompt}`);
  const join = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  switch (req.output_format) {
    case "png":
      return join(
        new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        payload,
        new Uint8Array([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]),
      );
    case "jpeg":
      return join(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]), payload, new Uint8Array([0xff, 0xd9]));
    case "webp": {
      const body = join(encoder.encode("WEBP"), payload);
      const size = new Uint8Array(4);
      new DataView(size.buffer).setUint32(0, body.length, true);
      return join(encoder.encode("RIFF"), size, body);
    }
  }
}

export class FakeGpu {
  readonly calls: FakeCall[] = [];
  readonly #scripts = new Map<string, Behaviour[]>();
  readonly #defaults = new Map<string, Behaviour>();
  readonly #nonces = new MemoryNonceStore();

  constructor(
    readonly secret: string,
    readonly revision: string,
  ) {}

  /** Every call to `host` behaves like this (after any queued one-shot behaviours). */
  always(host: string, behaviour: Behaviour): this {
    this.#defaults.set(host, behaviour);
    return this;
  }

  /** The next calls to `host` behave like these, in order. */
  queue(host: string, ...behaviours: Behaviour[]): this {
    this.#scripts.set(host, [...(this.#scripts.get(host) ?? []), ...behaviours]);
    return this;
  }

  callsTo(host: string): FakeCall[] {
    return this.calls.filter((c) => c.host === host);
  }

  /** Routes the isolate's fetch through this fake; restored by vi.restoreAllMocks(). */
  install(): this {
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => this.handle(new Request(input, init)));
    return this;
  }

  #stream(req: InferStreamRequest, behaviour: Behaviour, signal: AbortSignal, call: FakeCall): Response {
    return streamAnswer(this, req, behaviour, signal, call);
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const host = url.host;
    if (!this.#defaults.has(host) && !this.#scripts.has(host)) throw new Error(`No fake for ${request.url}`);
    const behaviour = this.#scripts.get(host)?.shift() ?? this.#defaults.get(host) ?? { kind: "ok" };
    const bodyBytes = new Uint8Array(await request.arrayBuffer());
    const frame = decodeInferFrame(bodyBytes);
    const bodyText = frame ? frame.json : new TextDecoder().decode(bodyBytes);
    const call: FakeCall = {
      host,
      body: null,
      auth: "ok",
      authorization: request.headers.get("authorization"),
      pixels: frame ? frame.pixels.slice() : null,
      answered: behaviour.kind,
      path: url.pathname,
    };
    this.calls.push(call);

    if (behaviour.kind === "refuse") throw new TypeError("Network connection lost.");
    if (behaviour.kind === "hang") {
      return new Promise((_, reject) => {
        request.signal.addEventListener("abort", () => reject(request.signal.reason));
      });
    }
    const verdict = await verifyRequest({
      secret: this.secret,
      method: request.method,
      path: url.pathname,
      body: bodyBytes,
      headers: request.headers,
      nonces: this.#nonces,
      // The edge signs for the backend it calls: a fake backend knows its own origin.
      audiences: [url.origin],
    });
    if (!verdict.ok) call.auth = verdict.reason;
    const streaming = url.pathname === INFER_STREAM_PATH;
    if ((url.pathname !== INFER_PATH && !streaming) || request.method !== "POST")
      return json(404, "not found");
    if (!verdict.ok) return json(401, `signature: ${verdict.reason}`);
    if (streaming) {
      const parsedStream = inferStreamRequestSchema.safeParse(JSON.parse(bodyText));
      if (!parsedStream.success) return json(400, parsedStream.error.message);
      call.body = parsedStream.data;
      if (behaviour.kind === "status") {
        if (behaviour.gate) await behaviour.gate;
        const headers: Record<string, string> = behaviour.retryAfter
          ? { "retry-after": behaviour.retryAfter }
          : {};
        return json(behaviour.status, `scripted ${behaviour.status}`, headers);
      }
      return this.#stream(parsedStream.data, behaviour, request.signal, call);
    }
    if (behaviour.kind === "die" || behaviour.kind === "stall" || behaviour.kind === "error-event") {
      throw new Error(`behaviour ${behaviour.kind} needs the streaming route`);
    }
    const parsed = inferRequestSchema.safeParse(JSON.parse(bodyText));
    if (!parsed.success) return json(422, parsed.error.message);
    call.body = parsed.data;

    if (behaviour.kind === "status") {
      if (behaviour.gate) await behaviour.gate;
      const headers: Record<string, string> = behaviour.retryAfter
        ? { "retry-after": behaviour.retryAfter }
        : {};
      return json(behaviour.status, `scripted ${behaviour.status}`, headers);
    }
    if (behaviour.kind === "ok" && behaviour.gate) await behaviour.gate;
    const bytes = fakeImage(parsed.data);
    return new Response(behaviour.kind === "truncated" ? bytes.slice(0, bytes.length - 4) : bytes, {
      status: 200,
      headers: {
        "content-type": CONTENT_TYPES[parsed.data.output_format],
        [INFER_HEADERS.seed]: String(parsed.data.seed),
        [INFER_HEADERS.modelRevision]:
          behaviour.kind === "ok" ? (behaviour.revision ?? this.revision) : this.revision,
        [INFER_HEADERS.promptTruncated]: "0",
        [INFER_HEADERS.serverTiming]: "denoise;dur=1",
      },
    });
  }
}

/** The NDJSON answer of the streaming route for one scripted behaviour. */
function streamAnswer(
  fake: { revision: string },
  req: InferStreamRequest,
  behaviour: Behaviour,
  signal: AbortSignal,
  call: FakeCall,
): Response {
  const enc = new TextEncoder();
  const t0 = Date.now();
  let heartbeat: ReturnType<typeof setInterval> | null = null;
  let closed = false;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (event: InferEvent) => {
        if (!closed) controller.enqueue(enc.encode(`${JSON.stringify(event)}\n`));
      };
      const stop = () => {
        if (heartbeat) clearInterval(heartbeat);
        closed = true;
      };
      signal.addEventListener(
        "abort",
        () => {
          if (!closed) call.aborted = true;
          stop();
        },
        { once: true },
      );
      send({ type: "queued", position: 1, heartbeat_ms: HEARTBEAT_MS, t_ms: 0 });
      // Position 1 while held by a gate (queued), 0 once it runs, as the real server reports it.
      let position = 1;
      heartbeat = setInterval(
        () => send({ type: "heartbeat", position, t_ms: Date.now() - t0 }),
        HEARTBEAT_MS,
      );
      if ((behaviour.kind === "ok" || behaviour.kind === "die") && behaviour.gate) await behaviour.gate;
      if (closed) return;
      position = 0;
      send({ type: "started", batch_size: 1, queue_ms: Date.now() - t0, t_ms: Date.now() - t0 });
      if (behaviour.kind === "error-event") {
        send({
          type: "error",
          status: behaviour.status,
          error: {
            message: `scripted ${behaviour.status}`,
            type: "server_error",
            param: null,
            code: behaviour.code ?? null,
          },
          t_ms: Date.now() - t0,
        });
        stop();
        controller.close();
        return;
      }
      const total = req.steps;
      const last = behaviour.kind === "die" || behaviour.kind === "stall" ? behaviour.afterSteps : total;
      const previewAt = previewSteps(total, req.previews);
      for (let step = 1; step <= last; step++) {
        if (behaviour.kind === "ok" && behaviour.stepMs) await sleep(behaviour.stepMs);
        if (closed) return;
        send({ type: "step", step, total, elapsed_ms: Date.now() - t0, t_ms: Date.now() - t0 });
        const index = previewAt.indexOf(step);
        if (index >= 0) {
          const b64 = btoa(
            String.fromCharCode(...fakeImage({ ...req, prompt: `preview ${index}:${req.prompt}` })),
          );
          send({
            type: "preview",
            index,
            step,
            width: req.width,
            height: req.height,
            content_type: CONTENT_TYPES[req.output_format],
            b64,
            t_ms: Date.now() - t0,
          });
        }
      }
      if (behaviour.kind === "die") {
        stop();
        controller.error(new TypeError("Network connection lost."));
        return;
      }
      if (behaviour.kind === "stall") {
        if (!behaviour.heartbeats && heartbeat) clearInterval(heartbeat);
        return; // open until the client gives up
      }
      const bytes = fakeImage(req);
      const image = behaviour.kind === "truncated" ? bytes.slice(0, bytes.length - 4) : bytes;
      send({
        type: "image",
        content_type: CONTENT_TYPES[req.output_format],
        seed: req.seed,
        model_revision: behaviour.kind === "ok" ? (behaviour.revision ?? fake.revision) : fake.revision,
        prompt_truncated: false,
        server_timing: "denoise;dur=1",
        batch_size: 1,
        b64: btoa(String.fromCharCode(...image)),
        t_ms: Date.now() - t0,
      });
      stop();
      controller.close();
    },
    cancel() {
      if (heartbeat) clearInterval(heartbeat);
      if (!closed) call.aborted = true;
      closed = true;
    },
  });
  return new Response(stream, { status: 200, headers: { "content-type": "application/x-ndjson" } });
}

function json(status: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json(
    {
      error: {
        message,
        type: status === 503 ? "service_unavailable" : "server_error",
        param: null,
        code: null,
      },
    },
    { status, headers },
  );
}

/** Resolves `release()` later: holds fake GPU answers so concurrent requests overlap for certain. */
export function gate(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

/** A fake with both test backends always answering `ok` (not installed yet). */
export function healthyFakeGpu(): FakeGpu {
  return new FakeGpu(TEST_SECRET, TEST_REVISION)
    .always(BACKEND_A, { kind: "ok" })
    .always(BACKEND_B, { kind: "ok" });
}
