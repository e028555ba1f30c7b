/**
 * The Z-Image-Turbo denoising pipeline over three model calls (text encoder, transformer, VAE decoder), for a batch
 * of compatible jobs (same size and step count). Every job keeps its own prompt, seed and guidance, so a batched job
 * gives the same result as the job alone (within fp32 tolerance). Spec §4; diffusers ZImagePipeline.__call__.
 * Phases: 1 encode prompts, 2 schedule, 3 initial noise, 4 Euler loop with optional CFG, 5 decode + postprocess.
 * Jobs with an `init` image (image-to-image) get phase 3 from image-to-image.ts and start phase 4 at their
 * start step; everything else is shared, so a batch may only mix jobs with the same start step.
 * @module
 */
import { type CfgOptions, combineGuidance, guidanceAt, usesCfg } from "./cfg";
import { type EncodeImage, type InitImage, prepareImageLatents, startStep } from "./image-to-image";
import { torchRandn } from "./noise/torch-randn";
import { type DecodedImage, decoderOutputToImage, toDecoderInput } from "./postprocess";
import { poolLatent, predictedClean, previewFactor, previewSteps } from "./previews";
import { buildSchedule, type SchedulerConfig } from "./scheduler";

/** One transformer input item, as gpu-fn/model/transformer-io.ts takes it. */
export interface TransformerItem {
  /** (16, H, W) latent. */
  latent: Float32Array;
  /** (capLen, cap_feat_dim) caption features of the valid tokens. */
  capFeats: Float32Array;
  capLen: number;
  /** Model time t = 1 − sigma. */
  t: number;
}

/** The three graphs, as the pipeline needs them; implemented over ONNX Runtime in gpu-fn/runtime. */
export interface PipelineModels {
  /** Valid token ids of ONE prompt -> (L, cap_feat_dim) features (hidden_states[-2]). */
  encodeText(ids: number[]): Promise<Float32Array>;
  /** Raw transformer outputs (16, H, W) per item, before the pipeline's negation. */
  transformer(items: TransformerItem[], latentHeight: number, latentWidth: number): Promise<Float32Array[]>;
  /** z (B, 16, h, w) in decoder space -> image (B, 3, 8h, 8w). */
  decode(z: Float32Array, batch: number, latentHeight: number, latentWidth: number): Promise<Float32Array>;
  /** VAE encoder (image-to-image only); absent when the model folder has no encoder graph. */
  encodeImage?: EncodeImage;
}

export interface PipelineConfig {
  scheduler: SchedulerConfig;
  latent: { channels: number; vae_scale_factor: number; scaling_factor: number; shift_factor: number };
  /** Caption feature width (text encoder hidden size = transformer cap_feat_dim). */
  capFeatDim: number;
  /** Text encoder vocabulary size: ids at or above it are rejected. */
  vocabSize: number;
}

export interface GenerationJob extends CfgOptions {
  width: number;
  height: number;
  steps: number;
  /** Templated, tokenized prompt (valid ids only, no padding). */
  promptIds: number[];
  /** Templated negative prompt ids (the empty prompt still has its template); required when guidanceScale > 0. */
  negativePromptIds?: number[];
  /** Initial latents (16·h·w, C order); otherwise drawn from `seed` like torch's CPU generator. */
  initialLatents?: Float32Array;
  seed?: number;
  /** Low-resolution previews of the predicted clean image at evenly spaced steps (previews.ts); 0 = none. */
  previews?: number;
  /** Image-to-image: start from this picture (initialLatents then stands for the noise, generator draw 2). */
  init?: InitImage;
}

/** The scheduler step a job starts at: 0 for text-to-image, t_start for image-to-image. */
export function jobStartStep(job: Pick<GenerationJob, "steps" | "init">): number {
  return job.init ? startStep(job.steps, job.init.strength) : 0;
}

export interface BatchTimings {
  textEncoderMs: number;
  /** VAE encoder + noise mixing (image-to-image jobs only; 0 otherwise). */
  encodeMs?: number;
  stepMs: number[];
  decodeMs: number;
  postprocessMs: number;
  /** Time spent making previews (x0, pooling, VAE decode, postprocess), included in neither stepMs nor decodeMs. */
  previewMs: number;
}

export interface GenerationResult {
  latents: Float32Array;
  image: DecodedImage;
}

export interface GenerationHooks {
  /** Called after each Euler step (1-based). */
  onStep?: (step: number, total: number) => void;
  /** Checked before each model call; a cancelled job is dropped from the rest of the batch. */
  isCancelled?: (jobIndex: number) => boolean;
  /** A preview of job `jobIndex` after `step` (its `index`-th, 0-based); only for jobs that asked for previews. */
  onPreview?: (jobIndex: number, index: number, step: number, image: DecodedImage) => void;
}

