/**
 * Golden handler for `vae_decoder` cases: `z` f32 [B, 16, h, w] (already in decoder space) through
 * `<modelDir>/vae_decoder.onnx` -> `image` f32 [B, 3, 8h, 8w], raw (not clamped).
 */
import * as ort from "onnxruntime-node";
import { loadModelFolder } from "../model/model-folder";
import type { GoldenCaseContext, GoldenTensor } from "./types";

export async function runCase(ctx: GoldenCaseContext): Promise<Record<string, GoldenTensor>> {
  const z = ctx.inputs.z;
  if (z?.dtype !== "F32" || z.dims.length !== 4)
    throw new Error(`${ctx.case.name}: input "z" must be F32 [B, C, h, w]`);
  const folder = loadModelFolder(ctx.modelDir);
  const session = await ort.InferenceSession.create(folder.graphPath("vae_decoder"), {
    executionProviders: [ctx.provider],
  });
  try {
    const out = await session.run({ z: new ort.Tensor("float32", z.data as Float32Array, z.dims) });
    const image = out.image;
    return { image: { dtype: "F32", dims: [...image.dims], data: image.data as Float32Array } };
  } finally {
    await session.release();
  }
}
