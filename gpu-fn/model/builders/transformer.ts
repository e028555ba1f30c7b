/**
 * Z-Image S3-DiT as one ONNX graph (spec §3): timestep embedding, patch and caption embedders with pad-token
 * substitution, noise refiner (modulated), context refiner (unmodulated), the unified [image, caption] stream,
 * the final layer. Patchify/unpatchify, pad-to-32, position ids, RoPE tables and batch masks are prepared in
 * TypeScript by `transformer-io.ts` (the graph's inputs are listed in TRANSFORMER_INPUTS).
 *
 *   x_tokens ─ x_embedder ─ Where(x_pad, x_pad_token) ─ noise_refiner.* ──────┐
 *   cap_feats ─ RMSNorm ─ cap_embedder.1 ─ Where(cap_pad, cap_pad_token) ─ context_refiner.* ─┤ Concat(seq)
 *   t ─ sinusoid[cos,sin] ─ t_embedder ─ adaln ──(modulates blocks, final layer)        layers.* ─ Slice[:S_x]
 *                                                                              ─ final layer ─ x_out (B,S_x,64)
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GraphBuilder } from "../onnx/graph-builder";
import {
  attention,
  type ComputeType,
  cast,
  type FusedAttentionOp,
  keyMask,
  layerNormNoAffine,
  linear,
  linearWeight,
  rmsNorm,
  rotary,
  silu,
  swiGluFfn,
  vectorWeight,
} from "../onnx/layers";
import type { WeightSource } from "../weights";
import {
  FINAL_NORM_EPS,
  FREQUENCY_EMBEDDING_SIZE,
  MAX_PERIOD,
  type TransformerConfig,
  type TransformerDims,
  transformerBlocks,
  transformerDims,
  transformerKeyShapes,
} from "./transformer-config";
import type { BuildOptions, BuiltGraph } from "./types";

/** Graph inputs (all fp32 or bool) and output; shapes use B, S_x (image tokens incl. pads), S_c (caption). */
export const TRANSFORMER_INPUTS = {
  /** (B, S_x, patchDim) patchified latents, image pad rows included. */
  xTokens: "x_tokens",
  /** (B, S_x) true on image pad rows (replaced by x_pad_token). */
  xPad: "x_pad",
  /** (B, S_c, cap_feat_dim) caption features, padded. */
  capFeats: "cap_feats",
  /** (B, S_c) true on caption pad rows (replaced by cap_pad_token). */
  capPad: "cap_pad",
  /** (B,) model time t = 1 - sigma. */
  t: "t",
  /** (B, S_x + S_c, headDim/2) RoPE cos/sin per token of the unified [image, caption] sequence. */
  ropeCos: "rope_cos",
  ropeSin: "rope_sin",
  /** (B, S_x + S_c) true = a real key (pads included); false only on batch-padding rows. */
  attnMask: "attn_mask",
} as const;
export const TRANSFORMER_OUTPUT = "x_out";
export const TRANSFORMER_FILE = "transformer.onnx";

export interface TransformerBuildOptions extends BuildOptions<TransformerConfig> {
  /** Fused opset-23 ops (default) or elementary ops (cpu target only; a reference form for tests). */
  fusedOps?: boolean;
  /** cuda target: overrides FP16_BRANCH_SCALE (1 disables the rescaling; for tests). */
  fp16BranchScale?: number;
  /** Fused attention op; default opset-23 Attention for cpu, MultiHeadAttention for cuda. */
  attentionOp?: FusedAttentionOp;
}

const INT64_MAX = Number.MAX_SAFE_INTEGER; // Slice clamps ends to the axis size.

/**
 * cuda target: the attention value path (to_v) and the SwiGLU up projection (w3) are stored pre-multiplied by
 * this power of two, and their branch outputs are multiplied back by its inverse in fp32, right after the cast
 * and before the post-norm. Exact for normal fp16 values; it keeps the fp16 branch activations (silu(w1 h)·w3 h,
 * w2 and to_out outputs), reported to overflow 65504 in fp16 runs of the real model [SECONDARY: ComfyUI and
 * SD.Next clamp them], 32x away from the limit. [UNVERIFIED: the factor is not measured on the real weights.]
 * The residual stream stays fp32, so it cannot overflow.
 */
