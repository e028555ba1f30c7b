/**
 * CPU forward time of the S3-DiT graph for a medium config (dim 512, 4 heads of 128, 8 layers + 2+2 refiners,
 * 1024 image tokens + 128 caption tokens, random weights) and its efficiency: achieved FLOP/s over the FLOP/s of
 * one large fp32 MatMul run by ONNX Runtime in the same process.
 *
 *   npx tsx test/bench/transformer-cpu.ts [--runs 9] [--threads 1]
 *
 * FLOPs count matmuls only (2·M·K·N for every linear, 4·S²·D per attention); norms, RoPE and elementwise ops are
 * left out, so the efficiency is a lower bound.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { buildTransformer } from "../../gpu-fn/model/builders/transformer";
import {
  parseTransformerConfig,
  type TransformerConfig,
  transformerDims,
  transformerIoConfig,
} from "../../gpu-fn/model/builders/transformer-config";
import { GraphBuilder } from "../../gpu-fn/model/onnx/graph-builder";
import { buildTransformerFeeds } from "../../gpu-fn/model/transformer-io";
import { syntheticTransformerWeights } from "../node/model/synthetic-transformer";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 5;
/** ORT intra-op threads (default: ORT's choice, one per core). */
const threads = Number(process.argv[process.argv.indexOf("--threads") + 1]) || 0;
const sessionOptions: ort.InferenceSession.SessionOptions = threads > 0 ? { intraOpNumThreads: threads } : {};

const config = parseTransformerConfig({
  all_patch_size: [2],
  all_f_patch_size: [1],
  axes_dims: [32, 48, 48],
  axes_lens: [1536, 512, 512],
  cap_feat_dim: 2560,
  dim: 512,
  in_channels: 16,
  n_heads: 4,
  n_kv_heads: 4,
  n_layers: 8,
  n_refiner_layers: 2,
  norm_eps: 1e-5,
  qk_norm: true,
  rope_theta: 256,
  t_scale: 1000,
});
const H = 64; // 32x32 = 1024 image tokens
const W = 64;
const CAP = 128;

