/**
 * Shared transformer layers emitted op by op: linear, RMSNorm, SiLU/SwiGLU, rotary embedding and attention.
 * Each layer has two forms: `fused` (opset-23 RMSNormalization / RotaryEmbedding / Attention, which have CPU and
 * CUDA kernels in ONNX Runtime 1.30) and decomposed into elementary ops (a readable reference and a fallback).
 * Value names flow through return values; `name` prefixes follow checkpoint keys.
 */

import type { WeightSource } from "../weights";
import type { GraphBuilder } from "./graph-builder";
import { float } from "./graph-builder";

export type ComputeType = "float32" | "float16";

export interface LayerOptions {
  /** Node name prefix, e.g. "layers.3.attention". */
  name: string;
  /** Use the opset-23 fused op instead of elementary ops. */
  fused: boolean;
}

/** ONNX TensorProto data types used for Cast `to` attributes. */
export const CAST_TO: Record<ComputeType, number> = { float32: 1, float16: 10 };

export function cast(g: GraphBuilder, x: string, to: ComputeType, name: string): string {
  return g.op("Cast", [x], { to: CAST_TO[to] }, { name });
}

/** Elements per chunk when streaming a transposed weight into the external-data file. */
const TRANSPOSE_CHUNK_ELEMENTS = 1 << 20;

/**
 * Reads PyTorch Linear weights `[out, in]` for one or more keys (e.g. q, k, v) and writes them as one
 * `[in, sum(out)]` initializer, so the graph multiplies `x @ W` without a Transpose and fused projections are
 * one GEMM. Only the source tensors (≤ a few hundred MB for the real model) plus one small transposed chunk are
 * in memory at a time. `scales[i]` multiplies key i's values (use powers of two, which are exact).
 */
export async function linearWeight(
  g: GraphBuilder,
  weights: WeightSource,
  keys: string[],
  name: string,
  storeAs: ComputeType,
  scales: number[] = [],
): Promise<string> {
  const parts: { data: Float32Array; out: number; scale: number }[] = [];
  let inDim = -1;
  for (const key of keys) {
    const [out, inp] = weights.info(key).shape;
    if (inDim >= 0 && inp !== inDim)
      throw new Error(`${key}: input size ${inp} differs from ${keys[0]} (${inDim})`);
    inDim = inp;
    parts.push({ data: await weights.readF32(key), out, scale: scales[parts.length] ?? 1 });
  }
  const total = parts.reduce((n, p) => n + p.out, 0);
  const rowsPerChunk = Math.max(1, Math.floor(TRANSPOSE_CHUNK_ELEMENTS / total));
  function* transposed(): Generator<Float32Array> {
    for (let i0 = 0; i0 < inDim; i0 += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, inDim - i0);
      const chunk = new Float32Array(rows * total);
      let col = 0;
      for (const { data, out, scale } of parts) {
        for (let o = 0; o < out; o++) {
          const src = o * inDim + i0;
          if (scale === 1) for (let r = 0; r < rows; r++) chunk[r * total + col + o] = data[src + r];
          else for (let r = 0; r < rows; r++) chunk[r * total + col + o] = data[src + r] * scale;
        }
        col += out;
      }
      yield chunk;
    }
  }
  return g.weight(name, [inDim, total], transposed(), storeAs);
}

/** A 1-D parameter (bias, norm gain, pad token) read and stored as `storeAs`. */
export async function vectorWeight(
  g: GraphBuilder,
  weights: WeightSource,
  key: string,
  storeAs: ComputeType,
  dims?: number[],
): Promise<string> {
  return g.weight(key, dims ?? weights.info(key).shape, await weights.readF32(key), storeAs);
}

/** y = x @ W (+ b); W is `[in, out]` from `linearWeight`. */
export function linear(g: GraphBuilder, x: string, w: string, b: string | null, name: string): string {
  const y = g.op("MatMul", [x, w], {}, { name });
  return b ? g.op("Add", [y, b], {}, { name }) : y;
}

