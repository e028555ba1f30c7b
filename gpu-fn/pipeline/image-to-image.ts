/**
 * Image-to-image for Z-Image-Turbo, exactly as diffusers' ZImageImg2ImgPipeline (@58eb52c; golden README §9.3):
 *   1. preprocess: uint8 RGB -> fl32(2·fl32(u/255) − 1), NCHW (VaeImageProcessor.preprocess);
 *   2. strength -> start step: t_start = int(max(N − min(N·strength, N), 0)) in float64 (get_timesteps);
 *   3. encode: posterior sample mean + std·ε (ε = generator draw 1), then (z − shift)·scale;
 *   4. noise = generator draw 2; latents = σ·noise + (1 − σ)·image_latents with σ = sigmas[t_start] (scale_noise);
 *   5. the remaining N − t_start Euler steps and the decode are text-to-image's (text-to-image.ts), unchanged.
 * This module holds steps 1–4; ZImagePipeline.generate runs them for jobs that carry an `init` image.
 * Inputs must already have the output size (multiples of 16): resizing happens before (image-resize.ts).
 * @module
 */
import { fl } from "./noise/float32-math";
import { TorchGenerator } from "./noise/torch-randn";

/** The input picture of an image-to-image job. */
export interface InitImage {
  /** HWC uint8 RGB at the job's width × height. */
  rgb: Uint8Array;
  /** 0 < strength <= 1; acts only through the integer start step. */
  strength: number;
  /** Posterior ε to use instead of generator draw 1 (golden cases import it; CUDA generators cannot be replayed). */
  posteriorEps?: Float32Array;
}

/** The posterior of a batch of encoded images, each (B, 16, h, w) in C order. */
export interface Posterior {
  mean: Float32Array;
  std: Float32Array;
}

/** The VAE encoder as the pipeline needs it: image (B, 3, H, W) in [−1, 1] -> posterior at (H/8, W/8). */
export type EncodeImage = (
  image: Float32Array,
  batch: number,
  height: number,
  width: number,
) => Promise<Posterior>;

/** uint8 -> float32 exactly as the reference: fl32(2·fl32(u/255) − 1) (all 256 values, README §9.2). */
const PREPROCESS_LUT = Float32Array.from({ length: 256 }, (_, u) => fl(2 * fl(u / 255) - 1));

/** HWC uint8 RGB -> CHW float32 in [−1, 1], written into `out` at `offset` (one image of an NCHW batch). */
export function preprocessImage(
  rgb: Uint8Array,
  width: number,
  height: number,
  out = new Float32Array(3 * width * height),
  offset = 0,
): Float32Array {
  const plane = width * height;
  if (rgb.length !== 3 * plane)
    throw new Error(`input image has ${rgb.length} bytes, expected 3x${width}x${height}`);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[offset + c * plane + p] = PREPROCESS_LUT[rgb[p * 3 + c]];
  }
  return out;
}

/** strength -> start step (get_timesteps); shared with the edge, which bills the steps that run. */
export { startStep, stepsRun } from "../../shared/strength";

/** DiagonalGaussianDistribution.sample then the pipeline's shift/scale: (mean + std·ε − shift)·scale, float32. */
export function samplePosterior(
  mean: Float32Array,
  std: Float32Array,
  eps: Float32Array,
  scalingFactor: number,
  shiftFactor: number,
): Float32Array {
  if (mean.length !== eps.length || std.length !== eps.length)
    throw new Error("posterior and ε differ in size");
  const scale = fl(scalingFactor);
  const shift = fl(shiftFactor);
  const out = new Float32Array(mean.length);
  for (let i = 0; i < out.length; i++) out[i] = fl(fl(fl(mean[i] + fl(std[i] * eps[i])) - shift) * scale);
  return out;
}

/** FlowMatchEulerDiscreteScheduler.scale_noise: σ·noise + (1 − σ)·x, with (1 − σ) rounded first. */
export function scaleNoise(x: Float32Array, noise: Float32Array, sigma: number): Float32Array {
  const s = fl(sigma);
  const keep = fl(1 - s);
  const out = new Float32Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = fl(fl(s * noise[i]) + fl(keep * x[i]));
  return out;
}

export interface ImageLatentsJob {
  init: InitImage;
  seed?: number;
  /** Noise to use instead of generator draw 2. */
  initialLatents?: Float32Array;
}

export interface ImageLatents {
  /** (16, h, w) per job: the shifted and scaled posterior sample. */
  imageLatents: Float32Array[];
  /** (16, h, w) per job: what the first remaining Euler step starts from. */
  noised: Float32Array[];
}

/**
 * Steps 1, 3 and 4 for a batch of same-size jobs: one encoder call for all images, then per job its own
 * generator in the reference's draw order (ε first, then the noise), then the mix at σ = sigmas[t_start].
 */
export async function prepareImageLatents(
  encode: EncodeImage,
  jobs: ImageLatentsJob[],
  size: { width: number; height: number; latentLen: number },
  latent: { scaling_factor: number; shift_factor: number },
  sigma: number,
): Promise<ImageLatents> {
  const { width, height, latentLen } = size;
  const imageLen = 3 * width * height;
  const batch = new Float32Array(jobs.length * imageLen);
  jobs.forEach((j, b) => {
    preprocessImage(j.init.rgb, width, height, batch, b * imageLen);
  });
  const posterior = await encode(batch, jobs.length, height, width);
  const imageLatents: Float32Array[] = [];
  const noised: Float32Array[] = [];
  jobs.forEach((j, b) => {
    const gen = j.seed === undefined ? null : new TorchGenerator(j.seed);
    const draw = (given: Float32Array | undefined, what: string) => {
      if (given) {
        if (given.length !== latentLen)
          throw new Error(`${what} has ${given.length} values, expected ${latentLen}`);
        gen?.randn(latentLen); // keep the generator's position as if it had drawn
        return given;
      }
      if (!gen) throw new Error(`an image-to-image job needs a seed or its ${what}`);
      return gen.randn(latentLen);
    };
    const eps = draw(j.init.posteriorEps, "posterior ε");
    const range = [b * latentLen, (b + 1) * latentLen] as const;
    const x = samplePosterior(
      posterior.mean.subarray(...range),
      posterior.std.subarray(...range),
      eps,
      latent.scaling_factor,
      latent.shift_factor,
    );
    const noise = draw(j.initialLatents, "noise");
    imageLatents.push(x);
    noised.push(scaleNoise(x, noise, sigma));
  });
  return { imageLatents, noised };
}
