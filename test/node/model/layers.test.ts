/**
 * Shared ONNX layers: the fused forms (opset-23 RMSNormalization / RotaryEmbedding / Attention, com.microsoft
 * MultiHeadAttention) against the decomposed forms and a plain JavaScript reference, on ONNX Runtime CPU.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { GraphBuilder } from "../../../gpu-fn/model/onnx/graph-builder";
import {
  attention,
  type FusedAttentionOp,
  keyMask,
  rmsNorm,
  rotary,
} from "../../../gpu-fn/model/onnx/layers";

const B = 2;
const S = 6;
const H = 3;
const D = 8;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Variant {
  fused: boolean;
  op?: FusedAttentionOp;
  interleaved: boolean;
}

/** q -> per-head RMSNorm -> rotary; k -> rotary; attention(q, k, v, key mask). */
async function session(v: Variant): Promise<ort.InferenceSession> {
  const dir = mkdtempSync(join(tmpdir(), "layers-"));
  dirs.push(dir);
  const g = new GraphBuilder({ name: "layers", dataPath: join(dir, "l.onnx.data") });
  const [q, k, val] = ["q", "k", "v"].map((n) => g.input(n, "float32", ["B", "S", H * D]));
  const cos = g.input("cos", "float32", ["B", "S", D / 2]);
  const sin = g.input("sin", "float32", ["B", "S", D / 2]);
  const mask = g.input("mask", "bool", ["B", "S"]);
  const w = await g.weight(
    "w",
    [D],
    Float32Array.from({ length: D }, (_, i) => 1 + i / 10),
  );
  const o = { name: "l", fused: v.fused };
  const qn = rmsNorm(g, g.op("Reshape", [q, g.ints([0, 0, H, D])]), w, 1e-5, o);
  const ro = { ...o, numHeads: H, headDim: D, interleaved: v.interleaved };
  const qr = rotary(g, g.op("Reshape", [qn, g.ints([0, 0, -1])]), cos, sin, ro);
  const kr = rotary(g, k, cos, sin, ro);
  const m = keyMask(g, mask, qr, { ...o, op: v.op, biasType: "float32" });
  const y = attention(g, qr, kr, val, m, { ...o, numHeads: H, headDim: D, op: v.op });
  g.output(qr, "qr", "float32", ["B", "S", H * D]);
  g.output(y, "y", "float32", ["B", "S", H * D]);
  writeFileSync(join(dir, "l.onnx"), g.finish());
  return ort.InferenceSession.create(join(dir, "l.onnx"));
}

const wave = (n: number, s: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 * s + s) * 1.3);
const angles = wave((B * S * D) / 2, 4);
const data = {
  q: wave(B * S * H * D, 1),
  k: wave(B * S * H * D, 2),
  v: wave(B * S * H * D, 3),
  cos: angles.map(Math.cos),
  sin: angles.map(Math.sin),
  mask: Uint8Array.from({ length: B * S }, (_, i) => (i < S + 4 ? 1 : 0)), // item 1: last 2 keys masked
};
const feeds = () => ({
  q: new ort.Tensor("float32", data.q, [B, S, H * D]),
  k: new ort.Tensor("float32", data.k, [B, S, H * D]),
  v: new ort.Tensor("float32", data.v, [B, S, H * D]),
  cos: new ort.Tensor("float32", data.cos, [B, S, D / 2]),
  sin: new ort.Tensor("float32", data.sin, [B, S, D / 2]),
  mask: new ort.Tensor("bool", data.mask, [B, S]),
});

/** Plain reference: interleaved / rotate-half rotary of k, and masked softmax attention for one (b, s, h). */
function rotateRef(x: Float32Array, interleaved: boolean): Float32Array {
  const out = new Float32Array(x.length);
  for (let bs = 0; bs < B * S; bs++) {
    for (let h = 0; h < H; h++) {
      const base = (bs * H + h) * D;
      for (let m = 0; m < D / 2; m++) {
        const [i0, i1] = interleaved ? [2 * m, 2 * m + 1] : [m, m + D / 2];
        const c = data.cos[bs * (D / 2) + m];
        const s = data.sin[bs * (D / 2) + m];
        out[base + i0] = x[base + i0] * c - x[base + i1] * s;
        out[base + i1] = x[base + i0] * s + x[base + i1] * c;
      }
    }
  }
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("layers: fused vs decomposed vs reference", () => {
  for (const interleaved of [true, false]) {
    it(`rotary (${interleaved ? "interleaved" : "rotate-half"}) and attention agree`, async () => {
      const runs: Record<string, ort.InferenceSession.OnnxValueMapType> = {};
      const variants: Record<string, Variant> = {
        decomposed: { fused: false, interleaved },
        attention23: { fused: true, op: "Attention", interleaved },
        mha: { fused: true, op: "MultiHeadAttention", interleaved },
      };
      for (const [name, v] of Object.entries(variants)) runs[name] = await (await session(v)).run(feeds());
      const y = (n: string) => runs[n].y.data as Float32Array;
      const qr = (n: string) => runs[n].qr.data as Float32Array;
      expect(maxDiff(qr("attention23"), qr("decomposed"))).toBeLessThan(2e-6);
      expect(maxDiff(y("attention23"), y("decomposed"))).toBeLessThan(2e-6);
      expect(maxDiff(y("mha"), y("decomposed"))).toBeLessThan(2e-6);

      // Independent check of item 1, query 0, head 0: the graph's normed+rotated q, k rotated in JS, and a
      // masked softmax in JS (keys 4 and 5 of item 1 are masked).
      const kRot = rotateRef(data.k, interleaved);
      const q = qr("decomposed");
      const b = 1;
      const scores: number[] = [];
      for (let t = 0; t < S; t++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(b * S * H + 0) * D + d] * kRot[((b * S + t) * H + 0) * D + d];
        scores.push(data.mask[b * S + t] ? dot / Math.sqrt(D) : Number.NEGATIVE_INFINITY);
      }
      const mx = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - mx));
      const z = e.reduce((a, c) => a + c, 0);
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let t = 0; t < S; t++) acc += (e[t] / z) * data.v[((b * S + t) * H + 0) * D + d];
        expect(y("decomposed")[(b * S * H + 0) * D + d]).toBeCloseTo(acc, 5);
        expect(y("mha")[(b * S * H + 0) * D + d]).toBeCloseTo(acc, 5);
      }
    });
  }
});
