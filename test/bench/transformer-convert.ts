/**
 * Converts a synthetic full-size Z-Image-Turbo transformer (random bf16 weights, the real 521 keys and 6.15B
 * shapes, sharded in 3 safetensors files + index like the HF checkpoint) and records time and peak RSS.
 *
 *   npx tsx test/bench/transformer-convert.ts [--dir /tmp/dit-full] [--targets cuda,cpu] [--keep]
 *
 * Each conversion runs in its own child process so its peak RSS (getrusage maxrss) is its own. The checkpoint
 * (12.3 GB) and graphs (12.3 GB fp16 / 24.6 GB fp32) are deleted afterwards unless --keep is given.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildTransformer } from "../../gpu-fn/model/builders/transformer";
import { parseTransformerConfig, transformerKeyShapes } from "../../gpu-fn/model/builders/transformer-config";
import { MappedWeightSource, openSafetensors, SafetensorsWriter } from "../../gpu-fn/model/safetensors";
import { Z_IMAGE_TURBO_TRANSFORMER } from "../node/model/z-image-turbo-config";
import { randomBf16 } from "./lib/random-bf16";

/** HF transformer/config.json of Z-Image-Turbo (spec §1.2). */
const FULL_CONFIG = {
  _class_name: "ZImageTransformer2DModel",
  _diffusers_version: "0.36.0.dev0",
  ...Z_IMAGE_TURBO_TRANSFORMER,
};
const SHARDS = 3;
const CHUNK = 1 << 22; // bf16 values per write
/** Smallest biased BF16 exponent of the random weights (see randomBf16). */
const BF16_LOWEST_EXPONENT = 0x77;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function writeCheckpoint(dir: string): { bytes: number; seconds: number } {
  const t0 = performance.now();
  mkdirSync(dir, { recursive: true });
  const config = parseTransformerConfig(FULL_CONFIG);
  const entries = [...transformerKeyShapes(config)];
  const total = entries.reduce((n, [, s]) => n + 2 * s.reduce((a, b) => a * b, 1), 0);
  const weightMap: Record<string, string> = {};
  const state = { s: 0x9e3779b9 };
  let shard = 0;
  let start = 0;
  while (start < entries.length) {
    // Fill each shard up to ~total/SHARDS bytes in key order.
    let end = start;
    let bytes = 0;
    while (end < entries.length && (bytes < total / SHARDS || shard === SHARDS - 1)) {
      bytes += 2 * entries[end][1].reduce((a, b) => a * b, 1);
      end++;
    }
    const file = `diffusion_pytorch_model-${String(shard + 1).padStart(5, "0")}-of-${String(SHARDS).padStart(5, "0")}.safetensors`;
    const slice = entries.slice(start, end);
    const w = new SafetensorsWriter(
      join(dir, file),
      slice.map(([name, shape]) => ({ name, dtype: "BF16" as const, shape })),
      { format: "pt" },
    );
    for (const [name, shape] of slice) {
      let left = shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const n = Math.min(CHUNK, left);
        w.write(name, randomBf16(n, state, BF16_LOWEST_EXPONENT));
        left -= n;
      }
      weightMap[name] = file;
    }
    w.close();
    shard++;
    start = end;
  }
  writeFileSync(
    join(dir, "diffusion_pytorch_model.safetensors.index.json"),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
  );
  writeFileSync(join(dir, "config.json"), JSON.stringify(FULL_CONFIG, null, 2));
  return { bytes: total, seconds: (performance.now() - t0) / 1000 };
}

/** Child process: one conversion; prints a JSON line with time, peak RSS and sizes. */
async function convertChild(ckpt: string, outDir: string, target: "cpu" | "cuda"): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const t0 = performance.now();
  const config = parseTransformerConfig(JSON.parse(readFileSync(join(ckpt, "config.json"), "utf8")));
  const weights = MappedWeightSource.fromSet(openSafetensors(ckpt));
  let lastPct = -1;
  const built = await buildTransformer({
    weights,
    config,
    target,
    outDir,
    onProgress: (done, total) => {
      const pct = Math.floor((100 * done) / total);
      if (pct % 10 === 0 && pct !== lastPct) {
        lastPct = pct;
        process.stderr.write(`  ${target}: ${pct}% (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
      }
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({ target, seconds, peakRssMB, parameters: built.parameters, bytes: built.bytes }),
  );
}

async function main(): Promise<void> {
  if (process.argv[2] === "--child") {
    await convertChild(process.argv[3], process.argv[4], process.argv[5] as "cpu" | "cuda");
    return;
  }
  const dir = resolve(arg("dir", "/tmp/dit-full"));
  const targets = arg("targets", "cuda,cpu").split(",") as ("cpu" | "cuda")[];
  const ckpt = join(dir, "transformer");
  try {
    const w = writeCheckpoint(ckpt);
    console.log(
      `synthetic checkpoint: ${(w.bytes / 1e9).toFixed(2)} GB bf16 in ${SHARDS} shards, written in ${w.seconds.toFixed(0)} s`,
    );
    for (const target of targets) {
      const out = join(dir, `out-${target}`);
      const line = execFileSync(
        process.execPath,
        ["--import", "tsx", process.argv[1], "--child", ckpt, out, target],
        { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" },
      );
      const r = JSON.parse(line.trim().split("\n").pop()!);
      const onnx = statSync(join(out, "transformer.onnx")).size;
      console.log(
        `convert --target ${target}: ${r.seconds.toFixed(0)} s, peak RSS ${r.peakRssMB.toFixed(0)} MB, ` +
          `${(r.parameters / 1e9).toFixed(3)}B params, ${(r.bytes / 1e9).toFixed(2)} GB written (.onnx ${(onnx / 1e6).toFixed(2)} MB)`,
      );
      if (!process.argv.includes("--keep")) rmSync(out, { recursive: true, force: true });
    }
  } finally {
    if (!process.argv.includes("--keep")) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
