/**
 * Client for the GPU functions' `POST /v1/infer` (shared/protocol.ts).
 *
 * Each call is HMAC-signed and carries the overall deadline (`deadline_ms`). An attempt has its own timeout;
 * connection errors, timeouts, 5xx, 401 (a backend with the wrong secret) and 503 move on to another backend,
 * honouring Retry-After (the backend is not called again before it). A circuit breaker skips backends that keep
 * failing. When no backend succeeds before the deadline the result says how long the client should wait.
 * Hosts that put their own gate in front of the GPU function (RunPod serverless wants its API key) get
 * `backendToken` as `Authorization: Bearer ...` on every call; the token is never logged.
 * @module
 */
import { signRequest } from "../../shared/hmac";
import {
  CONTENT_TYPES,
  encodeInferFrame,
  INFER_FRAME_CONTENT_TYPE,
  INFER_HEADERS,
  INFER_PATH,
  type InferRequest,
} from "../../shared/protocol";
import { type CircuitBreaker, parseRetryAfter } from "./circuit-breaker";
import { looksLikeImage } from "./image-bytes";

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
   * Generates one image. Never throws for backend trouble; the outcome says what happened. `initPixels`
   * (image-to-image: RGB8 of `request.init_image`) turns the body into a signed binary frame (shared/protocol.ts).
   */
  async infer(request: Omit<InferRequest, "deadline_ms">, initPixels?: Uint8Array): Promise<InferOutcome> {
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
    const json = { ...request, deadline_ms: deadline } satisfies InferRequest;
    const body: string | Uint8Array = initPixels ? encodeInferFrame(json, initPixels) : JSON.stringify(json);
    const attempts: AttemptRecord[] = [];
    let previous: string | null = null;

    while (attempts.length < maxAttempts) {
      const now = this.#now();
      if (now >= deadline) break;
      const backend = this.#pick(now, previous);
      if (backend === null) {
        const wakeAt = Math.min(...backends.map((b) => breaker.availableAt(b, now)));
        if (wakeAt >= deadline) break;
        await sleep(wakeAt - now);
        continue;
      }
      breaker.begin(backend, now);
      const result = await this.#attempt(
        backend,
        body,
        request,
        Math.min(this.#opts.attemptTimeoutMs, deadline - now),
      );
      const ms = this.#now() - now;
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
    timeoutMs: number,
  ): Promise<AttemptResult> {
    const headers: Record<string, string> = {
      // audience: the signature is valid only at this backend (replays elsewhere are refused).
      ...(await signRequest({
        secret: this.#opts.secret,
        method: "POST",
        path: INFER_PATH,
        body,
        audience: backend,
      })),
      "content-type": typeof body === "string" ? "application/json" : INFER_FRAME_CONTENT_TYPE,
      "x-request-id": request.request_id,
    };
    if (this.#opts.backendToken) headers.authorization = `Bearer ${this.#opts.backendToken}`;
    let response: Response;
    let bytes: Uint8Array;
    try {
      response = await this.#fetch(`${backend}${INFER_PATH}`, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (err) {
      const name = (err as { name?: string }).name;
      const timedOut = name === "TimeoutError" || name === "AbortError";
      return { kind: "retry", outcome: timedOut ? "timeout" : "connection", fault: true };
    }

    const status = response.status;
    if (status === 200) return this.#accept(backend, response, bytes, request);
    if (status === 503) {
      const wait = parseRetryAfter(response.headers.get("retry-after"), this.#now()) ?? DEFAULT_BUSY_MS;
      return { kind: "retry", outcome: "busy", status, busyUntil: this.#now() + wait, fault: false };
    }
    if (status === 401) return { kind: "retry", outcome: "rejected", status, fault: true };
    if (status >= 500) return { kind: "retry", outcome: "server_error", status, fault: true };
    return { kind: "fatal", status, message: readErrorMessage(bytes) ?? `HTTP ${status}` };
  }

  #accept(
    backend: string,
    response: Response,
    bytes: Uint8Array,
    request: Omit<InferRequest, "deadline_ms">,
  ): AttemptResult {
    const contentType = response.headers.get("content-type") ?? "";
    const revision = response.headers.get(INFER_HEADERS.modelRevision) ?? "";
    const valid =
      contentType.split(";")[0].trim() === CONTENT_TYPES[request.output_format] &&
      revision === this.#opts.modelRevision &&
      looksLikeImage(bytes, request.output_format);
    if (!valid) return { kind: "retry", outcome: "invalid_response", status: 200, fault: true };
    const seedHeader = Number(response.headers.get(INFER_HEADERS.seed));
    return {
      kind: "ok",
      image: {
        bytes,
        contentType: CONTENT_TYPES[request.output_format],
        seed: Number.isSafeInteger(seedHeader) ? seedHeader : request.seed,
        modelRevision: revision,
        promptTruncated: response.headers.get(INFER_HEADERS.promptTruncated) === "1",
        serverTiming: response.headers.get(INFER_HEADERS.serverTiming),
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
