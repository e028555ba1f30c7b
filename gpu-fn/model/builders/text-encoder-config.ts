/**
 * Qwen3 text-encoder config (HF `text_encoder/config.json`, spec §1.5) and the key -> shape table the
 * converter checks before writing anything. Only the tensors the graph reads are listed: the embedding and
 * layers 0..N-2 (Z-Image takes hidden_states[-2], so the last layer and the final norm are never used).
 */
import { z } from "zod";

export const textEncoderConfigSchema = z.looseObject({
  hidden_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive(),
  head_dim: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  rms_norm_eps: z.number().positive(),
  rope_theta: z.number().positive(),
  vocab_size: z.number().int().positive(),
  attention_bias: z.boolean().optional(),
  rope_scaling: z.null().optional(),
});

export type TextEncoderConfig = z.infer<typeof textEncoderConfigSchema>;

/** Parses config.json and checks the relations the graph relies on (GQA grouping, no biases, plain RoPE). */
export function parseTextEncoderConfig(json: unknown): TextEncoderConfig {
  const config = textEncoderConfigSchema.parse(json);
  if (config.num_attention_heads % config.num_key_value_heads !== 0) {
    throw new Error(
      `text_encoder config: num_attention_heads ${config.num_attention_heads} is not a multiple of ` +
        `num_key_value_heads ${config.num_key_value_heads}`,
    );
  }
  if (config.head_dim % 2 !== 0) throw new Error(`text_encoder config: head_dim ${config.head_dim} is odd`);
  if (config.attention_bias) throw new Error("text_encoder config: attention_bias=true is not supported");
  return config;
}

/** Decoder layers the graph runs: 0..N-2 (hidden_states[-2] is the raw output of layer N-2). */
export function usedLayerCount(config: TextEncoderConfig): number {
  return config.num_hidden_layers - 1;
}

/** Canonical keys (no `model.` prefix) and shapes ([out, in] for linears) of every tensor the graph reads. */
export function textEncoderKeyShapes(config: TextEncoderConfig): Map<string, number[]> {
  const h = config.hidden_size;
  const hd = config.head_dim;
  const q = config.num_attention_heads * hd;
  const kv = config.num_key_value_heads * hd;
  const ff = config.intermediate_size;
  const shapes = new Map<string, number[]>([["embed_tokens.weight", [config.vocab_size, h]]]);
  for (let i = 0; i < usedLayerCount(config); i++) {
    const p = `layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [h]);
    shapes.set(`${p}.self_attn.q_proj.weight`, [q, h]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [kv, h]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [kv, h]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [h, q]);
    shapes.set(`${p}.self_attn.q_norm.weight`, [hd]);
    shapes.set(`${p}.self_attn.k_norm.weight`, [hd]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [h]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [ff, h]);
    shapes.set(`${p}.mlp.up_proj.weight`, [ff, h]);
    shapes.set(`${p}.mlp.down_proj.weight`, [h, ff]);
  }
  return shapes;
}
