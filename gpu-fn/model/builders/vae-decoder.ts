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
 * GroupNorm is InstanceNormalization over [B, groups, -1] plus a per-channel affine: it has CPU and CUDA
 * kernels (GroupNormalization-21 has no CUDA kernel, contrib GroupNorm no CPU kernel). Statistics stay fp32.
 * [UNVERIFIED on a GPU: which CUDA kernel MultiHeadAttention picks for fp32 with one 512-wide head, and its
 * memory at 1024² (16384 tokens); checked only on the CPU execution provider.]
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { float, GraphBuilder } from "../onnx/graph-builder";
import { type ComputeType, cast } from "../onnx/layers";
import type { BuildOptions, BuiltGraph } from "./types";
import { upBlockPlan, type VaeConfig, vaeDecoderKeyShapes } from "./vae-decoder-config";

export { parseVaeConfig, type VaeConfig, vaeDecoderKeyShapes, vaeScaleFactor } from "./vae-decoder-config";

export const VAE_DECODER_FILE = "vae_decoder.onnx";
/** diffusers Decoder: every GroupNorm (resnets, attention, conv_norm_out) uses eps 1e-6. */
const GROUP_NORM_EPS = 1e-6;

/** Per-graph settings, fixed at init. */
interface VaeAttrs {
  readonly groups: number; // GroupNorm groups (32 real, 8 tiny)
  readonly storeAs: ComputeType; // initializer dtype: fp32 (cpu) or fp16 (cuda)
  readonly compute: ComputeType; // activation dtype
  readonly fusedAttention: boolean; // com.microsoft MultiHeadAttention instead of MatMul/Softmax
}

class VaeGraph {
  private done = 0;

  constructor(
    readonly g: GraphBuilder,
    private readonly opts: BuildOptions<VaeConfig>,
    readonly attrs: VaeAttrs,
    private readonly totalParams: number,
  ) {}

  /** A checkpoint tensor as a graph value in the compute dtype (Cast when storage differs). */
  async param(key: string): Promise<string> {
    const { weights } = this.opts;
    const shape = weights.info(key).shape;
    const w = await this.g.weight(key, shape, weights.chunksF32(key), this.attrs.storeAs);
    this.done += shape.reduce((a, b) => a * b, 1);
    this.opts.onProgress?.(this.done, this.totalParams);
    return this.attrs.storeAs === this.attrs.compute ? w : cast(this.g, w, this.attrs.compute, key);
  }

  /** A [C] vector as [C, 1, 1] for NCHW broadcasting. */
  async channelParam(key: string): Promise<string> {
    return this.g.op("Unsqueeze", [await this.param(key), this.g.ints([1, 2])], {}, { name: key });
  }

  async conv(x: string, key: string, kernel: number): Promise<string> {
    const w = await this.param(`${key}.weight`);
    const b = await this.param(`${key}.bias`);
    const p = (kernel - 1) / 2;
    return this.g.op(
      "Conv",
      [x, w, b],
      { kernel_shape: [kernel, kernel], pads: [p, p, p, p] },
      { name: key },
    );
  }

  /**
   *   x [B,C,H,W] -> Reshape [B,G,-1] -> InstanceNormalization(scale 1, bias 0) -> Reshape [B,C,H,W]
   *     -> * weight[C,1,1] + bias[C,1,1]
   * In an fp16 graph the normalisation runs in fp32 (Cast around it).
   */
  async groupNorm(x: string, key: string): Promise<string> {
    const { g } = this;
    const o = { name: key };
    const G = this.attrs.groups;
    const x32 = this.attrs.compute === "float32" ? x : cast(g, x, "float32", key);
    const grouped = g.op("Reshape", [x32, g.ints([0, G, -1])], {}, o);
    const ones = g.constant("float32", new Array(G).fill(1), [G]);
    const zeros = g.constant("float32", new Array(G).fill(0), [G]);
    const normed = g.op(
      "InstanceNormalization",
      [grouped, ones, zeros],
      { epsilon: float(GROUP_NORM_EPS) },
      o,
    );
    let y = g.op("Reshape", [normed, g.op("Shape", [x], {}, o)], {}, o);
    if (this.attrs.compute !== "float32") y = cast(g, y, this.attrs.compute, key);
    const w = await this.channelParam(`${key}.weight`);
    const b = await this.channelParam(`${key}.bias`);
    return g.op("Add", [g.op("Mul", [y, w], {}, o), b], {}, o);
  }