/** RMSNorm over the last axis: x * rsqrt(mean(x²) + eps) * w, statistics in fp32 (decomposed form: fp32 only). */
export function rmsNorm(g: GraphBuilder, x: string, w: string, eps: number, o: LayerOptions): string {
  if (o.fused) {
    return g.op(
      "RMSNormalization",
      [x, w],
      { axis: -1, epsilon: float(eps), stash_type: 1 },
      { name: o.name },
    );
  }
  const ms = g.op("ReduceMean", [g.op("Mul", [x, x], {}, o), g.ints([-1])], { keepdims: 1 }, o);
  const inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [ms, g.scalar(eps)], {}, o)], {}, o)], {}, o);
  return g.op("Mul", [g.op("Mul", [x, inv], {}, o), w], {}, o);
}

/** LayerNorm over the last axis without affine parameters (ones scale, no bias). */
export function layerNormNoAffine(
  g: GraphBuilder,
  x: string,
  dim: number,
  eps: number,
  name: string,
): string {
  const ones = g.constant("float32", new Array(dim).fill(1), [dim]);
  return g.op("LayerNormalization", [x, ones], { axis: -1, epsilon: float(eps), stash_type: 1 }, { name });
}

export function silu(g: GraphBuilder, x: string, name: string): string {
  return g.op("Mul", [x, g.op("Sigmoid", [x], {}, { name })], {}, { name });
}

/** SwiGLU FFN: w2(silu(x w1) * (x w3)); `w13` is the fused `[in, 2*hidden]` gate|up weight. */
export function swiGluFfn(g: GraphBuilder, x: string, w13: string, w2: string, name: string): string {
  const [gate, up] = g.opN(
    "Split",
    [linear(g, x, w13, null, `${name}.w13`)],
    { axis: -1, num_outputs: 2 },
    {
      name,
      outputs: 2,
    },
  );
  return linear(g, g.op("Mul", [silu(g, gate, name), up], {}, { name }), w2, null, `${name}.w2`);
}

export interface RotaryOptions extends LayerOptions {
  numHeads: number;
  headDim: number;
  /** true: pairs (x[2m], x[2m+1]) (GPT-J / complex); false: rotate-half pairs (x[m], x[m+d/2]). */
  interleaved: boolean;
}

/**
 * Rotary embedding of x `(B, S, heads*headDim)` with per-token tables `cos`, `sin` of shape `(B, S, headDim/2)`
 * (the whole head is rotated). The fused form is opset-23 RotaryEmbedding without position_ids.
 */
export function rotary(g: GraphBuilder, x: string, cos: string, sin: string, o: RotaryOptions): string {
  if (o.fused) {
    return g.op(
      "RotaryEmbedding",
      [x, cos, sin],
      { interleaved: o.interleaved ? 1 : 0, num_heads: o.numHeads },
      { name: o.name },
    );
  }
  const half = o.headDim / 2;
  // (B, S, H, 2, half) for rotate-half, (B, S, H, half, 2) for interleaved.
  const shape = o.interleaved ? [0, 0, o.numHeads, half, 2] : [0, 0, o.numHeads, 2, half];
  const xr = g.op("Reshape", [x, g.ints(shape)], {}, o);
  const pairAxis = o.interleaved ? 4 : 3;
  const [a, b] = g.opN("Split", [xr], { axis: pairAxis, num_outputs: 2 }, { ...o, outputs: 2 });
  // cos/sin (B, S, half) -> (B, S, 1, half[, 1]) / (B, S, 1, 1, half)
  const tableShape = o.interleaved ? [0, 0, 1, half, 1] : [0, 0, 1, 1, half];
  const c = g.op("Reshape", [cos, g.ints(tableShape)], {}, o);
  const s = g.op("Reshape", [sin, g.ints(tableShape)], {}, o);
  const ra = g.op("Sub", [g.op("Mul", [a, c], {}, o), g.op("Mul", [b, s], {}, o)], {}, o);
  const rb = g.op("Add", [g.op("Mul", [a, s], {}, o), g.op("Mul", [b, c], {}, o)], {}, o);
  const joined = g.op("Concat", [ra, rb], { axis: pairAxis }, o);
  return g.op("Reshape", [joined, g.ints([0, 0, -1])], {}, o);
}

/** Which fused attention op to emit. */
export type FusedAttentionOp = "Attention" | "MultiHeadAttention";

