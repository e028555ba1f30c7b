/**
 * FLUX-style VAE encoder (diffusers `AutoencoderKL.encode` -> `DiagonalGaussianDistribution`) as one ONNX graph:
 * `image` f32 [B, 3, H, W] in [-1, 1] -> the posterior's `latent_mean`, `latent_logvar` (clamped to [-30, 20])
 * and `latent_std` = exp(0.5·logvar), each f32 [B, latent, H/8, W/8]. Batch, H and W are dynamic (H, W
 * multiples of 8). Sampling (mean + std·ε with the pipeline's generator) and the shift/scale into transformer
 * space stay in the pipeline (gpu-fn/pipeline/image-to-image.ts), where the seeded draws live.
 *
 *   image -> conv_in -> down_blocks.0..3 (resnets, pad (0,1,0,1) + stride-2 conv on all but the last)
 *     -> mid(resnet, attention, resnet) -> GroupNorm -> SiLU -> conv_out (2·latent) -> [quant_conv] -> moments
 *
 * Targets as the decoder (vae-graph.ts `vaeAttrs`): cpu fp32; cuda fp16-stored weights, fused attention, fp32
 * compute under `force_upcast` (the FLUX/Z-Image config).
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GraphBuilder } from "../onnx/graph-builder";
import { cast } from "../onnx/layers";
import type { BuildOptions, BuiltGraph } from "./types";
import type { VaeConfig } from "./vae-decoder-config";
import { downBlockPlan, vaeEncoderKeyShapes } from "./vae-encoder-config";
import { parameterCount, VaeGraph, vaeAttrs } from "./vae-graph";

export { vaeEncoderKeyShapes } from "./vae-encoder-config";

export const VAE_ENCODER_FILE = "vae_encoder.onnx";
/** DiagonalGaussianDistribution clamps logvar to this range. */
const LOGVAR_MIN = -30;
const LOGVAR_MAX = 20;

export async function buildVaeEncoder(opts: BuildOptions<VaeConfig>): Promise<BuiltGraph> {
  const { config, target, outDir } = opts;
  const attrs = vaeAttrs(config, target);
  const dataFile = `${VAE_ENCODER_FILE}.data`;
  const g = new GraphBuilder({ name: "vae_encoder", dataPath: join(outDir, dataFile) });
  const m = new VaeGraph(g, opts, attrs, parameterCount(vaeEncoderKeyShapes(config)));
  const lat = config.latent_channels;
  const top = config.block_out_channels.at(-1)!;

  const image = g.input("image", "float32", ["batch", config.in_channels, "height", "width"]);
  let x = attrs.compute === "float32" ? image : cast(g, image, attrs.compute, "image");
  x = await m.conv(x, "encoder.conv_in", 3);
  for (const b of downBlockPlan(config)) {
    const p = `encoder.down_blocks.${b.index}`;
    for (let j = 0; j < config.layers_per_block; j++) {
      x = await m.resnet(x, `${p}.resnets.${j}`, j === 0 ? b.inChannels : b.outChannels, b.outChannels);
    }
    if (b.downsample) x = await m.downsample(x, `${p}.downsamplers.0`);
  }
  x = await m.resnet(x, "encoder.mid_block.resnets.0", top, top);
  if (config.mid_block_add_attention) x = await m.attention(x, "encoder.mid_block.attentions.0", top);
  x = await m.resnet(x, "encoder.mid_block.resnets.1", top, top);
  x = m.silu(await m.groupNorm(x, "encoder.conv_norm_out"), "encoder.conv_act");
  x = await m.conv(x, "encoder.conv_out", 3);
  if (config.use_quant_conv) x = await m.conv(x, "quant_conv", 1);
  if (attrs.compute !== "float32") x = cast(g, x, "float32", "moments");

  // torch.chunk(moments, 2, dim=1): mean = channels [0, lat), logvar = [lat, 2·lat).
  const o = { name: "posterior" };
  const [mean, rawLogvar] = g.opN("Split", [x, g.ints([lat, lat])], { axis: 1 }, { ...o, outputs: 2 });
  const logvar = g.op("Clip", [rawLogvar, g.scalar(LOGVAR_MIN), g.scalar(LOGVAR_MAX)], {}, o);
  const std = g.op("Exp", [g.op("Mul", [logvar, g.scalar(0.5)], {}, o)], {}, o);
  const latentDims = ["batch", lat, "latent_height", "latent_width"];
  g.output(mean, "latent_mean", "float32", latentDims);
  g.output(logvar, "latent_logvar", "float32", latentDims);
  g.output(std, "latent_std", "float32", latentDims);

  const file = VAE_ENCODER_FILE;
  writeFileSync(join(outDir, file), g.finish(`Z-Image VAE encoder (${target})`));
  return {
    file,
    data: dataFile,
    parameters: g.parameters,
    bytes: statSync(join(outDir, file)).size + statSync(join(outDir, dataFile)).size,
  };
}
