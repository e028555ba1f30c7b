import { join } from "node:path";
import { openSafetensors, type TensorToWrite, writeSafetensors } from "../../../gpu-fn/model/safetensors";

/**
 * Rewrites a diffusers transformer folder as a ComfyUI-style single file (the inverse of spec §2's renames):
 * `model.diffusion_model.` prefix, x_embedder/final_layer, fused qkv, out/q_norm/k_norm, plus a norm_final gain.
 */
export function writeComfyTransformer(diffusersDir: string, outFile: string): TensorToWrite[] {
  const src = openSafetensors(diffusersDir);
  const tensors: TensorToWrite[] = [];
  const P = "model.diffusion_model.";
  let dim = 0;
  try {
    for (const [name, t] of src.tensors) {
      const e = t.file.entry(name);
      if (name === "x_pad_token") dim = e.shape[1];
      if (/\.attention\.to_[kv]\.weight$/.test(name)) continue;
      if (name.endsWith(".attention.to_q.weight")) {
        const base = name.slice(0, -"to_q.weight".length);
        const parts = ["to_q", "to_k", "to_v"].map((p) => t.file.readF32(`${base}${p}.weight`));
        const qkv = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
        for (const [i, p] of parts.entries()) qkv.set(p, i * p.length);
        tensors.push({
          name: `${P}${base}qkv.weight`,
          dtype: "F32",
          shape: [3 * e.shape[0], e.shape[1]],
          data: qkv,
        });
        continue;
      }
      const comfy = name
        .replace(/^all_x_embedder\.2-1\./, "x_embedder.")
        .replace(/^all_final_layer\.2-1\./, "final_layer.")
        .replace(/\.attention\.to_out\.0\.weight$/, ".attention.out.weight")
        .replace(/\.attention\.norm_q\.weight$/, ".attention.q_norm.weight")
        .replace(/\.attention\.norm_k\.weight$/, ".attention.k_norm.weight");
      tensors.push({ name: P + comfy, dtype: e.dtype, shape: e.shape, data: t.file.readRaw(name) });
    }
  } finally {
    src.close();
  }
  tensors.push({
    name: `${P}norm_final.weight`,
    dtype: "F32",
    shape: [dim],
    data: new Float32Array(dim).fill(1),
  });
  writeSafetensors(outFile, tensors);
  return tensors;
}

export const comfyFileIn = (dir: string) => join(dir, "z_image_turbo_comfy.safetensors");
