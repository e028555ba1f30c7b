/**
 * Z-Image S3-DiT config (diffusers `transformer/config.json`, spec §1.2), the constants that are hard-coded in
 * the reference rather than configured, the derived sizes, and the key -> shape table checked before building.
 */
import { z } from "zod";

export const transformerConfigSchema = z.looseObject({
  all_patch_size: z.array(z.number().int().positive()).min(1),
  all_f_patch_size: z.array(z.number().int().positive()).min(1),
  in_channels: z.number().int().positive(),
  dim: z.number().int().positive(),
  n_layers: z.number().int().positive(),
  n_refiner_layers: z.number().int().nonnegative(),
  n_heads: z.number().int().positive(),
  n_kv_heads: z.number().int().positive(),
  norm_eps: z.number().positive(),
  qk_norm: z.boolean(),
  cap_feat_dim: z.number().int().positive(),
  rope_theta: z.number().positive(),
  t_scale: z.number().positive(),
  axes_dims: z.array(z.number().int().positive()).length(3),
  axes_lens: z.array(z.number().int().positive()).length(3),
});

export type TransformerConfig = z.infer<typeof transformerConfigSchema>;

/** Hard-coded in the reference (OFF src/config/model.py, DIF transformer_z_image.py), not in config.json. */
export const ADALN_EMBED_DIM_MAX = 256;
export const SEQ_MULTI_OF = 32;
export const FREQUENCY_EMBEDDING_SIZE = 256;
export const MAX_PERIOD = 10000;
export const T_EMBEDDER_MID_SIZE = 1024;
/** LayerNorm eps of the final layer (norm_eps applies to every RMSNorm). */
export const FINAL_NORM_EPS = 1e-6;

/** Sizes derived from the config, as the reference computes them. */
export interface TransformerDims {
  dim: number;
  heads: number;
  headDim: number;
  /** Timestep-embedding width: min(dim, 256). */
  adalnDim: number;
  /** SwiGLU hidden size: int(dim / 3 * 8). */
  ffnDim: number;
  patch: number;
  fPatch: number;
  /** Patch feature size: fPatch * patch² * in_channels. */
  patchDim: number;
  /** Key suffix of the patch embedder / final layer, e.g. "2-1". */
  patchKey: string;
}

/** Parses config.json and checks what the graph relies on (the T2I basic mode of the reference). */
export function parseTransformerConfig(json: unknown): TransformerConfig {
  const c = transformerConfigSchema.parse(json);
  const fail = (msg: string): never => {
    throw new Error(`transformer config: ${msg}`);
  };
  if (c.dim % c.n_heads !== 0) fail(`dim ${c.dim} is not a multiple of n_heads ${c.n_heads}`);
  const headDim = c.dim / c.n_heads;
  const axesSum = c.axes_dims.reduce((a, b) => a + b, 0);
  if (axesSum !== headDim) fail(`sum(axes_dims) ${axesSum} != head_dim ${headDim}`);
  if (c.axes_dims.some((d) => d % 2 !== 0)) fail(`axes_dims ${c.axes_dims} must be even`);
  // diffusers reshapes k/v with n_heads and ignores n_kv_heads; only equal values are well defined.
  if (c.n_kv_heads !== c.n_heads) fail(`n_kv_heads ${c.n_kv_heads} != n_heads ${c.n_heads} is not supported`);
  if (!c.qk_norm) fail("qk_norm=false is not supported");
  if (c.all_f_patch_size[0] !== 1) fail(`f_patch_size ${c.all_f_patch_size[0]} != 1 is not supported`);
  return c;
}

export function transformerDims(c: TransformerConfig): TransformerDims {
  const patch = c.all_patch_size[0];
  const fPatch = c.all_f_patch_size[0];
  return {
    dim: c.dim,
    heads: c.n_heads,
    headDim: c.dim / c.n_heads,
    adalnDim: Math.min(c.dim, ADALN_EMBED_DIM_MAX),
    ffnDim: Math.trunc((c.dim / 3) * 8),
    patch,
    fPatch,
    patchDim: fPatch * patch * patch * c.in_channels,
    patchKey: `${patch}-${fPatch}`,
  };
}