export const FP16_BRANCH_SCALE = 2 ** -5;

export async function buildTransformer(opts: TransformerBuildOptions): Promise<BuiltGraph> {
  const fused = opts.fusedOps ?? true;
  if (opts.target === "cuda" && !fused) throw new Error("transformer: the cuda target needs fused ops");
  const shapes = transformerKeyShapes(opts.config);
  checkShapes(opts.weights, shapes);
  const file = TRANSFORMER_FILE;
  const data = `${file}.data`;
  const g = new GraphBuilder({ name: "transformer", dataPath: join(opts.outDir, data) });
  const total = [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  const emitter = new DitEmitter(g, opts, fused, total);
  await emitter.emit();
  writeFileSync(join(opts.outDir, file), g.finish(`Z-Image S3-DiT transformer, target ${opts.target}`));
  const bytes = statSync(join(opts.outDir, file)).size + statSync(join(opts.outDir, data)).size;
  return { file, data, parameters: g.parameters, bytes };
}

/** Fails before anything is written when a key is missing or has the wrong shape. */
function checkShapes(weights: WeightSource, shapes: Map<string, number[]>): void {
  const problems: string[] = [];
  for (const [key, shape] of shapes) {
    if (!weights.has(key)) {
      problems.push(`missing ${key}`);
      continue;
    }
    const got = weights.info(key).shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      problems.push(`${key}: shape [${got}] expected [${shape}]`);
    }
  }
  if (problems.length > 0) {
    const more = problems.length > 10 ? ` (and ${problems.length - 10} more)` : "";
    throw new Error(
      `transformer checkpoint does not match its config: ${problems.slice(0, 10).join("; ")}${more}`,
    );
  }
}

/**
 * The timestep frequencies exp(fl32(fl32(-ln 1e4) * k) / half) in fp32. Math.exp is (nearly) correctly rounded;
 * torch's fp32 exp is 1 ulp off for 15 of 128 k (golden README §5a), which moves outputs by <= 5e-6.
 */
export function timestepFreqs(half = FREQUENCY_EMBEDDING_SIZE / 2): number[] {
  const c = Math.fround(-Math.log(MAX_PERIOD));
  return Array.from({ length: half }, (_, k) =>
    Math.fround(Math.exp(Math.fround(Math.fround(c * k) / half))),
  );
}

interface Modulation {
  scaleMsa: string;
  gateMsa: string;
  scaleMlp: string;
  gateMlp: string;
}

interface Stream {
  cos: string;
  sin: string;
  mask: string | null;
}

class DitEmitter {
  private readonly cfg: TransformerConfig;
  private readonly d: TransformerDims;
  /** Matmul/attention precision; the residual stream, norms and gates stay fp32. */
  private readonly ct: ComputeType;
  private readonly branchScale: number;
  private readonly attnOp: FusedAttentionOp;
  private done = 0;

  constructor(
    private readonly g: GraphBuilder,
    private readonly opts: TransformerBuildOptions,
    private readonly fused: boolean,
    private readonly total: number,
  ) {
    this.cfg = opts.config;
    this.d = transformerDims(opts.config);
    this.ct = opts.target === "cuda" ? "float16" : "float32";
    this.branchScale = this.ct === "float16" ? (opts.fp16BranchScale ?? FP16_BRANCH_SCALE) : 1;
    // [INFERENCE from ORT sources] opset-23 Attention's CUDA kernel is new (bool masks and flash paths arrived
    // late), while com.microsoft MultiHeadAttention has mature fp16 CUDA kernels; both have CPU kernels.
    this.attnOp = opts.attentionOp ?? (opts.target === "cuda" ? "MultiHeadAttention" : "Attention");
  }

