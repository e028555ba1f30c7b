/**
 * Qwen3 text encoder (spec §6, `Qwen3Model`) as one ONNX graph returning hidden_states[-2]: the raw residual
 * stream after decoder layer N-2. The last layer and the final norm are skipped because Z-Image never uses them.
 *
 * Inputs `input_ids` / `attention_mask` int64 [B, L] (right padding), output `hidden_states` fp32 [B, L, hidden].
 * Targets:
 *  - cpu:  fp32 weights; RMSNorm, RoPE and attention written out op by op (the reference's arithmetic).
 *  - cuda: fp16 weights and matmuls, fused SimplifiedLayerNormalization / SkipSimplifiedLayerNormalization,
 *          com.microsoft RotaryEmbedding and MultiHeadAttention (all have CPU kernels, so CI runs this graph too).
 *          The residual stream and the norms stay fp32 [INFERENCE: LLM residual streams carry outliers that can
 *          exceed the fp16 range; fp32 there costs little].
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { float, GraphBuilder } from "../onnx/graph-builder";
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
  let pending: string | null = null; // cuda: an MLP output not yet added to x (fused into the next norm)
  for (let i = 0; i < layers; i++) {
    const p = `layers.${i}`;
    let h: string;
    [h, x] = ctx.norm(x, pending, `${p}.input_layernorm`, await ctx.gain(`${p}.input_layernorm.weight`));
    const attn = await attention(ctx, h, p, rope, bias);
    [h, x] = ctx.norm(
      x,
      attn,
      `${p}.post_attention_layernorm`,
      await ctx.gain(`${p}.post_attention_layernorm.weight`),
    );
    pending = await mlp(ctx, h, p);
    if (target === "cpu") {
      x = g.op("Add", [x, pending], {}, { name: `${p}.residual` });
      pending = null;
    }
  }
  if (pending)
    x = g.op("Add", [x, ctx.toF32(pending, "residual")], {}, { name: `layers.${layers - 1}.residual` });

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

/** Every key present with the expected shape, before any byte is written. */
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

  /** A linear weight [out, in] stored transposed as [in, out] so `MatMul(x, W)` computes x·Wᵀ. */
  async linear(key: string): Promise<string> {
    const [rows, cols] = this.weights.info(key).shape;
    const w = await this.weights.readF32(key);
    const t = new Float32Array(w.length);
    for (let r = 0; r < rows; r++) {
      const src = r * cols;
      for (let c = 0; c < cols; c++) t[c * rows + r] = w[src + c];
    }
    const name = await this.g.weight(key, [cols, rows], t, this.wtype);
    this.progress([rows, cols]);
    return name;
  }

  /** A norm gain; fp32 where the norm runs on the fp32 residual stream. */
  async gain(key: string, storeAs: "float32" | "float16" = "float32"): Promise<string> {
    const shape = this.weights.info(key).shape;
    const name = await this.g.weight(key, shape, await this.weights.readF32(key), storeAs);
    this.progress(shape);
    return name;
  }

  /**
   * RMSNorm of the residual stream (after adding `delta` when given). Returns [normed (matmul dtype), new x].
   * cpu: explicit fp32 ops; cuda: (Skip)SimplifiedLayerNormalization in fp32, then a cast to fp16.
   */
  norm(x: string, delta: string | null, name: string, w: string): [string, string] {
    const g = this.g;
    const eps = this.config.rms_norm_eps;
    if (this.target === "cpu") {
      const sum = delta ? g.op("Add", [x, delta], {}, { name: `${name}.residual` }) : x;
      return [rmsNormOps(g, sum, w, eps, name), sum];
    }
    let y: string;
    let sum = x;
    if (delta) {
      const outs = g.opN(
        "SkipSimplifiedLayerNormalization",
        [x, this.toF32(delta, name), w],
        { epsilon: float(eps) },
        { name, domain: "com.microsoft", outputs: 4 },
      );
      y = outs[0];
      sum = outs[3];
    } else {
      y = g.op(
        "SimplifiedLayerNormalization",
        [x, w],
        { axis: -1, epsilon: float(eps), stash_type: 1 },
        { name },
      );
    }
    return [g.op("Cast", [y], { to: 10 }, { name }), sum];
  }

  toF32(v: string, name: string): string {
    return this.target === "cuda" ? this.g.op("Cast", [v], { to: 1 }, { name }) : v;
  }
}

