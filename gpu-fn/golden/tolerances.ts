/**
 * Which tolerance applies to each output of a golden case.
 *
 * cpu target: the case's own `tolerance` from cases.json (fp32 implementation):
 *   `atol`/`rtol` -> allclose; `atol: 0` without rtol -> exact; `<tensor>_atol` (pipeline) -> allclose for that
 *   tensor; U8 tensors -> |d| <= 1 on <= 0.5 % of the values (the pipeline's "±1 on ≤ 0.5 %").
 * cuda target (fp16 weights; checked on CPU in CI): the fp16 tolerances below, per component. Components that
 * compute no differently on cuda (scheduler, noise) keep the cases.json rule. See gpu-fn/golden/README.md.
 */
import type { Target } from "../model/builders/types";
import type { Tolerance } from "./compare";
import { TRANSFORMER_FP16_TOLERANCE } from "./transformer";
import type { GoldenCase } from "./types";

const UINT8_RULE: Tolerance = { kind: "uint8", maxDiff: 1, maxFraction: 0.005 };

/**
 * fp16 (cuda target) tolerances, from the errors measured on tiny-a with ~3x headroom (gpu-fn/golden/README.md):
 * - text_encoder: 1.7e-3 (fp16 matmuls/attention) -> allclose 5e-3 / 5e-3.
 * - transformer: 1e-2 on outputs of O(1), rms-rel ~1e-3 -> the DiT helper's TRANSFORMER_FP16_TOLERANCE.
 * - vae_decoder: 1.1e-3 (fp16-rounded weights; compute stays fp32 because the config sets force_upcast) -> 5e-3.
 * - pipeline: each Euler step adds dt * (error of the guided velocity); sum |dt| = 1 and CFG's
 *   pos + g(pos - neg) scales a per-call error by up to 1 + 2g, so latents get atol 2e-2 * (1 + 2g)
 *   (measured 4.3e-3 at g=0, 5.0e-2 at g=4), image floats half of that (the decoder shrinks latent errors:
 *   measured 1.3e-3 / 8.1e-3), uint8 pixels |d| <= 255 * image atol + 1 (rounding) on any number of values.
 * - vae_encoder: 2.2e-3 (fp16-rounded weights, fp32 compute under force_upcast, as the decoder) -> 5e-3 / 5e-3.
 * - img2img: image_latents = scale·(mean + std·ε − shift) carries the encoder error (|ε| up to ~4): measured
 *   3.5e-3 -> atol 1e-2 (also latents_noised, which keeps (1 − σ) of it); the flow then transports that start
 *   error to the end, so latents_final gets the text-to-image bound plus it: 2e-2 + 1e-2 = 3e-2 (measured
 *   1.4e-2), image_float half of that (measured 2.7e-3), uint8 |d| <= ⌈255·1.5e-2⌉ + 1 on any number of values.
 *   The preprocessed image and the schedule do not depend on the target and stay exact.
 */
const IMG2IMG_FP16_LATENTS = 3e-2;
export function fp16Tolerance(c: GoldenCase, tensor: string): Tolerance | undefined {
  switch (c.component) {
    case "text_encoder":
      return { kind: "allclose", atol: 5e-3, rtol: 5e-3 };
    case "transformer":
      return { kind: "allclose", ...TRANSFORMER_FP16_TOLERANCE };
    case "vae_decoder":
      return { kind: "allclose", atol: 5e-3, rtol: 5e-3 };
    case "pipeline": {
      const g = typeof c.params?.guidance_scale === "number" ? c.params.guidance_scale : 0;
      const latents = 2e-2 * (1 + 2 * Math.abs(g));
      if (tensor === "latents_final") return { kind: "allclose", atol: latents, rtol: 0 };
      if (tensor === "image_float") return { kind: "allclose", atol: latents / 2, rtol: 0 };
      if (tensor === "image_uint8")
        return { kind: "uint8", maxDiff: Math.ceil((255 * latents) / 2) + 1, maxFraction: 1 };
      return undefined;
    }
    case "vae_encoder":
      return { kind: "allclose", atol: 5e-3, rtol: 5e-3 };
    case "img2img": {
      if (tensor === "image_latents" || tensor === "latents_noised")
        return { kind: "allclose", atol: 1e-2, rtol: 0 };
      if (tensor === "latents_final") return { kind: "allclose", atol: IMG2IMG_FP16_LATENTS, rtol: 0 };
      if (tensor === "image_float") return { kind: "allclose", atol: IMG2IMG_FP16_LATENTS / 2, rtol: 0 };
      if (tensor === "image_uint8")
        return { kind: "uint8", maxDiff: Math.ceil((255 * IMG2IMG_FP16_LATENTS) / 2) + 1, maxFraction: 1 };
      return undefined; // image_preprocessed, sigmas, timesteps: exact on both targets
    }
    default:
      return undefined; // scheduler, noise: identical on both targets
  }
}

export function toleranceFor(c: GoldenCase, tensor: string, dtype: string, target: Target): Tolerance {
  const fp16 = target === "cuda" ? fp16Tolerance(c, tensor) : undefined;
  if (fp16) return fp16;
  const tol = c.tolerance ?? {};
  const num = (k: string) => (typeof tol[k] === "number" ? (tol[k] as number) : undefined);
  const perTensor = num(`${tensor}_atol`);
  if (perTensor !== undefined) return { kind: "allclose", atol: perTensor, rtol: num(`${tensor}_rtol`) ?? 0 };
  if (dtype === "U8") return UINT8_RULE;
  const atol = num("atol");
  const rtol = num("rtol");
  if (atol === 0 && !rtol) return { kind: "exact" };
  if (atol !== undefined) return { kind: "allclose", atol, rtol: rtol ?? 0 };
  throw new Error(`case ${c.name}: no tolerance for output "${tensor}" in cases.json`);
}