  async emit(): Promise<void> {
    const { g, d, cfg } = this;
    const I = TRANSFORMER_INPUTS;
    const xTokens = g.input(I.xTokens, "float32", ["B", "S_x", d.patchDim]);
    const xPad = g.input(I.xPad, "bool", ["B", "S_x"]);
    const capFeats = g.input(I.capFeats, "float32", ["B", "S_c", cfg.cap_feat_dim]);
    const capPad = g.input(I.capPad, "bool", ["B", "S_c"]);
    const t = g.input(I.t, "float32", ["B"]);
    const ropeCos = g.input(I.ropeCos, "float32", ["B", "S_u", d.headDim / 2]);
    const ropeSin = g.input(I.ropeSin, "float32", ["B", "S_u", d.headDim / 2]);
    const attnMask = g.input(I.attnMask, "bool", ["B", "S_u"]);

    const adaln = await this.timestepEmbedding(t);

    // §3.5: embed, then substitute pad rows with the learned pad tokens.
    const xk = `all_x_embedder.${d.patchKey}`;
    let x = await this.project(xTokens, xk, true);
    x = g.op(
      "Where",
      [this.unsq(xPad, -1), await this.vector("x_pad_token", "float32"), x],
      {},
      { name: xk },
    );
    const capNorm = rmsNorm(
      g,
      capFeats,
      await this.vector("cap_embedder.0.weight", "float32"),
      cfg.norm_eps,
      {
        name: "cap_embedder.0",
        fused: this.fused,
      },
    );
    let c = await this.project(capNorm, "cap_embedder.1", true);
    c = g.op(
      "Where",
      [this.unsq(capPad, -1), await this.vector("cap_pad_token", "float32"), c],
      {},
      { name: "cap_embedder" },
    );

    // RoPE tables and masks of the three streams: image rows [0, S_x), caption rows [S_x, S_u).
    const sx = g.op("Shape", [xTokens], { start: 1, end: 2 }, { name: "streams" });
    const head = (v: string) => g.op("Slice", [v, g.ints([0]), sx, g.ints([1])], {}, { name: "streams" });
    const tail = (v: string) =>
      g.op("Slice", [v, sx, g.ints([INT64_MAX]), g.ints([1])], {}, { name: "streams" });
    const cosU = this.ct === "float16" ? cast(g, ropeCos, "float16", "rope") : ropeCos;
    const sinU = this.ct === "float16" ? cast(g, ropeSin, "float16", "rope") : ropeSin;
    const lo = { name: "masks", fused: this.fused, op: this.attnOp, biasType: this.ct };
    // All items share S_x, so the image stream has no batch padding and needs no mask.
    const imgStream: Stream = { cos: head(cosU), sin: head(sinU), mask: null };
    const capStream: Stream = { cos: tail(cosU), sin: tail(sinU), mask: keyMask(g, tail(attnMask), c, lo) };

    const blocks = transformerBlocks(cfg);
    for (const b of blocks.filter((b) => b.prefix.startsWith("noise_refiner."))) {
      x = await this.block(x, b.prefix, imgStream, adaln);
    }
    for (const b of blocks.filter((b) => b.prefix.startsWith("context_refiner."))) {
      c = await this.block(c, b.prefix, capStream, null);
    }
    let u = g.op("Concat", [x, c], { axis: 1 }, { name: "unified" });
    const uniStream: Stream = { cos: cosU, sin: sinU, mask: keyMask(g, attnMask, u, lo) };
    for (const b of blocks.filter((b) => b.prefix.startsWith("layers."))) {
      u = await this.block(u, b.prefix, uniStream, adaln);
    }
    // The final layer is per token, so only the image rows are computed.
    const out = await this.finalLayer(head(u), adaln);
    g.output(out, TRANSFORMER_OUTPUT, "float32", ["B", "S_x", d.patchDim]);
  }

