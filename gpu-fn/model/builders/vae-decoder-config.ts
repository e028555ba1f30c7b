/**
 * VAE config (diffusers `AutoencoderKL`, `vae/config.json`, spec §1.4) and the decoder's key -> shape table,
 * derived from diffusers' `Decoder` module definitions (spec §5, vae_decoder_keys.tsv).
 */
import { z } from "zod";
import { vaeShapeTable } from "./vae-key-shapes";

export const vaeConfigSchema = z.looseObject({
  act_fn: z.literal("silu").default("silu"),
  in_channels: z.number().int().positive().default(3),
  block_out_channels: z.array(z.number().int().positive()).min(1),
  layers_per_block: z.number().int().positive(),
  latent_channels: z.number().int().positive(),
  out_channels: z.number().int().positive().default(3),
  norm_num_groups: z.number().int().positive().default(32),
  mid_block_add_attention: z.boolean().default(true),
  up_block_types: z.array(z.literal("UpDecoderBlock2D")).optional(),
  down_block_types: z.array(z.literal("DownEncoderBlock2D")).optional(),
  scaling_factor: z.number().positive(),
  shift_factor: z.number().nullable().default(null),
  force_upcast: z.boolean().default(true),
  use_post_quant_conv: z.boolean().default(true),
  use_quant_conv: z.boolean().default(true),
});

export type VaeConfig = z.infer<typeof vaeConfigSchema>;

/** Parses config.json and checks what the decoder graph relies on. */
export function parseVaeConfig(json: unknown): VaeConfig {
  const config = vaeConfigSchema.parse(json);
  const g = config.norm_num_groups;
  for (const c of config.block_out_channels) {
    if (c % g !== 0)
      throw new Error(`vae config: block_out_channels ${c} is not a multiple of norm_num_groups ${g}`);
  }
  if (config.up_block_types && config.up_block_types.length !== config.block_out_channels.length) {
    throw new Error("vae config: up_block_types and block_out_channels differ in length");
  }
  if (config.down_block_types && config.down_block_types.length !== config.block_out_channels.length) {
    throw new Error("vae config: down_block_types and block_out_channels differ in length");
  }
  return config;
}

/** 2^(number of upsampling blocks): 8 for the FLUX VAE. */
export function vaeScaleFactor(config: VaeConfig): number {
  return 2 ** (config.block_out_channels.length - 1);
}

/** One decoder up block: channels and whether it upsamples (all but the last do). */
export interface UpBlockPlan {
  index: number;
  inChannels: number;
  outChannels: number;
  upsample: boolean;
}

/** diffusers Decoder: channels run through reversed(block_out_channels). */
export function upBlockPlan(config: VaeConfig): UpBlockPlan[] {
  const rev = [...config.block_out_channels].reverse();
  return rev.map((out, i) => ({
    index: i,
    inChannels: i === 0 ? rev[0] : rev[i - 1],
    outChannels: out,
    upsample: i < rev.length - 1,
  }));
}

/** Every tensor the decoder graph reads (the encoder's keys are ignored). */
export function vaeDecoderKeyShapes(config: VaeConfig): Map<string, number[]> {
  const { shapes, conv, vec, resnet, midBlock } = vaeShapeTable();
  const top = config.block_out_channels.at(-1)!;
  const lat = config.latent_channels;
  if (config.use_post_quant_conv) conv("post_quant_conv", lat, lat, 1);
  conv("decoder.conv_in", top, lat, 3);
  midBlock("decoder.mid_block", top, config.mid_block_add_attention);
  for (const b of upBlockPlan(config)) {
    for (let j = 0; j <= config.layers_per_block; j++) {
      resnet(
        `decoder.up_blocks.${b.index}.resnets.${j}`,
        j === 0 ? b.inChannels : b.outChannels,
        b.outChannels,
      );
    }
    if (b.upsample) conv(`decoder.up_blocks.${b.index}.upsamplers.0.conv`, b.outChannels, b.outChannels, 3);
  }
  vec("decoder.conv_norm_out", config.block_out_channels[0]);
  conv("decoder.conv_out", config.out_channels, config.block_out_channels[0], 3);
  return shapes;
}
