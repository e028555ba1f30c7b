/**
 * FLUX-style VAE decoder (diffusers `AutoencoderKL.decode`, spec §5) as one ONNX graph:
 * `z` f32 [B, latent, h, w] (already `latents / scaling + shift`) -> `image` f32 [B, 3, 8h, 8w], not clamped.
 * Batch, h and w are dynamic.
 *
 *   z -> [post_quant_conv] -> conv_in -> mid(resnet, attention, resnet)
 *     -> up_blocks.0..3 (resnets, nearest x2 + conv) -> GroupNorm -> SiLU -> conv_out -> image
 *
 * Targets: cpu stores fp32 weights, decomposed attention. cuda stores fp16 weights and uses com.microsoft
 * MultiHeadAttention; it computes in fp16 only when `force_upcast` is false — the FLUX/Z-Image config sets it
 * (diffusers: this VAE must run in fp32), so weights are cast up inside the graph (folded once at load).
 * Blocks (resnet, attention, GroupNorm, upsample): vae-graph.ts, shared with the encoder.
 * [UNVERIFIED on a GPU: which CUDA kernel MultiHeadAttention picks for fp32 with one 512-wide head, and its
 * memory at 1024² (16384 tokens); checked only on the CPU execution provider.]
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GraphBuilder } from "../onnx/graph-builder";
import { cast } from "../onnx/layers";
import type { BuildOptions, BuiltGraph } from "./types";
import { upBlockPlan, type VaeConfig, vaeDecoderKeyShapes } from "./vae-decoder-config";
import { parameterCount, VaeGraph, vaeAttrs } from "./vae-graph";

export { parseVaeConfig, type VaeConfig, vaeDecoderKeyShapes, vaeScaleFactor } from "./vae-decoder-config";

export const VAE_DECODER_FILE = "vae_decoder.onnx";

export async function buildVaeDecoder(opts: BuildOptions<VaeConfig>): Promise<BuiltGraph> {
  const { config, target, outDir } = opts;
  const totalParams = parameterCount(vaeDecoderKeyShapes(config));
  const attrs = vaeAttrs(config, target);
  const dataFile = `${VAE_DECODER_FILE}.data`;
  const g = new GraphBuilder({ name: "vae_decoder", dataPath: join(outDir, dataFile) });
  const m = new VaeGraph(g, opts, attrs, totalParams);

  const z = g.input("z", "float32", ["batch", config.latent_channels, "latent_height", "latent_width"]);
  let x = attrs.compute === "float32" ? z : cast(g, z, attrs.compute, "z");
  if (config.use_post_quant_conv) x = await m.conv(x, "post_quant_conv", 1);

  const top = config.block_out_channels.at(-1)!;
  x = await m.conv(x, "decoder.conv_in", 3);
  x = await m.resnet(x, "decoder.mid_block.resnets.0", top, top);
  if (config.mid_block_add_attention) x = await m.attention(x, "decoder.mid_block.attentions.0", top);
  x = await m.resnet(x, "decoder.mid_block.resnets.1", top, top);

  for (const b of upBlockPlan(config)) {
    const p = `decoder.up_blocks.${b.index}`;
    for (let j = 0; j <= config.layers_per_block; j++) {
      x = await m.resnet(x, `${p}.resnets.${j}`, j === 0 ? b.inChannels : b.outChannels, b.outChannels);
    }
    if (b.upsample) x = await m.upsample(x, `${p}.upsamplers.0`);
  }

  x = m.silu(await m.groupNorm(x, "decoder.conv_norm_out"), "decoder.conv_act");
  x = await m.conv(x, "decoder.conv_out", 3);
  if (attrs.compute !== "float32") x = cast(g, x, "float32", "image");
  g.output(x, "image", "float32", ["batch", config.out_channels, "height", "width"]);

  const file = VAE_DECODER_FILE;
  writeFileSync(join(outDir, file), g.finish(`Z-Image VAE decoder (${target})`));
  return {
    file,
    data: dataFile,
    parameters: g.parameters,
    bytes: statSync(join(outDir, file)).size + statSync(join(outDir, dataFile)).size,
  };
}
