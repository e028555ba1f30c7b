/**
 * Component configs of the synthetic checkpoints, with the real config.json field names (spec §1) and small
 * sizes. `tiny` builds in seconds and makes a 256x256 image quickly on CPU while exercising every code path
 * (GQA in the text encoder, several DiT heads, refiners, the real Qwen3 vocab so the production tokenizer
 * runs); `medium` is for benchmarks (DiT dim 512, 8 layers, head_dim 128 as in the real model).
 */

export type PresetName = "tiny" | "medium";

export interface Preset {
  name: PresetName;
  transformer: Record<string, unknown>;
  textEncoder: Record<string, unknown>;
  vae: Record<string, unknown>;
}

/** The real Qwen3 vocabulary size: ids from the real tokenizer must index the embedding. */
export const QWEN3_VOCAB = 151936;

const MODEL_INDEX = {
  _class_name: "ZImagePipeline",
  _diffusers_version: "0.36.0.dev0",
  scheduler: ["diffusers", "FlowMatchEulerDiscreteScheduler"],
  text_encoder: ["transformers", "Qwen3Model"],
  tokenizer: ["transformers", "Qwen2Tokenizer"],
  transformer: ["diffusers", "ZImageTransformer2DModel"],
  vae: ["diffusers", "AutoencoderKL"],
};

const SCHEDULER = {
  _class_name: "FlowMatchEulerDiscreteScheduler",
  _diffusers_version: "0.36.0.dev0",
  num_train_timesteps: 1000,
  use_dynamic_shifting: false,
  shift: 3.0,
};

export function modelIndexJson(): Record<string, unknown> {
  return { ...MODEL_INDEX };
}

export function schedulerJson(): Record<string, unknown> {
  return { ...SCHEDULER };
}

function transformer(o: {
  dim: number;
  n_heads: number;
  n_layers: number;
  n_refiner_layers: number;
  axes_dims: number[];
  cap_feat_dim: number;
}): Record<string, unknown> {
  return {
    _class_name: "ZImageTransformer2DModel",
    _diffusers_version: "0.36.0.dev0",
    all_f_patch_size: [1],
    all_patch_size: [2],
    axes_dims: o.axes_dims,
    axes_lens: [1536, 512, 512],
    cap_feat_dim: o.cap_feat_dim,
    dim: o.dim,
    in_channels: 16,
    n_heads: o.n_heads,
    n_kv_heads: o.n_heads,
    n_layers: o.n_layers,
    n_refiner_layers: o.n_refiner_layers,
    norm_eps: 1e-5,
    qk_norm: true,
    rope_theta: 256.0,
    t_scale: 1000.0,
  };
}

function textEncoder(o: {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  intermediate_size: number;
}): Record<string, unknown> {
  return {
    architectures: ["Qwen3ForCausalLM"],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: 151643,
    eos_token_id: 151645,
    head_dim: o.head_dim,
    hidden_act: "silu",
    hidden_size: o.hidden_size,
    initializer_range: 0.02,
    intermediate_size: o.intermediate_size,
    max_position_embeddings: 40960,
    max_window_layers: o.num_hidden_layers,
    model_type: "qwen3",
    num_attention_heads: o.num_attention_heads,
    num_hidden_layers: o.num_hidden_layers,
    num_key_value_heads: o.num_key_value_heads,
    rms_norm_eps: 1e-6,
    rope_scaling: null,
    rope_theta: 1000000,
    sliding_window: null,
    tie_word_embeddings: true,
    torch_dtype: "bfloat16",
    transformers_version: "4.51.0",
    use_cache: true,
    use_sliding_window: false,
    vocab_size: QWEN3_VOCAB,
  };
}

function vae(blockOut: number[], groups: number): Record<string, unknown> {
  return {
    _class_name: "AutoencoderKL",
    _diffusers_version: "0.36.0.dev0",
    act_fn: "silu",
    block_out_channels: blockOut,
    down_block_types: blockOut.map(() => "DownEncoderBlock2D"),
    force_upcast: true,
    in_channels: 3,
    latent_channels: 16,
    latents_mean: null,
    latents_std: null,
    layers_per_block: 1,
    mid_block_add_attention: true,
    norm_num_groups: groups,
    out_channels: 3,
    sample_size: 1024,
    scaling_factor: 0.3611,
    shift_factor: 0.1159,
    up_block_types: blockOut.map(() => "UpDecoderBlock2D"),
    use_post_quant_conv: false,
    use_quant_conv: false,
  };
}

export const PRESETS: Record<PresetName, Preset> = {
  tiny: {
    name: "tiny",
    // head_dim 32 = sum(axes_dims); 3 heads; text hidden = cap_feat_dim; 3 Qwen3 layers so 2 run (GQA 4:2).
    transformer: transformer({
      dim: 96,
      n_heads: 3,
      n_layers: 2,
      n_refiner_layers: 1,
      axes_dims: [8, 12, 12],
      cap_feat_dim: 64,
    }),
    textEncoder: textEncoder({
      hidden_size: 64,
      num_hidden_layers: 3,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 16,
      intermediate_size: 128,
    }),
    vae: vae([16, 32, 32, 32], 8),
  },
  medium: {
    name: "medium",
    // head_dim 128 = 32+48+48 as in the real model.
    transformer: transformer({
      dim: 512,
      n_heads: 4,
      n_layers: 8,
      n_refiner_layers: 2,
      axes_dims: [32, 48, 48],
      cap_feat_dim: 256,
    }),
    textEncoder: textEncoder({
      hidden_size: 256,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 64,
      intermediate_size: 768,
    }),
    vae: vae([32, 64, 64, 64], 16),
  },
};

export function isPresetName(s: string): s is PresetName {
  return s === "tiny" || s === "medium";
}
