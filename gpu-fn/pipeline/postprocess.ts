/**
 * Latents -> VAE input, VAE output -> image (spec §4.6; diffusers VaeImageProcessor.postprocess + numpy_to_pil).
 * @module
 */
import { fl } from "./noise/float32-math";

/** z = latents / scaling_factor + shift_factor (float32). */
export function toDecoderInput(
  latents: Float32Array,
  scalingFactor: number,
  shiftFactor: number,
): Float32Array {
  const scale = fl(scalingFactor);
  const shift = fl(shiftFactor);
  const z = new Float32Array(latents.length);
  for (let i = 0; i < latents.length; i++) z[i] = fl(fl(latents[i] / scale) + shift);
  return z;
}

export interface DecodedImage {
  width: number;
  height: number;
  /** NHWC floats in [0, 1] = clamp(x·0.5 + 0.5, 0, 1). */
  float: Float32Array;
  /** HWC uint8 RGB = round_half_even(float·255). */
  rgb: Uint8Array;
}

/** One image (3, H, W) of the decoder output -> clamped floats and uint8, both interleaved HWC. */
export function decoderOutputToImage(chw: Float32Array, width: number, height: number): DecodedImage {
  const plane = width * height;
  if (chw.length !== 3 * plane)
    throw new Error(`decoder output has ${chw.length} values, expected 3x${height}x${width}`);
  const float = new Float32Array(3 * plane);
  const rgb = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.min(1, Math.max(0, fl(fl(chw[c * plane + p] * 0.5) + 0.5)));
      float[p * 3 + c] = v;
      rgb[p * 3 + c] = roundHalfEven(fl(v * 255));
    }
  }
  return { width, height, float, rgb };
}

/** numpy's round(): ties go to the even neighbour (Math.round sends them up). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
