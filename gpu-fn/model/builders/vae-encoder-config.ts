/**
 * The VAE encoder's block plan and key -> shape table, derived from diffusers' `Encoder` module definitions
 * (`DownEncoderBlock2D`, `Downsample2D(padding=0)`, `UNetMidBlock2D`). The config itself is the shared VAE
 * config of vae-decoder-config.ts (one `vae/config.json` for both halves).
 */
import type { VaeConfig } from "./vae-decoder-config";
import { vaeShapeTable } from "./vae-key-shapes";

/** One encoder down block: channels and whether it downsamples (all but the last do). */
export interface DownBlockPlan {
  index: number;
  inChannels: number;
  outChannels: number;
  downsample: boolean;
}

/** diffusers Encoder: block i maps block_out_channels[i-1] (conv_in's width for i = 0) to block_out_channels[i]. */
export function downBlockPlan(config: VaeConfig): DownBlockPlan[] {
  const ch = config.block_out_channels;
  return ch.map((out, i) => ({
    index: i,
    inChannels: i === 0 ? ch[0] : ch[i - 1],
    outChannels: out,
    downsample: i < ch.length - 1,
  }));
}

/** Every tensor the encoder graph reads (`encoder.*` and `quant_conv.*`; the decoder's keys are ignored). */
export function vaeEncoderKeyShapes(config: VaeConfig): Map<string, number[]> {
  const { shapes, conv, vec, resnet, midBlock } = vaeShapeTable();
  const top = config.block_out_channels.at(-1)!;
  const moments = 2 * config.latent_channels; // double_z
  conv("encoder.conv_in", config.block_out_channels[0], config.in_channels, 3);
  for (const b of downBlockPlan(config)) {
    for (let j = 0; j < config.layers_per_block; j++) {
      resnet(
        `encoder.down_blocks.${b.index}.resnets.${j}`,
        j === 0 ? b.inChannels : b.outChannels,
        b.outChannels,
      );
    }
    if (b.downsample)
      conv(`encoder.down_blocks.${b.index}.downsamplers.0.conv`, b.outChannels, b.outChannels, 3);
  }
  midBlock("encoder.mid_block", top, config.mid_block_add_attention);
  vec("encoder.conv_norm_out", top);
  conv("encoder.conv_out", moments, top, 3);
  if (config.use_quant_conv) conv("quant_conv", moments, moments, 1);
  return shapes;
}