export interface AttentionOptions extends LayerOptions {
  numHeads: number;
  headDim: number;
  /**
   * Fused form only: opset-23 `Attention` (default; bool mask) or com.microsoft `MultiHeadAttention` (additive
   * `attention_bias`; ORT's long-standing CUDA kernels with flash / memory-efficient paths).
   */
  op?: FusedAttentionOp;
}

export interface KeyMaskOptions extends LayerOptions {
  op?: FusedAttentionOp;
  /** Element type of the additive bias for MultiHeadAttention (the type of q/k/v). */
  biasType?: ComputeType;
}

/** fp16's lowest value: exp() of it (plus any finite score) is exactly 0, without inf - inf = NaN risks. */
const MASKED_BIAS = -65504;

/**
 * Turns a boolean key mask `(B, T)` (true = attend) into what `attention` takes, once per stream. Fused
 * Attention: a bool mask `(B, 1, S, T)` (ORT's CPU kernel wants the query axis materialised); fused
 * MultiHeadAttention: an additive bias `(B, 1, S, T)` of 0 / -65504 in `biasType`; decomposed: an additive fp32
 * bias `(B, 1, 1, T)` of 0 / -inf. `queries` is any value shaped `(B, S, *)`.
 */
export function keyMask(g: GraphBuilder, mask: string, queries: string, o: KeyMaskOptions): string {
  const m4 = g.op("Unsqueeze", [mask, g.ints([1, 2])], {}, o);
  if (!o.fused) return g.op("Where", [m4, g.scalar(0), g.scalar(Number.NEGATIVE_INFINITY)], {}, o);
  const qs = g.op("Shape", [queries], { start: 0, end: 2 }, o);
  const ts = g.op("Shape", [mask], { start: 1, end: 2 }, o);
  const b = g.op("Slice", [qs, g.ints([0]), g.ints([1])], {}, o);
  const s = g.op("Slice", [qs, g.ints([1]), g.ints([2])], {}, o);
  const shape = g.op("Concat", [b, g.ints([1]), s, ts], { axis: 0 }, o);
  if (o.op !== "MultiHeadAttention") return g.op("Expand", [m4, shape], {}, o);
  const bias = g.op("Where", [m4, g.scalar(0), g.scalar(MASKED_BIAS)], {}, o);
  const typed = o.biasType === "float16" ? cast(g, bias, "float16", o.name) : bias;
  return g.op("Expand", [typed, shape], {}, o);
}

/**
 * Non-causal multi-head attention of q, k, v `(B, S, heads*headDim)` with scale 1/sqrt(headDim) and an optional
 * mask from `keyMask` (built with the same `fused` and `op`). The decomposed form is fp32 only.
 */
export function attention(
  g: GraphBuilder,
  q: string,
  k: string,
  v: string,
  mask: string | null,
  o: AttentionOptions,
): string {
  if (o.fused && o.op === "MultiHeadAttention") {
    const inputs = mask ? [q, k, v, "", "", mask] : [q, k, v];
    return g.op(
      "MultiHeadAttention",
      inputs,
      { num_heads: o.numHeads, scale: float(1 / Math.sqrt(o.headDim)) },
      { name: o.name, domain: "com.microsoft" },
    );
  }
  if (o.fused) {
    const inputs = mask ? [q, k, v, mask] : [q, k, v];
    return g.op("Attention", inputs, { q_num_heads: o.numHeads, kv_num_heads: o.numHeads }, { name: o.name });
  }
  const split = (x: string, perm: number[]) =>
    g.op("Transpose", [g.op("Reshape", [x, g.ints([0, 0, o.numHeads, o.headDim])], {}, o)], { perm }, o);
  const scores = g.op(
    "Mul",
    [
      g.op("MatMul", [split(q, [0, 2, 1, 3]), split(k, [0, 2, 3, 1])], {}, o),
      g.scalar(1 / Math.sqrt(o.headDim)),
    ],
    {},
    o,
  );
  const probs = g.op("Softmax", [mask ? g.op("Add", [scores, mask], {}, o) : scores], { axis: -1 }, o);
  const ctx = g.op(
    "Transpose",
    [g.op("MatMul", [probs, split(v, [0, 2, 1, 3])], {}, o)],
    { perm: [0, 2, 1, 3] },
    o,
  );
  return g.op("Reshape", [ctx, g.ints([0, 0, -1])], {}, o);
}
