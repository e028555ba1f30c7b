/**
 * Golden handler for `transformer` cases: feeds `x` (B,16,1,H,W), `t` (B,) and `cap_feats_<i>` (L_i, cap_feat_dim)
 * through `<modelDir>/transformer.onnx` (feeds from transformer-io, the same path the pipeline uses) and returns
 * `out`, the raw (B,16,1,H,W) output before the pipeline's negation.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { TRANSFORMER_FILE, TRANSFORMER_OUTPUT } from "../model/builders/transformer";
import { MODEL_JSON, modelJsonSchema } from "../model/model-folder";
import { buildTransformerFeeds, splitTransformerOutput, type TransformerItem } from "../model/transformer-io";
import type { GoldenCaseContext, GoldenTensor } from "./types";

/**
 * Tolerance for the `cuda` target (fp16 weights and matmul/attention activations; residual stream, norms and
 * gates fp32), checked on CPU: |a-b| <= atol + rtol*|ref| and rms(a-b) <= rmsRel * rms(ref). See
 * docs/benchmarks.md "Transformer fp16 tolerance" for the measurements behind these numbers.
 */
export const TRANSFORMER_FP16_TOLERANCE = { atol: 3e-2, rtol: 1e-2, rmsRel: 4e-3 } as const;

export async function runCase(ctx: GoldenCaseContext): Promise<Record<string, GoldenTensor>> {
  const name = ctx.case.name;
  const x = ctx.inputs.x;
  const t = ctx.inputs.t;
  if (x?.dtype !== "F32" || x.dims.length !== 5 || x.dims[2] !== 1) {
    throw new Error(`${name}: input "x" must be F32 (B, C, 1, H, W)`);
  }
  const [B, C, , H, W] = x.dims;
  if (t?.dtype !== "F32" || t.dims.join() !== `${B}`)
    throw new Error(`${name}: input "t" must be F32 (${B},)`);
  const io = modelJsonSchema.shape.transformer.parse(
    JSON.parse(readFileSync(join(ctx.modelDir, MODEL_JSON), "utf8")).transformer,
  );
  const latents = x.data as Float32Array;
  const items: TransformerItem[] = [];
  for (let b = 0; b < B; b++) {
    const cap = ctx.inputs[`cap_feats_${b}`];
    if (cap?.dtype !== "F32" || cap.dims.length !== 2 || cap.dims[1] !== io.cap_feat_dim) {
      throw new Error(`${name}: input "cap_feats_${b}" must be F32 (L, ${io.cap_feat_dim})`);
    }
    items.push({
      latent: latents.subarray(b * C * H * W, (b + 1) * C * H * W),
      capFeats: cap.data as Float32Array,
      capLen: cap.dims[0],
      t: (t.data as Float32Array)[b],
    });
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, f] of Object.entries(buildTransformerFeeds(io, items, H, W))) {
    feeds[k] = new ort.Tensor(f.type, f.data, f.dims);
  }
  const session = await ort.InferenceSession.create(join(ctx.modelDir, TRANSFORMER_FILE), {
    executionProviders: [ctx.provider],
  });
  try {
    const y = (await session.run(feeds))[TRANSFORMER_OUTPUT];
    const parts = splitTransformerOutput(y.data as Float32Array, [...y.dims], B, H, W, io);
    const out = new Float32Array(B * C * H * W);
    parts.forEach((p, b) => {
      out.set(p, b * C * H * W);
    });
    return { out: { dtype: "F32", dims: [B, C, 1, H, W], data: out } };
  } finally {
    await session.release();
  }
}
