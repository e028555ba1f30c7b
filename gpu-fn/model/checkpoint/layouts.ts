/**
 * Key layouts a checkpoint may use, mapped to the canonical names the builders read (spec §2, §6):
 * Qwen3 keys with or without `model.`, the ComfyUI / "original" single-file transformer naming, and the
 * original (LDM / BFL `ae.safetensors`) VAE naming that ComfyUI's single-file VAEs use.
 */
import type { SafetensorsSet, TensorRef } from "../safetensors";

/**
 * Qwen3ForCausalLM saves carry `model.`; Qwen3Model saves do not. Both map to the bare names. Which one the
 * real Z-Image-Turbo text_encoder uses is [UNVERIFIED] (spec §6; the golden set's README infers `model.`).
 */
export function textEncoderRefs(set: SafetensorsSet): Map<string, TensorRef> {
  const refs = new Map<string, TensorRef>();
  for (const [name, t] of set.tensors) {
    const key = name.startsWith("model.") ? name.slice("model.".length) : name;
    const prev = refs.get(key);
    if (prev) {
      throw new Error(`${set.label}: "${name}" and "${prev.name}" both map to text-encoder key "${key}"`);
    }
    refs.set(key, { file: t.file, name: t.name });
  }
  return refs;
}

const COMFY_PREFIX = "model.diffusion_model.";

/** True when the transformer tensors use the ComfyUI / original naming rather than diffusers'. */
export function isComfyTransformer(set: SafetensorsSet): boolean {
  for (const name of set.tensors.keys()) {
    if (
      name.startsWith(COMFY_PREFIX) ||
      name.endsWith(".attention.qkv.weight") ||
      name.startsWith("x_embedder.")
    ) {
      return true;
    }
  }
  return false;
}

/**
 * diffusers `convert_z_image_transformer_checkpoint_to_diffusers`: strip the prefix, rename the embedder, final
 * layer, out and q/k norms, split the fused qkv into thirds of dim 0 (row ranges, nothing copied), drop
 * `norm_final` (a LayerNorm without parameters in diffusers). `patchKey` is "{patch}-{f_patch}", e.g. "2-1".
 */
export function comfyTransformerRefs(set: SafetensorsSet, patchKey: string): Map<string, TensorRef> {
  const refs = new Map<string, TensorRef>();
  const put = (key: string, ref: TensorRef) => {
    if (refs.has(key)) throw new Error(`${set.label}: two tensors map to transformer key "${key}"`);
    refs.set(key, ref);
  };
  for (const [name, t] of set.tensors) {
    let key = name.startsWith(COMFY_PREFIX) ? name.slice(COMFY_PREFIX.length) : name;
    if (key.startsWith("norm_final.")) continue;
    if (key.startsWith("x_embedder.")) key = `all_x_embedder.${patchKey}.${key.slice("x_embedder.".length)}`;
    if (key.startsWith("final_layer."))
      key = `all_final_layer.${patchKey}.${key.slice("final_layer.".length)}`;
    key = key
      .replace(/\.attention\.out\.weight$/, ".attention.to_out.0.weight")
      .replace(/\.attention\.q_norm\.weight$/, ".attention.norm_q.weight")
      .replace(/\.attention\.k_norm\.weight$/, ".attention.norm_k.weight");
    if (key.endsWith(".attention.qkv.weight")) {
      const rows = t.file.entry(t.name).shape[0];
      if (rows % 3 !== 0) {
        throw new Error(`${t.file.path}: tensor "${name}": ${rows} rows cannot be split into equal q, k, v`);
      }
      const base = key.slice(0, -"qkv.weight".length);
      const third = rows / 3;
      ["to_q", "to_k", "to_v"].forEach((p, i) => {
        put(`${base}${p}.weight`, { file: t.file, name: t.name, rows: [i * third, (i + 1) * third] });
      });
      continue;
    }
    put(key, { file: t.file, name: t.name });
  }
  return refs;
}

/** True when VAE tensors use the original LDM naming (`encoder.down.0.block.0.*`, `mid.attn_1.*`). */
export function isLdmVae(set: SafetensorsSet): boolean {
  for (const name of set.tensors.keys())
    if (/(^|\.)(encoder|decoder)\.(down|up|mid)\./.test(name)) return true;
  return false;
}

/**
 * diffusers `convert_ldm_vae_checkpoint` as key renames: `down.i.block.j` -> `down_blocks.i.resnets.j`,
 * `up.i` -> `up_blocks.(n−1−i)` (LDM counts decoder blocks from the lowest resolution), `mid.block_1/2` ->
 * `mid_block.resnets.0/1`, `mid.attn_1.{norm,q,k,v,proj_out}` -> `attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}`
 * (their 1x1-conv weights [C, C, 1, 1] read as [C, C], no copy), `nin_shortcut` -> `conv_shortcut`,
 * `norm_out` -> `conv_norm_out`. A `first_stage_model.` or `vae.` prefix is dropped.
 */
export function ldmVaeRefs(set: SafetensorsSet, upBlocks: number): Map<string, TensorRef> {
  const refs = new Map<string, TensorRef>();
  for (const [name, t] of set.tensors) {
    let key = name.replace(/^(first_stage_model|vae)\./, "");
    key = key
      .replace(/^encoder\.down\.(\d+)\.block\.(\d+)\./, "encoder.down_blocks.$1.resnets.$2.")
      .replace(/^encoder\.down\.(\d+)\.downsample\./, "encoder.down_blocks.$1.downsamplers.0.")
      .replace(
        /^decoder\.up\.(\d+)\.block\.(\d+)\./,
        (_, i, j) => `decoder.up_blocks.${upBlocks - 1 - Number(i)}.resnets.${j}.`,
      )
      .replace(
        /^decoder\.up\.(\d+)\.upsample\./,
        (_, i) => `decoder.up_blocks.${upBlocks - 1 - Number(i)}.upsamplers.0.`,
      )
      .replace(/\.mid\.block_([12])\./, (_, k) => `.mid_block.resnets.${Number(k) - 1}.`)
      .replace(/\.mid\.attn_1\.norm\./, ".mid_block.attentions.0.group_norm.")
      .replace(/\.mid\.attn_1\.(q|k|v)\./, ".mid_block.attentions.0.to_$1.")
      .replace(/\.mid\.attn_1\.proj_out\./, ".mid_block.attentions.0.to_out.0.")
      .replace(/\.nin_shortcut\./, ".conv_shortcut.")
      .replace(/^(encoder|decoder)\.norm_out\./, "$1.conv_norm_out.");
    if (refs.has(key)) throw new Error(`${set.label}: two tensors map to VAE key "${key}"`);
    const shape = t.file.entry(t.name).shape;
    const isAttnConv = /\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(key) && shape.length === 4;
    refs.set(key, { file: t.file, name: t.name, ...(isAttnConv ? { shape: shape.slice(0, 2) } : {}) });
  }
  return refs;
}
