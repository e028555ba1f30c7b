/**
 * Qwen3 text encoder (spec §6, `Qwen3Model`) as one ONNX graph returning hidden_states[-2]: the raw residual
 * stream after decoder layer N-2. The last layer and the final norm are skipped because Z-Image never uses them.
 *
 * Inputs `input_ids` / `attention_mask` int64 [B, L] (right padding), output `hidden_states` fp32 [B, L, hidden].
 * Targets:
 *  - cpu:  fp32 weights; RMSNorm, RoPE and attention decomposed into elementary ops (layers.ts, fused: false).
 *  - cuda: fp16 weights and matmuls; opset-23 RMSNormalization, com.microsoft RotaryEmbedding and
 *          MultiHeadAttention (all have CPU kernels, so CI runs this graph too). The residual stream and the
 *          layer norms stay fp32 [INFERENCE: LLM residual streams carry outliers that can exceed the fp16 range;
 *          fp32 there costs little].
 * q|k|v and gate|up are each one GEMM (layers.linearWeight).
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { float, GraphBuilder } from "../onnx/graph-builder";
import { attention as attend, linearWeight, rmsNorm, rotary, swiGluFfn } from "../onnx/layers";
import type { WeightSource } from "../weights";
import { type TextEncoderConfig, textEncoderKeyShapes, usedLayerCount } from "./text-encoder-config";
import type { BuildOptions, BuiltGraph, Target } from "./types";

export { parseTextEncoderConfig, type TextEncoderConfig, textEncoderKeyShapes } from "./text-encoder-config";

export const TEXT_ENCODER_FILE = "text_encoder.onnx";

/** Additive mask value for disallowed keys. Finite, so a row with no allowed key (an all-pad item) stays finite. */
const MASK_NEG_F32 = -1e30;
/** fp16 lowest; the attention kernels add the bias to fp32 scores [INFERENCE], and exp() of it is 0 either way. */
const MASK_NEG_F16 = -65504;

export async function buildTextEncoder(opts: BuildOptions<TextEncoderConfig>): Promise<BuiltGraph> {
  const { config, target, weights, outDir } = opts;
  const shapes = textEncoderKeyShapes(config);
  checkShapes(weights, shapes);
  const totalParams = [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

  const g = new GraphBuilder({ name: "text_encoder", dataPath: join(outDir, `${TEXT_ENCODER_FILE}.data`) });
  const ctx = new Ctx(g, weights, config, target, (done) => opts.onProgress?.(done, totalParams));

  const ids = g.input("input_ids", "int64", ["batch", "length"]);
  const mask = g.input("attention_mask", "int64", ["batch", "length"]);

  const embedKey = "embed_tokens.weight";
  const table = await g.weight(embedKey, shapes.get(embedKey)!, weights.chunksF32(embedKey), ctx.wtype);
  ctx.progress(shapes.get(embedKey)!);
  let x = g.op("Gather", [table, ids], { axis: 0 }, { name: "embed_tokens" });
  if (target === "cuda") x = g.op("Cast", [x], { to: 1 }, { name: "embed_tokens" });

  const pos = positions(g, ids);
  const bias = attentionBias(g, pos, mask, target);
  const rope = ropeTables(g, pos, config, target);

  const layers = usedLayerCount(config);
  for (let i = 0; i < layers; i++) {
    const p = `layers.${i}`;
    const h1 = ctx.norm(x, `${p}.input_layernorm`, await ctx.gain(`${p}.input_layernorm.weight`));
    const attn = await selfAttention(ctx, h1, p, rope, bias);
    x = g.op("Add", [x, ctx.toF32(attn, p)], {}, { name: `${p}.residual` });
    const h2 = ctx.norm(
      x,
      `${p}.post_attention_layernorm`,
      await ctx.gain(`${p}.post_attention_layernorm.weight`),
    );
    const m = `${p}.mlp`;
    const w13 = await ctx.linear(
      [`${m}.gate_proj.weight`, `${m}.up_proj.weight`],
      `${m}.gate_up_proj.weight`,
    );
    const w2 = await ctx.linear([`${m}.down_proj.weight`], `${m}.down_proj.weight`);
    x = g.op("Add", [x, ctx.toF32(swiGluFfn(g, h2, w13, w2, m), m)], {}, { name: `${p}.residual` });
  }

  g.output(x, "hidden_states", "float32", ["batch", "length", config.hidden_size]);
  const onnxBytes = g.finish(
    `Qwen3 text encoder, hidden_states[-2] (layers 0..${layers - 1} of ${config.num_hidden_layers}), target ${target}`,
  );
  const file = join(outDir, TEXT_ENCODER_FILE);
  writeFileSync(file, onnxBytes);
  return {
    file: TEXT_ENCODER_FILE,
    data: `${TEXT_ENCODER_FILE}.data`,
    parameters: g.parameters,
    bytes: onnxBytes.length + statSync(`${file}.data`).size,
  };
}

/** Every key present with the expected shape, before any byte is written (convert checks all components first; this guards direct use). */
function checkShapes(weights: WeightSource, shapes: Map<string, number[]>): void {
  for (const [key, shape] of shapes) {
    const got = weights.info(key).shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new Error(`text_encoder: ${key} has shape [${got}], config expects [${shape}]`);
    }
  }
}

