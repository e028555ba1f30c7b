/**
 * Golden handler for `vae_encoder` cases (cases-img2img.json): `image` f32 [B, 3, H, W] in [−1, 1] through
 * `<modelDir>/vae_encoder.onnx` -> the posterior (mean, clamped logvar, std), then the pipeline's own
 * `samplePosterior` with the case's `posterior_eps` -> `latents`, and the mean alone -> `latents_mode`.
 */
import * as ort from "onnxruntime-node";
import { loadModelFolder } from "../model/model-folder";
import { samplePosterior } from "../pipeline/image-to-image";
import type { GoldenCaseContext, GoldenTensor } from "./types";

export async function runCase(ctx: GoldenCaseContext): Promise<Record<string, GoldenTensor>> {
  const { image, posterior_eps: eps } = ctx.inputs;
  if (image?.dtype !== "F32" || image.dims.length !== 4)
    throw new Error(`${ctx.case.name}: input "image" must be F32 [B, 3, H, W]`);
  if (eps?.dtype !== "F32") throw new Error(`${ctx.case.name}: input "posterior_eps" must be F32`);
  const folder = loadModelFolder(ctx.modelDir);
  const session = await ort.InferenceSession.create(folder.graphPath("vae_encoder"), {
    executionProviders: [ctx.provider],
  });
  try {
    const out = await session.run({
      image: new ort.Tensor("float32", image.data as Float32Array, image.dims),
    });
    const { scaling_factor, shift_factor } = folder.model.latent;
    const f32 = (name: string) => out[name].data as Float32Array;
    const dims = [...out.latent_mean.dims];
    const mean = f32("latent_mean");
    const std = f32("latent_std");
    const t = (data: Float32Array): GoldenTensor => ({ dtype: "F32", dims, data });
    return {
      latent_mean: t(mean),
      latent_logvar: t(f32("latent_logvar")),
      latent_std: t(std),
      latents: t(samplePosterior(mean, std, eps.data as Float32Array, scaling_factor, shift_factor)),
      latents_mode: t(
        samplePosterior(mean, std, new Float32Array(mean.length), scaling_factor, shift_factor),
      ),
    };
  } finally {
    await session.release();
  }
}