  /** §3.1: adaln_input = mlp.2(SiLU(mlp.0([cos, sin](t * t_scale * freqs)))), fp32 sinusoid. */
  private async timestepEmbedding(t: string): Promise<string> {
    const { g } = this;
    const o = { name: "t_embedder" };
    const tIn = g.op("Mul", [this.unsq(t, 1), g.scalar(this.cfg.t_scale)], {}, o);
    const freqs = g.constant("float32", timestepFreqs());
    const args = g.op("Mul", [tIn, freqs], {}, o);
    const sinusoid = g.op(
      "Concat",
      [g.op("Cos", [args], {}, o), g.op("Sin", [args], {}, o)],
      { axis: -1 },
      o,
    );
    const h = silu(g, await this.project(sinusoid, "t_embedder.mlp.0", true), "t_embedder.mlp.1");
    return this.project(h, "t_embedder.mlp.2", true);
  }

  /** §3.7 modulated (adaln given) or unmodulated block with sandwich RMSNorms. */
  private async block(x: string, p: string, s: Stream, adaln: string | null): Promise<string> {
    const { g, cfg } = this;
    const mod = adaln ? await this.modulation(adaln, p) : null;
    const norm = async (v: string, n: string) =>
      rmsNorm(g, v, await this.vector(`${p}.${n}.weight`, "float32"), cfg.norm_eps, {
        name: `${p}.${n}`,
        fused: this.fused,
      });
    const scaled = (v: string, scale: string | undefined) =>
      scale ? g.op("Mul", [v, scale], {}, { name: p }) : v;
    const gated = (v: string, gate: string | undefined) =>
      gate ? g.op("Mul", [gate, v], {}, { name: p }) : v;

    const a = await this.attention(scaled(await norm(x, "attention_norm1"), mod?.scaleMsa), p, s);
    x = g.op("Add", [x, gated(await norm(a, "attention_norm2"), mod?.gateMsa)], {}, { name: p });
    const f = await this.feedForward(scaled(await norm(x, "ffn_norm1"), mod?.scaleMlp), p);
    return g.op("Add", [x, gated(await norm(f, "ffn_norm2"), mod?.gateMlp)], {}, { name: p });
  }

  /** scale_msa, gate_msa, scale_mlp, gate_mlp = adaLN_modulation.0(adaln) (no SiLU); 1 + scale, tanh(gate). */
  private async modulation(adaln: string, p: string): Promise<Modulation> {
    const { g } = this;
    const o = { name: `${p}.adaLN_modulation` };
    const mod = this.unsq(await this.project(adaln, `${p}.adaLN_modulation.0`, true), 1);
    const [sm, gm, sf, gf] = g.opN("Split", [mod], { axis: -1, num_outputs: 4 }, { ...o, outputs: 4 });
    const one = g.scalar(1);
    return {
      scaleMsa: g.op("Add", [sm, one], {}, o),
      gateMsa: g.op("Tanh", [gm], {}, o),
      scaleMlp: g.op("Add", [sf, one], {}, o),
      gateMlp: g.op("Tanh", [gf], {}, o),
    };
  }

  /** q/k/v in one GEMM, per-head RMSNorm on q and k, interleaved 3-axis RoPE, attention, to_out.0. */
  private async attention(h: string, p: string, s: Stream): Promise<string> {
    const { g, d, ct, fused } = this;
    const a = `${p}.attention`;
    const keys = ["to_q", "to_k", "to_v"].map((n) => `${a}.${n}.weight`);
    const wqkv = await this.trackLinear(keys, `${a}.to_qkv.weight`, [1, 1, this.branchScale]);
    const hc = ct === "float16" ? cast(g, h, ct, a) : h;
    const [q, k, v] = g.opN(
      "Split",
      [linear(g, hc, wqkv, null, `${a}.to_qkv`)],
      { axis: -1, num_outputs: 3 },
      {
        name: a,
        outputs: 3,
      },
    );
    const headNorm = async (x: string, n: string) => {
      const heads = g.op("Reshape", [x, g.ints([0, 0, d.heads, d.headDim])], {}, { name: `${a}.${n}` });
      const w = await this.vector(`${a}.${n}.weight`, ct);
      const y = rmsNorm(g, heads, w, this.cfg.norm_eps, { name: `${a}.${n}`, fused });
      return g.op("Reshape", [y, g.ints([0, 0, d.dim])], {}, { name: `${a}.${n}` });
    };
    const ro = { name: `${a}.rope`, fused, numHeads: d.heads, headDim: d.headDim, interleaved: true };
    const qr = rotary(g, await headNorm(q, "norm_q"), s.cos, s.sin, ro);
    const kr = rotary(g, await headNorm(k, "norm_k"), s.cos, s.sin, ro);
    const o = attention(g, qr, kr, v, s.mask, {
      name: a,
      fused,
      numHeads: d.heads,
      headDim: d.headDim,
      op: this.attnOp,
    });
    const wo = await this.trackLinear([`${a}.to_out.0.weight`], `${a}.to_out.0.weight`);
    return this.unscale(linear(g, o, wo, null, `${a}.to_out.0`), `${a}.to_out.0`);
  }

