/**
 * Progress previews: at a few evenly spaced Euler steps, the pipeline's prediction of the clean latent
 * (x0 = x_t - sigma * noise_pred; here noise_pred = -v, so x0 = x_t + sigma * v) is decoded by the real VAE decoder
 * at a reduced resolution. Why the real VAE and not a linear latent->RGB projection: the projection needs
 * per-model fitted factors (the tiny test models have none that mean anything) and shows mush for a 16-channel
 * latent, while the decoder at 1/2 or 1/4 of the latent side costs 1/4 or 1/16 of a full decode (it is fully
 * convolutional) and shows what the final image will look like. Measured in docs/benchmarks.md.
 * @module
 */
import { fl } from "./noise/float32-math";

/** Longest side of a preview image in pixels (the latent is average-pooled by a power of two until it fits). */
export const PREVIEW_MAX_SIDE = 256;

/**
 * The steps (1-based, after which a preview is taken) for `count` previews over `total` steps: evenly spaced,
 * never the last step (the final image is its own event), at most one per step.
 */
export function previewSteps(total: number, count: number): number[] {
  if (count <= 0 || total <= 1) return [];
  const out = new Set<number>();
  for (let j = 1; j <= count; j++) {
    const step = Math.round((j * total) / (count + 1));
    out.add(Math.min(total - 1, Math.max(1, step)));
  }
  return [...out].sort((a, b) => a - b);
}

/** x0 = x_t + sigma * v (v: the raw transformer output after guidance; the pipeline steps with -v). */
export function predictedClean(latent: Float32Array, v: Float32Array, sigma: number): Float32Array {
  const s = fl(sigma);
  const out = new Float32Array(latent.length);
  for (let p = 0; p < latent.length; p++) out[p] = fl(latent[p] + fl(s * v[p]));
  return out;
}

/** The pooling factor (power of two) that brings an image of this size within PREVIEW_MAX_SIDE, given its latent. */
export function previewFactor(
  width: number,
  height: number,
  latentH: number,
  latentW: number,
  maxSide = PREVIEW_MAX_SIDE,
): number {
  let f = 1;
  while (
    Math.max(width, height) / f > maxSide &&
    latentH % (f * 2) === 0 &&
    latentW % (f * 2) === 0 &&
    latentH / (f * 2) >= 2 &&
    latentW / (f * 2) >= 2
  ) {
    f *= 2;
  }
  return f;
}

/** Average-pools a (C, H, W) latent by `f` per side -> (C, H/f, W/f). */
export function poolLatent(x: Float32Array, channels: number, h: number, w: number, f: number): Float32Array {
  if (f === 1) return x;
  const ph = h / f;
  const pw = w / f;
  const out = new Float32Array(channels * ph * pw);
  const inv = 1 / (f * f);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < ph; y++) {
      for (let xx = 0; xx < pw; xx++) {
        let sum = 0;
        for (let dy = 0; dy < f; dy++) {
          const row = (c * h + y * f + dy) * w + xx * f;
          for (let dx = 0; dx < f; dx++) sum += x[row + dx];
        }
        out[(c * ph + y) * pw + xx] = sum * inv;
      }
    }
  }
  return out;
}
