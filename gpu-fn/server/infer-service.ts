/**
 * One `POST /v1/infer` request from validated protocol fields to encoded image bytes: tokenize, (image-to-image:
 * resize the input pixels to the output size), queue for a batch, encode with sharp, and collect per-stage
 * timings for `server-timing` and /metrics.
 * @module
 */
import { CONTENT_TYPES, INFER_HEADERS, type InferRequest } from "../../shared/protocol";
import { startStep, stepsRun } from "../../shared/strength";
import { encodeImage } from "../pipeline/image-encode";
import { resizeInitImage } from "../pipeline/image-resize";
import type { GenerationJob } from "../pipeline/text-to-image";
import type { PromptEncoder } from "../runtime/prompt-encoder";
import { DeadlineExceededError, type DynamicBatcher, type ItemEvents } from "./batcher";
import type { GpuMetrics, Stage } from "./metrics";

/** A request that is well-formed but asks for something this model cannot do (HTTP 422). */
export class UnprocessableError extends Error {
  override name = "UnprocessableError";
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

export interface InferServiceOptions {
  batcher: DynamicBatcher;
  encoder: PromptEncoder;
  metrics: GpuMetrics;
  model: { name: string; revision: string };
  /** Why this model folder cannot run image-to-image (one line), or null when it can. */
  imageToImageUnsupported?: string | null;
  maxSide: number;
  now?: () => number;
}

export interface InferOutcome {
  body: Buffer;
  headers: Record<string, string>;
}

export class InferService {
  readonly #o: InferServiceOptions;

  constructor(opts: InferServiceOptions) {
    this.#o = opts;
  }

  /**
   * `previews` and `events` come from the streaming form (infer-stream.ts); the plain form has neither.
   * `pixels`: the frame's RGB8 input image, exactly `init_image.width · height · 3` bytes (checked by admit).
   */
  async infer(
    req: InferRequest & { previews?: number },
    signal?: AbortSignal,
    extras: { events?: ItemEvents; pixels?: Uint8Array } = {},
  ): Promise<InferOutcome> {
    const { events, pixels } = extras;
    const now = this.#o.now ?? Date.now;
    const t0 = performance.now();
    this.#checkSize(req);
    if (req.deadline_ms !== undefined && now() > req.deadline_ms) {
      throw new DeadlineExceededError("deadline expired before the request was queued");
    }

    const tTok = performance.now();
    const prompt = this.#o.encoder.encode(req.prompt);
    const cfg = req.guidance_scale > 0;
    const negative = cfg ? this.#o.encoder.encode(req.negative_prompt) : null;
    const tokenizeMs = performance.now() - tTok;

    const init = req.init_image;
    let resizeMs = 0;
    let initRgb: Uint8Array | undefined;
    if (init) {
      if (this.#o.imageToImageUnsupported)
        throw new UnprocessableError(this.#o.imageToImageUnsupported, "image");
      if (!pixels) throw new UnprocessableError("init_image without pixels", "init_image");
      try {
        startStep(req.steps, init.strength);
      } catch (err) {
        throw new UnprocessableError((err as Error).message, "strength");
      }
      const tResize = performance.now();
      initRgb = await resizeInitImage(pixels, init.width, init.height, req.width, req.height);
      resizeMs = performance.now() - tResize;
    }

    const job: GenerationJob = {
      width: req.width,
      height: req.height,
      steps: req.steps,
      guidanceScale: req.guidance_scale,
      promptIds: prompt.ids,
      negativePromptIds: negative?.ids,
      seed: req.seed,
      ...(init && initRgb ? { init: { rgb: initRgb, strength: init.strength } } : {}),
      previews: req.previews ?? 0,
    };
    const item = await this.#o.batcher.submit(job, { deadlineMs: req.deadline_ms, signal, events });

    const tEnc = performance.now();
    const { image } = item;
    const body = await encodeImage(image.rgb, image.width, image.height, {
      format: req.output_format,
      quality: req.quality,
      software: `${this.#o.model.name} ${this.#o.model.revision}`,
      // The prompt is the customer's: in the file only when the request opted in (embed_metadata).
      parameters: req.embed_metadata
        ? {
            prompt: req.prompt,
            negative_prompt: cfg ? req.negative_prompt : "",
            width: req.width,
            height: req.height,
            steps: req.steps,
            guidance_scale: req.guidance_scale,
            seed: req.seed,
            ...(init ? { strength: init.strength } : {}),
            model: this.#o.model.name,
            revision: this.#o.model.revision,
          }
        : undefined,
    });
    const imageEncodeMs = performance.now() - tEnc;

    const t = item.done.timings;
    const stages: [Stage, number][] = [
      ["tokenize", tokenizeMs],
      ["queue", item.queueMs],
      ["text_encoder", t.textEncoderMs],
      ...(init
        ? ([
            ["resize", resizeMs],
            ["vae_encode", t.encodeMs ?? 0],
          ] as [Stage, number][])
        : []),
      ["denoise", t.stepMs.reduce((a, b) => a + b, 0)],
      ["decode", t.decodeMs],
      ["preview", t.previewMs],
      ["postprocess", t.postprocessMs],
      ["image_encode", imageEncodeMs],
      ["total", performance.now() - t0],
    ];
    for (const [stage, ms] of stages) this.#o.metrics.observeStage(stage, ms);
    this.#o.metrics.images.inc({ format: req.output_format });

    return {
      body,
      headers: {
        "content-type": CONTENT_TYPES[req.output_format],
        [INFER_HEADERS.seed]: String(req.seed),
        [INFER_HEADERS.modelRevision]: this.#o.model.revision,
        [INFER_HEADERS.promptTruncated]: prompt.truncated || negative?.truncated ? "1" : "0",
        // Stage times of the batch this request ran in, plus the batch's time inside ONNX Runtime (session_run).
        [INFER_HEADERS.serverTiming]: [...stages, ["session_run", item.done.sessionRunMs] as const]
          .map(([s, ms]) => `${s};dur=${ms.toFixed(1)}`)
          .join(", "),
        "x-zi-batch-size": String(item.batchSize),
        [INFER_HEADERS.stepsRun]: String(stepsRun(req.steps, init?.strength)),
      },
    };
  }

  /** Why a request would be refused before any work (422 size, 503 queue full or draining), or null. */
  refusal(req: InferRequest): Error | null {
    try {
      this.#checkSize(req);
    } catch (err) {
      return err as Error;
    }
    return this.#o.batcher.refusal();
  }

  /** Position of a queued job (by the events it was submitted with); 0 once it runs. */
  queuePosition(events: ItemEvents): number {
    return this.#o.batcher.queuePosition(events);
  }

  #checkSize(req: InferRequest): void {
    for (const param of ["width", "height"] as const) {
      const v = req[param];
      if (v % 16 !== 0) throw new UnprocessableError(`${param} must be a multiple of 16, got ${v}`, param);
      if (v > this.#o.maxSide)
        throw new UnprocessableError(`${param} must be <= ${this.#o.maxSide}, got ${v}`, param);
    }
  }
}