/** Shared state of one build: the graph, weight access, dtypes and progress. */
class Ctx {
  readonly wtype: "float32" | "float16";
  private done = 0;

  constructor(
    readonly g: GraphBuilder,
    readonly weights: WeightSource,
    readonly config: TextEncoderConfig,
    readonly target: Target,
    private readonly report: (done: number) => void,
  ) {
    this.wtype = target === "cuda" ? "float16" : "float32";
  }

  progress(shape: number[]): void {
    this.done += shape.reduce((a, b) => a * b, 1);
    this.report(this.done);
  }

  /** Linear weights [out, in] of `keys`, stored as one [in, sum(out)] initializer `name`. */
  async linear(keys: string[], name: string): Promise<string> {
    const w = await linearWeight(this.g, this.weights, keys, name, this.wtype);
    for (const key of keys) this.progress(this.weights.info(key).shape);
    return w;
  }

  /** A norm gain; fp32 where the norm runs on the fp32 residual stream. */
  async gain(key: string, storeAs: "float32" | "float16" = "float32"): Promise<string> {
    const shape = this.weights.info(key).shape;
    const name = await this.g.weight(key, shape, await this.weights.readF32(key), storeAs);
    this.progress(shape);
    return name;
  }

  /** RMSNorm of the fp32 residual stream; on cuda fused and cast to fp16 for the matmuls that follow. */
  norm(x: string, name: string, w: string): string {
    const fused = this.target === "cuda";
    const y = rmsNorm(this.g, x, w, this.config.rms_norm_eps, { name, fused });
    return fused ? this.g.op("Cast", [y], { to: 10 }, { name }) : y;
  }

  toF32(v: string, name: string): string {
    return this.target === "cuda" ? this.g.op("Cast", [v], { to: 1 }, { name }) : v;
  }
}

/** Position ids 0..L-1 (int64, [L]); the same for every batch item since padding is on the right. */
function positions(g: GraphBuilder, ids: string): string {
  const len = g.op(
    "Squeeze",
    [g.op("Shape", [ids], { start: 1, end: 2 }, { name: "positions" })],
    {},
    { name: "positions" },
  );
  return g.op(
    "Range",
    [g.constant("int64", [0], []), len, g.constant("int64", [1], [])],
    {},
    { name: "positions" },
  );
}

/**
 * Additive attention bias [B, 1, L, L]: key j is allowed for query i when j <= i and attention_mask[b, j] = 1
 * (transformers' create_causal_mask: causal AND key padding). Pad queries thus see the valid keys before them.
 */
function attentionBias(g: GraphBuilder, pos: string, mask: string, target: Target): string {
  const n = "attention_mask";
  const row = g.op("Unsqueeze", [pos, g.ints([1])], {}, { name: n }); // i: [L, 1]
  const col = g.op("Unsqueeze", [pos, g.ints([0])], {}, { name: n }); // j: [1, L]
  const causal = g.op("LessOrEqual", [col, row], {}, { name: n });
  const valid = g.op(
    "Unsqueeze",
    [g.op("Cast", [mask], { to: 9 }, { name: n }), g.ints([1, 2])],
    {},
    { name: n },
  );
  const allowed = g.op("And", [causal, valid], {}, { name: n });
  const neg = target === "cuda" ? MASK_NEG_F16 : MASK_NEG_F32;
  const bias = g.op("Where", [allowed, g.scalar(0), g.scalar(neg)], {}, { name: n });
  return target === "cuda" ? g.op("Cast", [bias], { to: 10 }, { name: n }) : bias;
}

interface Rope {
  /** cpu: [1, L, head_dim/2] fp32 for layers.rotary; cuda: [L, head_dim/2] fp16 caches for RotaryEmbedding. */
  cos: string;
  sin: string;
}

/**
 * Rotate-half RoPE tables as HF computes them: inv_freq = 1 / theta^(2j/d) in fp32, angle = fp32(pos · inv_freq),
 * then fp32 cos/sin (cast to fp16 only for the cuda kernels).
 */
