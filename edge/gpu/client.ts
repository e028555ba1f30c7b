/**
 * Client for the GPU functions' streaming inference call, `POST /v1/infer/stream` (shared/protocol.ts).
 *
 * Each call is HMAC-signed and carries the overall deadline (`deadline_ms`). An attempt is watched by progress,
 * not by a fixed timeout (infer-stream-reader.ts): `attemptTimeoutMs` bounds the wait for the answer's headers and
 * the time between two progress events, while heartbeats prove the host is alive; a job that keeps stepping
 * runs to the end however long it takes. Connection errors (a killed host), stalls, 5xx, 401 (a backend with the
 * wrong secret) and 503 move on to another backend, honouring Retry-After (the backend is not called again
 * before it). A circuit breaker skips backends that keep failing. When no backend may be called now the answer
 * is an immediate 503 whose Retry-After is the time until the first one may (an open circuit's cooldown); only a
 * short wait (<= MAX_BUSY_WAIT_MS: a busy embargo, the end of a cooldown) is waited out. Progress events go to `onEvent` as they arrive.
 * Hosts that put their own gate in front of the GPU function (RunPod serverless wants its API key) get
 * `backendToken` as `Authorization: Bearer ...` on every call; the token is never logged.
 * @module
 */
import { signRequest } from "../../shared/hmac";
import {
  CONTENT_TYPES,
  encodeInferFrame,
  INFER_FRAME_CONTENT_TYPE,
  INFER_STREAM_PATH,
  type InferEvent,
  type InferRequest,
  type InferStreamRequest,
} from "../../shared/protocol";
import { type CircuitBreaker, parseRetryAfter } from "./circuit-breaker";
import { looksLikeImage } from "./image-bytes";
import { fromBase64, readInferStream } from "./infer-stream-reader";

/** Progress of a GPU attempt as the client passes it on (`attempt` counts from 1; a retry restarts the steps). */
export type GpuProgress = Exclude<InferEvent, { type: "image" | "error" }> & { attempt: number };

export interface InferOptions {
  /** Low-resolution previews to ask for (0-3). */
  previews?: number;
  onEvent?: (event: GpuProgress) => void;
  /** Aborting stops the attempt in flight (the GPU function drops the job) and makes no further ones. */
  signal?: AbortSignal;
  /** Image-to-image: the normalised input pixels (RGB8 of `request.init_image`), sent in the signed frame. */
  initPixels?: Uint8Array;
}