export interface BatchOutput {
  /** Per job; null where the job was cancelled. */
  results: (GenerationResult | null)[];
  timings: BatchTimings;
}

/** Latent grid for an image size: 2·(size // 16) per side; sizes must be multiples of 16 (both references). */
export function latentSize(width: number, height: number, vaeScaleFactor = 8): { h: number; w: number } {
  const multiple = vaeScaleFactor * 2;
  if (width % multiple !== 0 || height % multiple !== 0 || width <= 0 || height <= 0) {
    throw new RangeError(
      `width and height must be positive multiples of ${multiple}, got ${width}x${height}`,
    );
  }
  return { h: 2 * (height / multiple), w: 2 * (width / multiple) };
}

export class ZImagePipeline {
  readonly models: PipelineModels;
  readonly config: PipelineConfig;

  constructor(models: PipelineModels, config: PipelineConfig) {
    this.models = models;
    this.config = config;
  }

  async generate(jobs: GenerationJob[], hooks: GenerationHooks = {}): Promise<BatchOutput> {
    if (jobs.length === 0) throw new Error("empty batch");
    const { width, height, steps } = jobs[0];
    const first = jobStartStep(jobs[0]);
    for (const j of jobs) {
      if (j.width !== width || j.height !== height || j.steps !== steps || jobStartStep(j) !== first) {
        throw new Error("a batch must share width, height, steps and start step");
      }
    }
    const { h, w } = latentSize(width, height, this.config.latent.vae_scale_factor);
    const channels = this.config.latent.channels;
    const latentLen = channels * h * w;
    const cancelled = (i: number) => hooks.isCancelled?.(i) ?? false;
    const timings: BatchTimings = {
      textEncoderMs: 0,
      stepMs: [],
      decodeMs: 0,
      postprocessMs: 0,
      previewMs: 0,
    };
    // Evenly spaced over the steps that run (image-to-image starts at `first`), numbered as absolute steps.
    const previewPlan = jobs.map((job) =>
      previewSteps(steps - first, job.previews ?? 0).map((step) => step + first),
    );

    // 1. Prompt features; identical prompts in a batch (e.g. empty negatives) are encoded once.
    let t0 = performance.now();
    const featureCache = new Map<string, Promise<Float32Array>>();
    const encode = (ids: number[]) => {
      this.#checkIds(ids);
      const key = ids.join(",");
      let f = featureCache.get(key);
      if (!f) {
        f = this.models.encodeText(ids);
        featureCache.set(key, f);
      }
      return f;
    };
    const posFeats: Float32Array[] = [];
    const negFeats: (Float32Array | null)[] = [];
    for (const job of jobs) {
      posFeats.push(await encode(job.promptIds));
      if (usesCfg(job) && !job.negativePromptIds)
        throw new Error("guidance_scale > 0 needs negative prompt ids");
      negFeats.push(usesCfg(job) ? await encode(job.negativePromptIds!) : null);
    }
    timings.textEncoderMs = performance.now() - t0;

    // 2. Schedule (shared: same step count and start step).
    const { sigmas, modelT } = buildSchedule(steps, this.config.scheduler);

    // 3. Initial noise, one generator per job; image-to-image jobs encode their picture and mix the noise in.
    t0 = performance.now();
    const withInit = jobs.flatMap((job, k) => (job.init ? [k] : []));
    const mixed = new Map<number, Float32Array>();
    if (withInit.length > 0) {
      const encode = this.models.encodeImage;
      if (!encode) throw new Error("this model has no VAE encoder graph (image-to-image needs one)");
      const { noised } = await prepareImageLatents(
        encode,
        withInit.map((k) => jobs[k] as GenerationJob & { init: InitImage }),
        { width, height, latentLen },
        this.config.latent,
        sigmas[first],
      );
      for (const [i, k] of withInit.entries()) mixed.set(k, noised[i]);
    }
    timings.encodeMs = performance.now() - t0;
    const latents = jobs.map((job, k) => {
      const m = mixed.get(k);
      if (m) return m;
      if (job.initialLatents) {
        if (job.initialLatents.length !== latentLen) {
          throw new Error(`initial latents have ${job.initialLatents.length} values, expected ${latentLen}`);
        }
        return Float32Array.from(job.initialLatents);
      }
      if (job.seed === undefined) throw new Error("a job needs a seed or initial latents");
      return torchRandn(latentLen, job.seed);
    });

    // 4. Euler steps; one transformer call per step for the whole batch ([positives..., negatives...]).
    for (let i = first; i < steps; i++) {
      t0 = performance.now();
      const active = jobs.map((_, k) => k).filter((k) => !cancelled(k));
      if (active.length === 0) break;
      const t = modelT[i];
      const items: TransformerItem[] = [];
      const negIndex = new Map<number, number>();
      for (const k of active) items.push(this.#item(latents[k], posFeats[k], t));
      for (const k of active) {
        if (guidanceAt(jobs[k], t) > 0) {
          negIndex.set(k, items.length);
          items.push(this.#item(latents[k], negFeats[k]!, t));
        }
      }
      const out = await this.models.transformer(items, h, w);
      const dt = Math.fround(sigmas[i + 1] - sigmas[i]);
      const wantPreview: { k: number; x0: Float32Array }[] = [];
      active.forEach((k, slot) => {
        const neg = negIndex.get(k);
        const v =
          neg === undefined
            ? out[slot]
            : combineGuidance(out[slot], out[neg], guidanceAt(jobs[k], t), jobs[k].cfgNormalization);
        const lat = latents[k];
        if (previewPlan[k].includes(i + 1)) wantPreview.push({ k, x0: predictedClean(lat, v, sigmas[i]) });
        // noise_pred = −v ; lat += dt·noise_pred
        for (let p = 0; p < latentLen; p++) lat[p] = Math.fround(lat[p] + Math.fround(dt * -v[p]));
      });
      timings.stepMs.push(performance.now() - t0);
      hooks.onStep?.(i + 1 - first, steps - first);
      if (wantPreview.length > 0) {
        const tp = performance.now();
        await this.#previews(wantPreview, i + 1, previewPlan, { width, height, h, w }, hooks);
        timings.previewMs += performance.now() - tp;
      }
    }

    // 5. Decode the surviving jobs in one call, then postprocess.
    const survivors = jobs.map((_, k) => k).filter((k) => !cancelled(k));
    const results: (GenerationResult | null)[] = jobs.map(() => null);
    if (survivors.length === 0) return { results, timings };
    t0 = performance.now();
    const z = new Float32Array(survivors.length * latentLen);
    survivors.forEach((k, b) => {
      z.set(
        toDecoderInput(latents[k], this.config.latent.scaling_factor, this.config.latent.shift_factor),
        b * latentLen,
      );
    });
    const decoded = await this.models.decode(z, survivors.length, h, w);
    timings.decodeMs = performance.now() - t0;
    t0 = performance.now();
    const imageLen = 3 * width * height;
    survivors.forEach((k, b) => {
      const chw = decoded.subarray(b * imageLen, (b + 1) * imageLen);
      results[k] = { latents: latents[k], image: decoderOutputToImage(chw, width, height) };
    });
    timings.postprocessMs = performance.now() - t0;
    return { results, timings };
  }

  /** Decodes the x0 predictions of the jobs that want a preview after `step`, pooled, in one VAE call. */
  async #previews(
    wanted: { k: number; x0: Float32Array }[],
    step: number,
    plan: number[][],
    size: { width: number; height: number; h: number; w: number },
    hooks: GenerationHooks,
  ): Promise<void> {
    const { channels, scaling_factor, shift_factor, vae_scale_factor } = this.config.latent;
    const f = previewFactor(size.width, size.height, size.h, size.w);
    const ph = size.h / f;
    const pw = size.w / f;
    const len = channels * ph * pw;
    const z = new Float32Array(wanted.length * len);
    wanted.forEach(({ x0 }, b) => {
      z.set(
        toDecoderInput(poolLatent(x0, channels, size.h, size.w, f), scaling_factor, shift_factor),
        b * len,
      );
    });
    const decoded = await this.models.decode(z, wanted.length, ph, pw);
    const pxW = pw * vae_scale_factor;
    const pxH = ph * vae_scale_factor;
    const imageLen = 3 * pxW * pxH;
    wanted.forEach(({ k }, b) => {
      const image = decoderOutputToImage(decoded.subarray(b * imageLen, (b + 1) * imageLen), pxW, pxH);
      hooks.onPreview?.(k, plan[k].indexOf(step), step, image);
    });
  }

  #item(latent: Float32Array, capFeats: Float32Array, t: number): TransformerItem {
    return { latent, capFeats, capLen: capFeats.length / this.config.capFeatDim, t };
  }

  #checkIds(ids: number[]): void {
    if (ids.length === 0) throw new Error("a prompt needs at least one token");
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new RangeError(
          `token id ${id} is outside the text encoder's vocabulary (${this.config.vocabSize})`,
        );
      }
    }
  }
}