/** y = w · x / sqrt(mean(x²) + eps) over the last axis, in fp32 (HF Qwen3RMSNorm). */
function rmsNormOps(g: GraphBuilder, x: string, w: string, eps: number, name: string): string {
  const sq = g.op("Mul", [x, x], {}, { name });
  const ms = g.op("ReduceMean", [sq, g.ints([-1])], { keepdims: 1 }, { name });
  const inv = g.op(
    "Reciprocal",
    [g.op("Sqrt", [g.op("Add", [ms, g.scalar(eps)], {}, { name })], {}, { name })],
    {},
    { name },
  );
  return g.op("Mul", [w, g.op("Mul", [x, inv], {}, { name })], {}, { name });
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
  /** cpu: cos/sin [L, head_dim] (halves duplicated); cuda: caches [L, head_dim/2] fp16 for RotaryEmbedding. */
  cos: string;
  sin: string;
}

/**
 * Rotate-half RoPE tables as HF computes them: inv_freq = 1 / theta^(2j/d) in fp32, angle = fp32(pos · inv_freq),
 * then fp32 cos/sin.
 */
function ropeTables(g: GraphBuilder, pos: string, config: TextEncoderConfig, target: Target): Rope {
  const n = "rotary_emb";
  const half = config.head_dim / 2;
  const invFreq = Array.from({ length: half }, (_, j) =>
    Math.fround(1 / Math.fround(config.rope_theta ** Math.fround((2 * j) / config.head_dim))),
  );
  const posF = g.op("Unsqueeze", [g.op("Cast", [pos], { to: 1 }, { name: n }), g.ints([1])], {}, { name: n });
  const angles = g.op("Mul", [posF, g.constant("float32", invFreq, [1, half])], {}, { name: n }); // [L, half]
  if (target === "cuda") {
    return {
      cos: g.op("Cast", [g.op("Cos", [angles], {}, { name: n })], { to: 10 }, { name: n }),
      sin: g.op("Cast", [g.op("Sin", [angles], {}, { name: n })], { to: 10 }, { name: n }),
    };
  }
  const emb = g.op("Concat", [angles, angles], { axis: -1 }, { name: n });
  return { cos: g.op("Cos", [emb], {}, { name: n }), sin: g.op("Sin", [emb], {}, { name: n }) };
}

/** Self-attention of one layer on the normed input `h` [B, L, hidden]; returns o_proj's output. */
async function attention(ctx: Ctx, h: string, p: string, rope: Rope, bias: string): Promise<string> {
  const { g, config } = ctx;
  const nh = config.num_attention_heads;
  const nkv = config.num_key_value_heads;
  const hd = config.head_dim;
  const a = `${p}.self_attn`;
  const proj = async (which: string) =>
    g.op("MatMul", [h, await ctx.linear(`${a}.${which}_proj.weight`)], {}, { name: `${a}.${which}_proj` });
  const q = await proj("q");
  const k = await proj("k");
  const v = await proj("v");
  const wo = await ctx.linear(`${a}.o_proj.weight`);
  let ctxOut: string;
  if (ctx.target === "cpu") {
    const qh = await headsCpu(ctx, q, nh, `${a}.q_norm`, rope); // [B, nh, L, hd]
    const kh = repeatKv(g, await headsCpu(ctx, k, nkv, `${a}.k_norm`, rope), nkv, nh / nkv, hd, a);
    const vh = repeatKv(
      g,
      g.op(
        "Transpose",
        [g.op("Reshape", [v, g.ints([0, 0, nkv, hd])], {}, { name: `${a}.v_proj` })],
        { perm: [0, 2, 1, 3] },
        { name: `${a}.v_proj` },
      ),
      nkv,
      nh / nkv,
      hd,
      a,
    );
    const kt = g.op("Transpose", [kh], { perm: [0, 1, 3, 2] }, { name: a });
    const scores = g.op(
      "Mul",
      [g.op("MatMul", [qh, kt], {}, { name: a }), g.scalar(1 / Math.sqrt(hd))],
      {},
      { name: a },
    );
    const probs = g.op("Softmax", [g.op("Add", [scores, bias], {}, { name: a })], { axis: -1 }, { name: a });
    const o = g.op(
      "Transpose",
      [g.op("MatMul", [probs, vh], {}, { name: a })],
      { perm: [0, 2, 1, 3] },
      { name: a },
    );
    ctxOut = g.op("Reshape", [o, g.ints([0, 0, nh * hd])], {}, { name: a });
  } else {
    const qr = await headsCuda(ctx, q, nh, `${a}.q_norm`, rope); // [B, L, nh*hd]
    const kr = await headsCuda(ctx, k, nkv, `${a}.k_norm`, rope);
    // MultiHeadAttention has no GQA: repeat each KV head for its group of query heads (HF repeat_kv order).
    const kx = expandKvPacked(g, kr, nkv, nh / nkv, hd, a);
    const vx = expandKvPacked(g, v, nkv, nh / nkv, hd, a);
    ctxOut = g.op(
      "MultiHeadAttention",
      [qr, kx, vx, "", "", bias],
      { num_heads: nh, scale: float(1 / Math.sqrt(hd)) },
      { name: a, domain: "com.microsoft" },
    );
  }
  return g.op("MatMul", [ctxOut, wo], {}, { name: `${a}.o_proj` });
}