  /** w2(silu(w1 h) * w3 h), w1|w3 fused into one GEMM. */
  private async feedForward(h: string, p: string): Promise<string> {
    const { g, ct } = this;
    const f = `${p}.feed_forward`;
    const w13 = await this.trackLinear([`${f}.w1.weight`, `${f}.w3.weight`], `${f}.w13.weight`, [
      1,
      this.branchScale,
    ]);
    const w2 = await this.trackLinear([`${f}.w2.weight`], `${f}.w2.weight`);
    return this.unscale(swiGluFfn(g, ct === "float16" ? cast(g, h, ct, f) : h, w13, w2, f), f);
  }

  /** §3.8 step 5: linear(LayerNorm(u) * (1 + adaLN_modulation.1(SiLU(adaln)))). */
  private async finalLayer(u: string, adaln: string): Promise<string> {
    const { g, d } = this;
    const f = `all_final_layer.${d.patchKey}`;
    const mod = await this.project(
      silu(g, adaln, `${f}.adaLN_modulation.0`),
      `${f}.adaLN_modulation.1`,
      true,
    );
    const scale = this.unsq(g.op("Add", [mod, g.scalar(1)], {}, { name: f }), 1);
    const n = layerNormNoAffine(g, u, d.dim, FINAL_NORM_EPS, `${f}.norm_final`);
    return this.project(g.op("Mul", [n, scale], {}, { name: f }), `${f}.linear`, true);
  }

  /** fp32 in -> Linear(`key`.weight, `key`.bias) in the compute type -> fp32 out. */
  private async project(x: string, key: string, bias: boolean): Promise<string> {
    const { g, ct } = this;
    const w = await this.trackLinear([`${key}.weight`], `${key}.weight`);
    const b = bias ? await this.vector(`${key}.bias`, ct) : null;
    const xc = ct === "float16" ? cast(g, x, ct, key) : x;
    const y = linear(g, xc, w, b, key);
    return ct === "float16" ? cast(g, y, "float32", key) : y;
  }

  /** A branch output in the compute type -> fp32, undoing FP16_BRANCH_SCALE. */
  private unscale(y: string, name: string): string {
    if (this.ct === "float32") return y;
    const y32 = cast(this.g, y, "float32", name);
    return this.g.op("Mul", [y32, this.g.scalar(1 / this.branchScale)], {}, { name });
  }

  private async trackLinear(keys: string[], name: string, scales: number[] = []): Promise<string> {
    const w = await linearWeight(this.g, this.opts.weights, keys, name, this.ct, scales);
    for (const k of keys) this.progress(k);
    return w;
  }

  private async vector(key: string, storeAs: ComputeType): Promise<string> {
    const w = await vectorWeight(this.g, this.opts.weights, key, storeAs);
    this.progress(key);
    return w;
  }

  private progress(key: string): void {
    this.done += this.opts.weights.info(key).shape.reduce((a, b) => a * b, 1);
    this.opts.onProgress?.(this.done, this.total);
  }

  private unsq(x: string, axis: number): string {
    return this.g.op("Unsqueeze", [x, this.g.ints([axis])], {}, { name: x });
  }
}
