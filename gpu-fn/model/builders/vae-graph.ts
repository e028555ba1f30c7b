/**
 * Building blocks shared by the VAE decoder and encoder graphs (diffusers `Encoder`/`Decoder`: ResnetBlock2D,
 * mid-block attention, GroupNorm, Up/Downsample2D), over one GraphBuilder and a checkpoint weight source.
 * GroupNorm is InstanceNormalization over [B, groups, -1] plus a per-channel affine: it has CPU and CUDA
 * kernels (GroupNormalization-21 has no CUDA kernel, contrib GroupNorm no CPU kernel). Statistics stay fp32.
 */
import { float, type GraphBuilder } from "../onnx/graph-builder";
import { type ComputeType, cast } from "../onnx/layers";
import type { BuildOptions, Target } from "./types";
import type { VaeConfig } from "./vae-decoder-config";

/** diffusers Encoder and Decoder: every GroupNorm (resnets, attention, conv_norm_out) uses eps 1e-6. */
const GROUP_NORM_EPS = 1e-6;

/** Per-graph settings, fixed at init. */
export interface VaeAttrs {
  readonly groups: number; // GroupNorm groups (32 real, 8 tiny)
  readonly storeAs: ComputeType; // initializer dtype: fp32 (cpu) or fp16 (cuda)
  readonly compute: ComputeType; // activation dtype
  readonly fusedAttention: boolean; // com.microsoft MultiHeadAttention instead of MatMul/Softmax
}

/**
 * cpu: fp32 weights, decomposed attention. cuda: fp16 weights, com.microsoft MultiHeadAttention, and fp16
 * compute only when `force_upcast` is false (the FLUX/Z-Image config sets it, so compute stays fp32).
 */
export function vaeAttrs(config: VaeConfig, target: Target): VaeAttrs {
  return {
    groups: config.norm_num_groups,
    storeAs: target === "cuda" ? "float16" : "float32",
    compute: target === "cuda" && !config.force_upcast ? "float16" : "float32",
    fusedAttention: target === "cuda",
  };
}

/** Total parameter count of a key -> shape table (for progress). */
export function parameterCount(shapes: Map<string, number[]>): number {
  return [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
}

export class VaeGraph {
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

  /** Conv2d with "same" padding by default; `pads` is ONNX's [top, left, bottom, right]. */
  async conv(x: string, key: string, kernel: number, stride = 1, pads?: number[]): Promise<string> {
    const w = await this.param(`${key}.weight`);
    const b = await this.param(`${key}.bias`);
    const p = (kernel - 1) / 2;
    const attrs: Record<string, number[]> = { kernel_shape: [kernel, kernel], pads: pads ?? [p, p, p, p] };
    if (stride !== 1) attrs.strides = [stride, stride];
    return this.g.op("Conv", [x, w, b], attrs, { name: key });
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

  /**
   * diffusers Downsample2D(use_conv, padding=0): F.pad(x, (0, 1, 0, 1)) then a stride-2 3x3 conv; the
   * asymmetric pad is the Conv's own pads (bottom and right only), so no Pad node is needed.
   */
  async downsample(x: string, key: string): Promise<string> {
    return this.conv(x, `${key}.conv`, 3, 2, [0, 0, 1, 1]);
  }

  scalar(value: number): string {
    const s = this.g.scalar(value);
    return this.attrs.compute === "float32" ? s : cast(this.g, s, this.attrs.compute, "constants");
  }
}
