/**
 * Golden handler for `pipeline` cases: the case's token ids (valid positions of `input_ids`) and `latents_init`
 * go through the same ZImagePipeline + ONNX Runtime models the server's worker uses; returns the final latents,
 * the clamped NHWC float image and its half-to-even uint8.
 * @module
 */
import { loadModelFolder } from "../model/model-folder";
import { ZImagePipeline } from "../pipeline/text-to-image";
import { OrtPipelineModels, openModelSessions, pipelineConfigOf } from "../runtime/ort-models";
import type { GoldenCaseContext, GoldenTensor } from "./types";

interface PipelineParams {
  num_inference_steps: number;
  guidance_scale: number;
  height: number;
  width: number;
  cfg_normalization?: boolean | number;
  cfg_truncation?: number;
}

/** Ids where attention_mask == 1 (right-padded (1, L) tensors). */
function validIds(ids: GoldenTensor | undefined, mask: GoldenTensor | undefined, name: string): number[] {
  if (!ids || !mask) throw new Error(`pipeline case needs ${name} and its attention mask`);
  const id = ids.data as BigInt64Array;
  const m = mask.data as BigInt64Array;
  const out: number[] = [];
  for (let i = 0; i < id.length; i++) if (m[i] === 1n) out.push(Number(id[i]));
  return out;
}

export async function runCase(ctx: GoldenCaseContext): Promise<Record<string, GoldenTensor>> {
  const p = ctx.case.params as unknown as PipelineParams;
  const folder = loadModelFolder(ctx.modelDir);
  const { sessions } = await openModelSessions(folder, ctx.provider);
  try {
    const pipeline = new ZImagePipeline(
      new OrtPipelineModels(sessions, folder.model),
      pipelineConfigOf(folder.model),
    );
    const cfg = p.guidance_scale > 0;
    const latentsInit = ctx.inputs.latents_init;
    const { results } = await pipeline.generate([
      {
        width: p.width,
        height: p.height,
        steps: p.num_inference_steps,
        guidanceScale: p.guidance_scale,
        cfgTruncation: p.cfg_truncation,
        cfgNormalization: Number(p.cfg_normalization ?? 0),
        promptIds: validIds(ctx.inputs.input_ids, ctx.inputs.attention_mask, "input_ids"),
        negativePromptIds: cfg
          ? validIds(ctx.inputs.negative_input_ids, ctx.inputs.negative_attention_mask, "negative_input_ids")
          : undefined,
        initialLatents: latentsInit.data as Float32Array,
      },
    ]);
    const r = results[0]!;
    const imageDims = [1, p.height, p.width, 3];
    return {
      latents_final: { dtype: "F32", dims: latentsInit.dims, data: r.latents },
      image_float: { dtype: "F32", dims: imageDims, data: r.image.float },
      image_uint8: { dtype: "U8", dims: imageDims, data: r.image.rgb },
    };
  } finally {
    await Promise.all(Object.values(sessions).map((s) => s.release()));
  }
}