/** The `transformer` section of model.json: what transformer-io needs to prepare feeds. */
export interface TransformerIoConfig {
  dim: number;
  n_heads: number;
  cap_feat_dim: number;
  patch_size: number;
  f_patch_size: number;
  axes_dims: number[];
  axes_lens: number[];
  rope_theta: number;
  t_scale: number;
  in_channels: number;
}

export function transformerIoConfig(c: TransformerConfig): TransformerIoConfig {
  return {
    dim: c.dim,
    n_heads: c.n_heads,
    cap_feat_dim: c.cap_feat_dim,
    patch_size: c.all_patch_size[0],
    f_patch_size: c.all_f_patch_size[0],
    axes_dims: [...c.axes_dims],
    axes_lens: [...c.axes_lens],
    rope_theta: c.rope_theta,
    t_scale: c.t_scale,
    in_channels: c.in_channels,
  };
}

/** Block prefixes in graph order, and whether each block is adaLN-modulated. */
export function transformerBlocks(c: TransformerConfig): { prefix: string; modulated: boolean }[] {
  const blocks: { prefix: string; modulated: boolean }[] = [];
  for (let i = 0; i < c.n_refiner_layers; i++) blocks.push({ prefix: `noise_refiner.${i}`, modulated: true });
  for (let i = 0; i < c.n_refiner_layers; i++)
    blocks.push({ prefix: `context_refiner.${i}`, modulated: false });
  for (let i = 0; i < c.n_layers; i++) blocks.push({ prefix: `layers.${i}`, modulated: true });
  return blocks;
}

/** Every canonical (diffusers) key and its shape ([out, in] for linears); spec §2, transformer_keys.tsv. */
export function transformerKeyShapes(c: TransformerConfig): Map<string, number[]> {
  const d = transformerDims(c);
  const D = d.dim;
  const s = new Map<string, number[]>();
  s.set(`all_x_embedder.${d.patchKey}.weight`, [D, d.patchDim]);
  s.set(`all_x_embedder.${d.patchKey}.bias`, [D]);
  s.set(`all_final_layer.${d.patchKey}.linear.weight`, [d.patchDim, D]);
  s.set(`all_final_layer.${d.patchKey}.linear.bias`, [d.patchDim]);
  s.set(`all_final_layer.${d.patchKey}.adaLN_modulation.1.weight`, [D, d.adalnDim]);
  s.set(`all_final_layer.${d.patchKey}.adaLN_modulation.1.bias`, [D]);
  s.set("t_embedder.mlp.0.weight", [T_EMBEDDER_MID_SIZE, FREQUENCY_EMBEDDING_SIZE]);
  s.set("t_embedder.mlp.0.bias", [T_EMBEDDER_MID_SIZE]);
  s.set("t_embedder.mlp.2.weight", [d.adalnDim, T_EMBEDDER_MID_SIZE]);
  s.set("t_embedder.mlp.2.bias", [d.adalnDim]);
  s.set("cap_embedder.0.weight", [c.cap_feat_dim]);
  s.set("cap_embedder.1.weight", [D, c.cap_feat_dim]);
  s.set("cap_embedder.1.bias", [D]);
  s.set("x_pad_token", [1, D]);
  s.set("cap_pad_token", [1, D]);
  for (const { prefix: p, modulated } of transformerBlocks(c)) {
    for (const n of ["to_q", "to_k", "to_v", "to_out.0"]) s.set(`${p}.attention.${n}.weight`, [D, D]);
    s.set(`${p}.attention.norm_q.weight`, [d.headDim]);
    s.set(`${p}.attention.norm_k.weight`, [d.headDim]);
    s.set(`${p}.feed_forward.w1.weight`, [d.ffnDim, D]);
    s.set(`${p}.feed_forward.w2.weight`, [D, d.ffnDim]);
    s.set(`${p}.feed_forward.w3.weight`, [d.ffnDim, D]);
    for (const n of ["attention_norm1", "ffn_norm1", "attention_norm2", "ffn_norm2"])
      s.set(`${p}.${n}.weight`, [D]);
    if (modulated) {
      s.set(`${p}.adaLN_modulation.0.weight`, [4 * D, d.adalnDim]);
      s.set(`${p}.adaLN_modulation.0.bias`, [4 * D]);
    }
  }
  return s;
}