function matmulFlops(c: TransformerConfig, sx: number, sc: number): number {
  const d = transformerDims(c);
  const D = d.dim;
  const block = (s: number) => 2 * s * (4 * D * D + 3 * D * d.ffnDim) + 4 * s * s * D;
  const su = sx + sc;
  return (
    c.n_refiner_layers * (block(sx) + block(sc)) +
    c.n_layers * block(su) +
    2 * sx * d.patchDim * D + // x embedder
    2 * sc * c.cap_feat_dim * D + // caption embedder
    2 * sx * D * d.patchDim // final layer (image rows only)
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Wall ms and process CPU ms of one run (CPU time is less sensitive to other processes on shared cores). */
async function timeOnce(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await session.run(feeds);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

/** One (M x K) @ (K x N) fp32 MatMul with a constant right-hand side, as the DiT's linears are. */
async function matmulSession(dir: string, M: number, K: number, N: number) {
  const g = new GraphBuilder({ name: "matmul", dataPath: join(dir, "matmul.onnx.data") });
  const a = g.input("a", "float32", [M, K]);
  const b = await g.weight(
    "b",
    [K, N],
    Float32Array.from({ length: K * N }, (_, i) => ((i % 17) - 8) / 64),
  );
  g.output(g.op("MatMul", [a, b]), "y", "float32", [M, N]);
  writeFileSync(join(dir, "matmul.onnx"), g.finish());
  const session = await ort.InferenceSession.create(join(dir, "matmul.onnx"), sessionOptions);
  const feeds = {
    a: new ort.Tensor(
      "float32",
      Float32Array.from({ length: M * K }, (_, i) => (i % 13) / 13),
      [M, K],
    ),
  };
  return { session, feeds, flops: 2 * M * K * N };
}

const dir = mkdtempSync(join(tmpdir(), "dit-bench-"));
try {
  const io = transformerIoConfig(config);
  let seed = 7;
  const noise = (n: number) =>
    Float32Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 30 - 1;
    });
  const raw = buildTransformerFeeds(
    io,
    [{ latent: noise(16 * H * W), capFeats: noise(CAP * config.cap_feat_dim), capLen: CAP, t: 0.5 }],
    H,
    W,
  );
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, f] of Object.entries(raw)) feeds[k] = new ort.Tensor(f.type, f.data, f.dims);
  const sx = raw.x_tokens.dims[1];
  const sc = raw.cap_feats.dims[1];
  const flops = matmulFlops(config, sx, sc);

  console.log(`CPU: ${cpus()[0]?.model} x${cpus().length}, onnxruntime-node ${ort.env.versions.common}`);
  console.log(
    `load average (1/5/15 min) at the start: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" / ")}`,
  );
  console.log(`config: dim 512, 4 heads x 128, 8 layers + 2+2 refiners; tokens ${sx} image + ${sc} caption`);
  console.log(`intra-op threads: ${threads || "ORT default"}`);
  console.log(`matmul FLOPs per forward: ${(flops / 1e9).toFixed(2)} GFLOP; ${runs} timed runs, median`);

  // Other processes share these cores, so the reference and both graph variants are timed in interleaved
  // rounds; min times estimate the uncontended speed, per-round ratios cancel slow drifts.
  const mm = await matmulSession(dir, 2048, 2048, 2048);
  type Sample = { wall: number; cpu: number };
  const variants: { name: string; session: ort.InferenceSession; ms: Sample[] }[] = [];
  const kinds = [
    { name: "fused, opset-23 Attention (default)", fusedOps: true, attentionOp: "Attention" as const },
    { name: "fused, MultiHeadAttention", fusedOps: true, attentionOp: "MultiHeadAttention" as const },
    { name: "decomposed", fusedOps: false, attentionOp: undefined },
  ];
  for (const [i, k] of kinds.entries()) {
    const out = join(dir, `v${i}`);
    mkdirSync(out);
    await buildTransformer({
      weights: syntheticTransformerWeights(config),
      config,
      target: "cpu",
      outDir: out,
      fusedOps: k.fusedOps,
      attentionOp: k.attentionOp,
    });
    const session = await ort.InferenceSession.create(join(out, "transformer.onnx"), sessionOptions);
    await session.run(feeds); // warm-up
    variants.push({ name: k.name, session, ms: [] });
  }
  await mm.session.run(mm.feeds);
  const mmMs: Sample[] = [];
  for (let r = 0; r < runs; r++) {
    mmMs.push(await timeOnce(mm.session, mm.feeds));
    for (const v of variants) v.ms.push(await timeOnce(v.session, feeds));
  }
  const gf = (f: number, ms: number) => f / (ms / 1000) / 1e9;
  const report = (label: string, xs: Sample[], f: number) => {
    const wall = xs.map((x) => x.wall);
    const cpu = xs.map((x) => x.cpu);
    return (
      `${label}: wall min ${Math.min(...wall).toFixed(0)} / median ${median(wall).toFixed(0)} ms ` +
      `(${gf(f, Math.min(...wall)).toFixed(1)} GFLOP/s at min); CPU time median ${median(cpu).toFixed(0)} ms ` +
      `(${gf(f, median(cpu)).toFixed(1)} GFLOP per CPU-second)`
    );
  };
  console.log(report("reference MatMul 2048x2048x2048 fp32", mmMs, mm.flops));
  for (const v of variants) {
    const eff = (pick: (x: Sample) => number) =>
      (100 * median(v.ms.map((x, r) => gf(flops, pick(x)) / gf(mm.flops, pick(mmMs[r]))))).toFixed(1);
    console.log(report(`DiT cpu ${v.name}`, v.ms, flops));
    console.log(
      `  efficiency (median of per-round ratios): wall ${eff((x) => x.wall)} %, CPU time ${eff((x) => x.cpu)} %`,
    );
    await v.session.release();
  }
  await mm.session.release();
  console.log(
    `load average (1/5/15 min) at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" / ")}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