/** cpu: [B, L, n*hd] -> per-head RMSNorm -> [B, n, L, hd] -> rotate-half RoPE. */
async function headsCpu(ctx: Ctx, x: string, n: number, normKey: string, rope: Rope): Promise<string> {
  const { g, config } = ctx;
  const hd = config.head_dim;
  const w = await ctx.gain(`${normKey}.weight`);
  const heads = g.op("Reshape", [x, g.ints([0, 0, n, hd])], {}, { name: normKey });
  const normed = rmsNormOps(g, heads, w, config.rms_norm_eps, normKey);
  const t = g.op("Transpose", [normed], { perm: [0, 2, 1, 3] }, { name: normKey });
  const r = `${normKey}.rope`;
  const [x1, x2] = g.opN("Split", [t, g.ints([hd / 2, hd / 2])], { axis: -1 }, { name: r, outputs: 2 });
  const rotated = g.op("Concat", [g.op("Neg", [x2], {}, { name: r }), x1], { axis: -1 }, { name: r });
  return g.op(
    "Add",
    [g.op("Mul", [t, rope.cos], {}, { name: r }), g.op("Mul", [rotated, rope.sin], {}, { name: r })],
    {},
    { name: r },
  );
}

/** cuda: [B, L, n*hd] fp16 -> per-head SimplifiedLayerNormalization -> RotaryEmbedding, still [B, L, n*hd]. */
async function headsCuda(ctx: Ctx, x: string, n: number, normKey: string, rope: Rope): Promise<string> {
  const { g, config } = ctx;
  const hd = config.head_dim;
  const w = await ctx.gain(`${normKey}.weight`, "float16");
  const heads = g.op("Reshape", [x, g.ints([0, 0, n, hd])], {}, { name: normKey });
  const normed = g.op(
    "SimplifiedLayerNormalization",
    [heads, w],
    { axis: -1, epsilon: float(config.rms_norm_eps), stash_type: 1 },
    { name: normKey },
  );
  const packed = g.op("Reshape", [normed, g.ints([0, 0, n * hd])], {}, { name: normKey });
  return g.op(
    "RotaryEmbedding",
    [packed, g.constant("int64", [0], [1]), rope.cos, rope.sin],
    { interleaved: 0, num_heads: n },
    { name: `${normKey}.rope`, domain: "com.microsoft" },
  );
}

/** [B, nkv, L, hd] -> [B, nkv*group, L, hd], kv head j serving query heads j*group .. j*group+group-1. */
function repeatKv(g: GraphBuilder, x: string, nkv: number, group: number, hd: number, name: string): string {
  if (group === 1) return x;
  const heads = nkv * group;
  const u = g.op("Unsqueeze", [x, g.ints([2])], {}, { name });
  const e = g.op("Expand", [u, g.ints([1, 1, group, 1, 1])], {}, { name });
  return g.op("Reshape", [e, g.ints([0, heads, -1, hd])], {}, { name });
}

/** Packed [B, L, nkv*hd] -> [B, L, nkv*group*hd] in the same head order as repeatKv. */
function expandKvPacked(
  g: GraphBuilder,
  x: string,
  nkv: number,
  group: number,
  hd: number,
  name: string,
): string {
  if (group === 1) return x;
  const r = g.op("Reshape", [x, g.ints([0, 0, nkv, 1, hd])], {}, { name });
  const e = g.op("Expand", [r, g.ints([1, 1, 1, group, 1])], {}, { name });
  return g.op("Reshape", [e, g.ints([0, 0, nkv * group * hd])], {}, { name });
}

/** down_proj(silu(gate_proj(h)) * up_proj(h)); returns the fp32 (cpu) or fp16 (cuda) MLP output. */
async function mlp(ctx: Ctx, h: string, p: string): Promise<string> {
  const { g } = ctx;
  const m = `${p}.mlp`;
  const gate = g.op("MatMul", [h, await ctx.linear(`${m}.gate_proj.weight`)], {}, { name: `${m}.gate_proj` });
  const up = g.op("MatMul", [h, await ctx.linear(`${m}.up_proj.weight`)], {}, { name: `${m}.up_proj` });
  const silu = g.op("Mul", [gate, g.op("Sigmoid", [gate], {}, { name: m })], {}, { name: m });
  const act = g.op("Mul", [silu, up], {}, { name: m });
  return g.op("MatMul", [act, await ctx.linear(`${m}.down_proj.weight`)], {}, { name: `${m}.down_proj` });
}