function ropeTables(g: GraphBuilder, pos: string, config: TextEncoderConfig, target: Target): Rope {
  const n = "rotary_emb";
  const half = config.head_dim / 2;
  const invFreq = Array.from({ length: half }, (_, j) =>
    Math.fround(1 / Math.fround(config.rope_theta ** Math.fround((2 * j) / config.head_dim))),
  );
  const posF = g.op("Unsqueeze", [g.op("Cast", [pos], { to: 1 }, { name: n }), g.ints([1])], {}, { name: n });
  const angles = g.op("Mul", [posF, g.constant("float32", invFreq, [1, half])], {}, { name: n }); // [L, half]
  const table = (op: "Cos" | "Sin") => {
    const t = g.op(op, [angles], {}, { name: n });
    return target === "cuda"
      ? g.op("Cast", [t], { to: 10 }, { name: n })
      : g.op("Unsqueeze", [t, g.ints([0])], {}, { name: n });
  };
  return { cos: table("Cos"), sin: table("Sin") };
}

/** Self-attention of one layer on the normed input `h` [B, L, hidden]; returns o_proj's output. */
async function selfAttention(ctx: Ctx, h: string, p: string, rope: Rope, bias: string): Promise<string> {
  const { g, config } = ctx;
  const nh = config.num_attention_heads;
  const nkv = config.num_key_value_heads;
  const hd = config.head_dim;
  const a = `${p}.self_attn`;
  const wqkv = await ctx.linear(
    ["q", "k", "v"].map((w) => `${a}.${w}_proj.weight`),
    `${a}.qkv_proj.weight`,
  );
  const [q, k, v] = g.opN(
    "Split",
    [g.op("MatMul", [h, wqkv], {}, { name: `${a}.qkv_proj` }), g.ints([nh * hd, nkv * hd, nkv * hd])],
    { axis: -1 },
    { name: `${a}.qkv_proj`, outputs: 3 },
  );
  const qr = await normRope(ctx, q, nh, `${a}.q_norm`, rope);
  // Neither kernel does GQA here: repeat each KV head for its group of query heads (HF repeat_kv order).
  const kr = repeatKv(g, await normRope(ctx, k, nkv, `${a}.k_norm`, rope), nkv, nh / nkv, hd, a);
  const vr = repeatKv(g, v, nkv, nh / nkv, hd, a);
  const out =
    ctx.target === "cpu"
      ? attend(g, qr, kr, vr, bias, { name: a, fused: false, numHeads: nh, headDim: hd })
      : g.op(
          "MultiHeadAttention",
          [qr, kr, vr, "", "", bias],
          { num_heads: nh, scale: float(1 / Math.sqrt(hd)) },
          { name: a, domain: "com.microsoft" },
        );
  const wo = await ctx.linear([`${a}.o_proj.weight`], `${a}.o_proj.weight`);
  return g.op("MatMul", [out, wo], {}, { name: `${a}.o_proj` });
}

/**
 * Per-head RMSNorm (q_norm / k_norm over head_dim) then rotate-half RoPE, on packed [B, L, n*hd].
 * cuda: fp16, fused opset-23 RMSNormalization and com.microsoft RotaryEmbedding (offset-0 positions, so the
 * [L, hd/2] caches serve every batch item).
 */
async function normRope(ctx: Ctx, x: string, n: number, normKey: string, rope: Rope): Promise<string> {
  const { g, config } = ctx;
  const hd = config.head_dim;
  const fused = ctx.target === "cuda";
  const w = await ctx.gain(`${normKey}.weight`, ctx.wtype);
  const heads = g.op("Reshape", [x, g.ints([0, 0, n, hd])], {}, { name: normKey });
  const normed = rmsNorm(g, heads, w, config.rms_norm_eps, { name: normKey, fused });
  const packed = g.op("Reshape", [normed, g.ints([0, 0, n * hd])], {}, { name: normKey });
  const r = `${normKey}.rope`;
  if (!fused)
    return rotary(g, packed, rope.cos, rope.sin, {
      name: r,
      fused,
      numHeads: n,
      headDim: hd,
      interleaved: false,
    });
  return g.op(
    "RotaryEmbedding",
    [packed, g.constant("int64", [0], [1]), rope.cos, rope.sin],
    { interleaved: 0, num_heads: n },
    { name: r, domain: "com.microsoft" },
  );
}

/** Packed [B, L, nkv*hd] -> [B, L, nkv*group*hd]: kv head j serves query heads j*group .. j*group+group-1. */
function repeatKv(g: GraphBuilder, x: string, nkv: number, group: number, hd: number, name: string): string {
  if (group === 1) return x;
  const r = g.op("Reshape", [x, g.ints([0, 0, nkv, 1, hd])], {}, { name });
  const e = g.op("Expand", [r, g.ints([1, 1, 1, group, 1])], {}, { name });
  return g.op("Reshape", [e, g.ints([0, 0, nkv * group * hd])], {}, { name });
}
