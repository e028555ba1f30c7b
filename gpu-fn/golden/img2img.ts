/**
 * Golden handler for `img2img` cases (cases-img2img.json): the case's picture, token ids, `posterior_eps` and
 * `noise` go through the same ZImagePipeline (an `init` job) + ONNX Runtime models the server's worker uses.
 * The intermediate outputs (preprocessed image, image latents, noised latents, truncated schedule) come from the
 * exported image-to-image steps the pipeline itself calls, so they check the same code.
 * @module
 */
import { loadModelFolder } from "../model/model-folder";
import { prepareImageLatents, preprocessImage, startStep } from "../pipeline/image-to-image";
import { buildSchedule } from "../pipeline/scheduler";
import { latentSize, ZImagePipeline } from "../pipeline/text-to-image";
import { OrtPipelineModels, openModelSessions, pipelineConfigOf } from "../runtime/ort-models";
import type { GoldenCaseContext, GoldenTensor } from "./types";

interface Img2ImgParams {
  num_inference_steps: number;
  strength: number;
  height: number;
  width: number;
}

export async function runCase(ctx: GoldenCaseContext): Promise<Record<string, GoldenTensor>> {
  const p = ctx.case.params as unknown as Img2ImgParams;
  const { init_image_uint8: img, input_ids, attention_mask, posterior_eps, noise } = ctx.inputs;
  const ids = input_ids.data as BigInt64Array;
  const mask = attention_mask.data as BigInt64Array;
  const promptIds = [...ids].flatMap((id, i) => (mask[i] === 1n ? [Number(id)] : []));
  const folder = loadModelFolder(ctx.modelDir);
  const { sessions } = await openModelSessions(folder, ctx.provider);
  try {
    const models = new OrtPipelineModels(sessions, folder.model);
    const config = pipelineConfigOf(folder.model);
    const pipeline = new ZImagePipeline(models, config);
    const { width, height, num_inference_steps: steps } = p;
    const init = {
      rgb: img.data as Uint8Array,
      strength: p.strength,
      posteriorEps: posterior_eps.data as Float32Array,
    };
    const initialLatents = noise.data as Float32Array;
    const { results } = await pipeline.generate([
      { width, height, steps, guidanceScale: 0, promptIds, init, initialLatents },
    ]);
    const r = results[0]!;

    const tStart = startStep(steps, p.strength);
    const full = buildSchedule(steps, config.scheduler);
    const { h, w } = latentSize(width, height, config.latent.vae_scale_factor);
    const encode = models.encodeImage;
    if (!encode) throw new Error(`${ctx.modelDir}: no vae_encoder graph`);
    const { imageLatents, noised } = await prepareImageLatents(
      encode,
      [{ init, initialLatents }],
      { width, height, latentLen: config.latent.channels * h * w },
      config.latent,
      full.sigmas[tStart],
    );
    const latentDims = noise.dims;
    const imageDims = [1, height, width, 3];
    const f32 = (dims: number[], data: Float32Array): GoldenTensor => ({ dtype: "F32", dims, data });
    return {
      image_preprocessed: f32([1, 3, height, width], preprocessImage(init.rgb, width, height)),
      image_latents: f32(latentDims, imageLatents[0]),
      sigmas: f32([steps - tStart + 1], full.sigmas.slice(tStart)),
      timesteps: f32([steps - tStart], full.timesteps.slice(tStart)),
      latents_noised: f32(latentDims, noised[0]),
      latents_final: f32(latentDims, r.latents),
      image_float: f32(imageDims, r.image.float),
      image_uint8: { dtype: "U8", dims: imageDims, data: r.image.rgb },
    };
  } finally {
    await Promise.all(Object.values(sessions).map((s) => s.release()));
  }
}