export interface GpuClientOptions {
  /** Base URLs, e.g. ["http://gpu-a:8188"]; the client appends INFER_PATH. */
  backends: string[];
  secret: string;
  /** Sent as `Authorization: Bearer <token>` to every backend when not empty (e.g. the RunPod API key). */
  backendToken?: string;
  /** Expected `x-zi-model-revision`; an answer from another revision is rejected (it would poison the cache). */
  modelRevision: string;
  attemptTimeoutMs: number;
  /** Overall budget for one `infer` call, across attempts. */
  deadlineMs: number;
  breaker: CircuitBreaker;
  /** Upper bound on attempts (default: twice the number of backends, at least 2). */
  maxAttempts?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface GpuImage {
  bytes: Uint8Array;
  contentType: string;
  seed: number;
  modelRevision: string;
  promptTruncated: boolean;
  serverTiming: string | null;
  backend: string;
}

export interface AttemptRecord {
  backend: string;
  outcome: "ok" | "connection" | "timeout" | "busy" | "server_error" | "rejected" | "invalid_response";
  status?: number;
  ms: number;
}

export type InferOutcome =
  | { ok: true; image: GpuImage; attempts: AttemptRecord[] }
  | {
      ok: false;
      /** 503 when the backends were unavailable; 502 when a backend rejected the request as invalid. */
      status: 502 | 503;
      retryAfterS: number;
      message: string;
      code: string;
      attempts: AttemptRecord[];
    };

type AttemptResult =
  | { kind: "ok"; image: GpuImage }
  | { kind: "retry"; outcome: AttemptRecord["outcome"]; status?: number; busyUntil?: number; fault: boolean }
  | { kind: "fatal"; status: number; message: string };

const DEFAULT_BUSY_MS = 1000;
/** A wait for a backend at most this long is waited out inside one call; longer ones answer 503 at once. */
export const MAX_BUSY_WAIT_MS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class GpuClient {
  readonly #opts: Required<Omit<GpuClientOptions, "fetch" | "now">>;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  #rotation = 0;

  constructor(opts: GpuClientOptions) {
    this.#opts = {
      maxAttempts: Math.max(2, opts.backends.length * 2),
      ...opts,
      backendToken: opts.backendToken ?? "",
    };
    this.#fetch = opts.fetch ?? ((input, init) => fetch(input, init));
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Generates one image. Never throws for backend trouble; the outcome says what happened. `options.initPixels`
   * (image-to-image: RGB8 of `request.init_image`) turns the body into a signed binary frame (shared/protocol.ts).
   */
  async infer(request: Omit<InferRequest, "deadline_ms">, options: InferOptions = {}): Promise<InferOutcome> {
    const { backends, breaker, maxAttempts } = this.#opts;
    if (backends.length === 0 || !this.#opts.secret) {
      // A deployment without GPU_BACKENDS or GPU_HMAC_SECRET serves cache hits and answers misses with 503.
      console.error(
        JSON.stringify({ level: "error", msg: "gpu_not_configured", requestId: request.request_id }),
      );
      return {
        ok: false,
        status: 503,
        retryAfterS: 60,
        message: "Image generation is not available right now; retry later",
        code: "gpu_not_configured",
        attempts: [],
      };
    }
    const deadline = this.#now() + this.#opts.deadlineMs;
    const json = {
      ...request,
      deadline_ms: deadline,
      previews: options.previews ?? 0,
    } satisfies InferStreamRequest;
    const body: string | Uint8Array = options.initPixels
      ? encodeInferFrame(json, options.initPixels)
      : JSON.stringify(json);
    const attempts: AttemptRecord[] = [];
    let previous: string | null = null;

    while (attempts.length < maxAttempts && !options.signal?.aborted) {
      const now = this.#now();
      if (now >= deadline) break;
      const backend = this.#pick(now, previous);
      if (backend === null) {
        // A long wait (an open circuit's cooldown, a long busy embargo) is not sat out: every waiter of the
        // flight would sit it out with us. A short one (<= MAX_BUSY_WAIT_MS) is.
        const wakeAt = Math.min(...backends.map((b) => breaker.availableAt(b, now)));
        if (wakeAt - now > MAX_BUSY_WAIT_MS || wakeAt >= deadline) break;
        await sleep(wakeAt - now);
        continue;
      }
      breaker.begin(backend, now);
      const attemptNo = attempts.length + 1;
      const result = await this.#attempt(backend, body, request, {
        headersTimeoutMs: Math.min(this.#opts.attemptTimeoutMs, deadline - now),
        onEvent: options.onEvent && ((event) => options.onEvent?.({ ...event, attempt: attemptNo })),
        signal: options.signal,
      });
      const ms = this.#now() - now;
      if (options.signal?.aborted && result.kind !== "ok") {
        // Our own cancellation (every waiter left) says nothing about the backend's health.
        breaker.recordBusy(backend, 0);
        return { ok: false, status: 503, retryAfterS: 0, message: "cancelled", code: "cancelled", attempts };
      }
      if (result.kind === "ok") {
        breaker.recordSuccess(backend);
        attempts.push({ backend, outcome: "ok", status: 200, ms });
        return { ok: true, image: result.image, attempts };
      }
      if (result.kind === "fatal") {
        breaker.recordSuccess(backend); // the backend works; the request was refused
        attempts.push({ backend, outcome: "rejected", status: result.status, ms });
        return {
          ok: false,
          status: 502,
          retryAfterS: 0,
          message: `GPU backend rejected the request: ${result.message}`,
          code: "gpu_rejected",
          attempts,
        };
      }
      attempts.push({ backend, outcome: result.outcome, status: result.status, ms });
      if (result.busyUntil !== undefined) breaker.recordBusy(backend, result.busyUntil);
      if (result.fault) breaker.recordFailure(backend, this.#now());
      previous = backend;
    }

    const now = this.#now();
    const wakeAt = Math.min(...backends.map((b) => breaker.availableAt(b, now)));
    return {
      ok: false,
      status: 503,
      retryAfterS: Math.max(1, Math.ceil((wakeAt - now) / 1000)),
      message: `No GPU backend could generate the image (${attempts.length} attempt(s)); retry later`,
      code: attempts.length === 0 ? "gpu_backends_unavailable" : "gpu_attempts_exhausted",
      attempts,
    };
  }

  /** Each backend's circuit as this isolate sees it (operators' readiness view). */
  circuitStates(now = this.#now()): { backend: string; circuit: "closed" | "open" | "half-open" }[] {
    return this.#opts.backends.map((backend) => ({
      backend,
      circuit: this.#opts.breaker.stateOf(backend, now),
    }));
  }

  /** Next backend in rotation that may be called now, preferring one other than the last failure. */
  #pick(now: number, avoid: string | null): string | null {
    const { backends, breaker } = this.#opts;
    const start = this.#rotation++ % backends.length;
    const ready = [];
    for (let i = 0; i < backends.length; i++) {
      const b = backends[(start + i) % backends.length];
      if (breaker.availableAt(b, now) <= now) ready.push(b);
    }
    return ready.find((b) => b !== avoid) ?? ready[0] ?? null;
  }

  async #attempt(
    backend: string,
    body: string | Uint8Array,
    request: Omit<InferRequest, "deadline_ms">,
    opts: {
      headersTimeoutMs: number;
      onEvent?: (event: Exclude<InferEvent, { type: "image" | "error" }>) => void;
      signal?: AbortSignal;
    },
  ): Promise<AttemptResult> {
    const headers: Record<string, string> = {
      // audience: the signature is valid only at this backend (replays elsewhere are refused).
      ...(await signRequest({
        secret: this.#opts.secret,
        method: "POST",
        path: INFER_STREAM_PATH,
        body,
        audience: backend,
      })),
      "content-type": typeof body === "string" ? "application/json" : INFER_FRAME_CONTENT_TYPE,
      "x-request-id": request.request_id,
    };
    if (this.#opts.backendToken) headers.authorization = `Bearer ${this.#opts.backendToken}`;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const headersTimer = setTimeout(
      () => controller.abort(new DOMException("timeout", "TimeoutError")),
      opts.headersTimeoutMs,
    );
    let response: Response;
    try {
      response = await this.#fetch(`${backend}${INFER_STREAM_PATH}`, {
        method: "POST",
        headers,
        body,
        signal: controller.signal,
      });
    } catch (err) {
      const name = (err as { name?: string }).name;
      const timedOut = name === "TimeoutError" || name === "AbortError";
      return { kind: "retry", outcome: timedOut ? "timeout" : "connection", fault: true };
    } finally {
      clearTimeout(headersTimer);
    }
    try {
      const status = response.status;
      if (status !== 200 || !response.body) {
        const bytes = new Uint8Array(await response.arrayBuffer().catch(() => new ArrayBuffer(0)));
        return this.#refused(status, response.headers.get("retry-after"), readErrorMessage(bytes));
      }
      const end = await readInferStream(response.body, {
        silenceMs: this.#opts.attemptTimeoutMs,
        progressMs: this.#opts.attemptTimeoutMs,
        onEvent: opts.onEvent,
        abort: () => controller.abort(),
      });
      switch (end.kind) {
        case "image":
          return this.#accept(backend, end.event, request);
        case "error":
          return this.#refused(end.event.status, null, end.event.error.message);
        case "timeout":
          return { kind: "retry", outcome: "timeout", fault: true };
        default:
          return { kind: "retry", outcome: "connection", fault: true };
      }
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** A non-200 answer, or an error event after the stream began, by its status. */
  #refused(status: number, retryAfter: string | null, message: string | null): AttemptResult {
    if (status === 503) {
      const wait = parseRetryAfter(retryAfter, this.#now()) ?? DEFAULT_BUSY_MS;
      return { kind: "retry", outcome: "busy", status, busyUntil: this.#now() + wait, fault: false };
    }
    // 504: the GPU function dropped the job at its deadline (queued too long there); another backend may be free.
    if (status === 504) return { kind: "retry", outcome: "busy", status, fault: false };
    if (status === 401) return { kind: "retry", outcome: "rejected", status, fault: true };
    if (status >= 500) return { kind: "retry", outcome: "server_error", status, fault: true };
    return { kind: "fatal", status, message: message ?? `HTTP ${status}` };
  }

  #accept(
    backend: string,
    event: Extract<InferEvent, { type: "image" }>,
    request: Omit<InferRequest, "deadline_ms">,
  ): AttemptResult {
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(event.b64);
    } catch {
      return { kind: "retry", outcome: "invalid_response", status: 200, fault: true };
    }
    const valid =
      event.content_type === CONTENT_TYPES[request.output_format] &&
      event.model_revision === this.#opts.modelRevision &&
      looksLikeImage(bytes, request.output_format);
    if (!valid) return { kind: "retry", outcome: "invalid_response", status: 200, fault: true };
    return {
      kind: "ok",
      image: {
        bytes,
        contentType: CONTENT_TYPES[request.output_format],
        seed: Number.isSafeInteger(event.seed) ? event.seed : request.seed,
        modelRevision: event.model_revision,
        promptTruncated: event.prompt_truncated,
        serverTiming: event.server_timing ?? null,
        backend,
      },
    };
  }
}

function readErrorMessage(bytes: Uint8Array): string | null {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { error?: { message?: unknown } };
    return typeof parsed.error?.message === "string" ? parsed.error.message.slice(0, 500) : null;
  } catch {
    return null;
  }
}
