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

/**
 * Rewrites a diffusers VAE folder as a ComfyUI/BFL-style single file (LDM names, the inverse of ldmVaeRefs):
 * `down_blocks.i.resnets.j` -> `down.i.block.j`, `up_blocks.i` -> `up.(n−1−i)`, mid-block names, attention
 * projections as 1x1 convs [C, C, 1, 1], `conv_shortcut` -> `nin_shortcut`, `conv_norm_out` -> `norm_out`.
 */
export function writeLdmVae(diffusersDir: string, outFile: string, upBlocks: number): void {
  const src = openSafetensors(diffusersDir);
  const tensors: TensorToWrite[] = [];
  try {
    for (const [name, t] of src.tensors) {
      const e = t.file.entry(name);
      const ldm = name
        .replace(/^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\./, "encoder.down.$1.block.$2.")
        .replace(/^encoder\.down_blocks\.(\d+)\.downsamplers\.0\./, "encoder.down.$1.downsample.")
        .replace(
          /^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\./,
          (_, i, j) => `decoder.up.${upBlocks - 1 - Number(i)}.block.${j}.`,
        )
        .replace(
          /^decoder\.up_blocks\.(\d+)\.upsamplers\.0\./,
          (_, i) => `decoder.up.${upBlocks - 1 - Number(i)}.upsample.`,
        )
        .replace(/\.mid_block\.resnets\.([01])\./, (_, k) => `.mid.block_${Number(k) + 1}.`)
        .replace(/\.mid_block\.attentions\.0\.group_norm\./, ".mid.attn_1.norm.")
        .replace(/\.mid_block\.attentions\.0\.to_(q|k|v)\./, ".mid.attn_1.$1.")
        .replace(/\.mid_block\.attentions\.0\.to_out\.0\./, ".mid.attn_1.proj_out.")
        .replace(/\.conv_shortcut\./, ".nin_shortcut.")
        .replace(/^(encoder|decoder)\.conv_norm_out\./, "$1.norm_out.");
      const conv1x1 = /\.attn_1\.(q|k|v|proj_out)\.weight$/.test(ldm);
      tensors.push({
        name: ldm,
        dtype: e.dtype,
        shape: conv1x1 ? [...e.shape, 1, 1] : e.shape,
        data: t.file.readRaw(name),
      });
    }
  } finally {
    src.close();
  }
  writeSafetensors(outFile, tensors);
}