  silu(x: string, name: string): string {
    return this.g.op("Mul", [x, this.g.op("Sigmoid", [x], {}, { name })], {}, { name });
  }

  /**
   * diffusers ResnetBlock2D (temb None, output_scale_factor 1):
   *   x -> norm1 -> SiLU -> conv1 -> norm2 -> SiLU -> conv2 -> (+ shortcut(x))
   *   shortcut = conv_shortcut 1x1 when channels change, else identity
   */
  async resnet(x: string, key: string, inCh: number, outCh: number): Promise<string> {
    let h = this.silu(await this.groupNorm(x, `${key}.norm1`), `${key}.nonlinearity1`);
    h = await this.conv(h, `${key}.conv1`, 3);
    h = this.silu(await this.groupNorm(h, `${key}.norm2`), `${key}.nonlinearity2`);
    h = await this.conv(h, `${key}.conv2`, 3);
    const skip = inCh === outCh ? x : await this.conv(x, `${key}.conv_shortcut`, 1);
    return this.g.op("Add", [skip, h], {}, { name: key });
  }

  /**
   * Mid-block single-head self-attention over the H*W positions (scale 1/sqrt(C)), residual added:
   *   x -> group_norm -> [B,C,HW] -> [B,HW,C] -> to_q/to_k/to_v -> softmax(q k^T / sqrt(C)) v -> to_out.0
   *     -> [B,C,HW] -> [B,C,H,W] -> + x
   */
  async attention(x: string, key: string, channels: number): Promise<string> {
    const { g } = this;
    const o = { name: key };
    const h = await this.groupNorm(x, `${key}.group_norm`);
    const tokens = g.op(
      "Transpose",
      [g.op("Reshape", [h, g.ints([0, 0, -1])], {}, o)],
      { perm: [0, 2, 1] },
      o,
    );
    const proj = async (p: string, input: string) => {
      const w = g.op(
        "Transpose",
        [await this.param(`${key}.${p}.weight`)],
        { perm: [1, 0] },
        { name: `${key}.${p}` },
      );
      const y = g.op("MatMul", [input, w], {}, { name: `${key}.${p}` });
      return g.op("Add", [y, await this.param(`${key}.${p}.bias`)], {}, { name: `${key}.${p}` });
    };
    const q = await proj("to_q", tokens);
    const k = await proj("to_k", tokens);
    const v = await proj("to_v", tokens);
    let ctx: string;
    if (this.attrs.fusedAttention) {
      ctx = g.op("MultiHeadAttention", [q, k, v], { num_heads: 1 }, { name: key, domain: "com.microsoft" });
    } else {
      const kt = g.op("Transpose", [k], { perm: [0, 2, 1] }, o);
      const scores = g.op(
        "Mul",
        [g.op("MatMul", [q, kt], {}, o), this.scalar(1 / Math.sqrt(channels))],
        {},
        o,
      );
      ctx = g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }, o), v], {}, o);
    }
    const out = await proj("to_out.0", ctx);
    const back = g.op(
      "Reshape",
      [g.op("Transpose", [out], { perm: [0, 2, 1] }, o), g.op("Shape", [x], {}, o)],
      {},
      o,
    );
    return g.op("Add", [back, x], {}, o);
  }

  /** diffusers Upsample2D: nearest x2 (PyTorch's floor index mapping), then conv 3x3. */
  async upsample(x: string, key: string): Promise<string> {
    const { g } = this;
    const scales = g.constant("float32", [1, 1, 2, 2]);
    const up = g.op(
      "Resize",
      [x, "", scales],
      { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" },
      { name: key },
    );
    return this.conv(up, `${key}.conv`, 3);
  }

  scalar(value: number): string {
    const s = this.g.scalar(value);
    return this.attrs.compute === "float32" ? s : cast(this.g, s, this.attrs.compute, "constants");
  }
}

export async function buildVaeDecoder(opts: BuildOptions<VaeConfig>): Promise<BuiltGraph> {
  const { config, target, outDir } = opts;
  const shapes = vaeDecoderKeyShapes(config);
  const totalParams = [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  const attrs: VaeAttrs = {
    groups: config.norm_num_groups,
    storeAs: target === "cuda" ? "float16" : "float32",
    compute: target === "cuda" && !config.force_upcast ? "float16" : "float32",
    fusedAttention: target === "cuda",
  };
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
