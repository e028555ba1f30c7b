/**
 * Checkpoint -> model folder: open the diffusers checkpoint, check every tensor's shape against the configs
 * (before anything is written), build the three graphs one after another (weights streamed, so memory stays
 * bounded by the largest tensor group a builder holds), copy the tokenizer, write model.json with a content
 * digest revision. The VAE's encoder half becomes its own graph (vae_encoder.onnx, for image-to-image).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { buildTextEncoder, parseTextEncoderConfig, textEncoderKeyShapes } from "./builders/text-encoder";
import { usedLayerCount } from "./builders/text-encoder-config";
import { buildTransformer } from "./builders/transformer";
import {
  parseTransformerConfig,
  transformerIoConfig,
  transformerKeyShapes,
} from "./builders/transformer-config";
import type { BuiltGraph, Target } from "./builders/types";
import { buildVaeDecoder, vaeDecoderKeyShapes, vaeScaleFactor } from "./builders/vae-decoder";
import { buildVaeEncoder, vaeEncoderKeyShapes } from "./builders/vae-encoder";
import { type Checkpoint, checkShapes, openCheckpoint, parseWith } from "./checkpoint";
import { type GraphName, MODEL_FORMAT, MODEL_JSON, type ModelJson, writeModelJson } from "./model-folder";
import { contentRevision } from "./revision";

export interface ConvertOptions {
  /** Diffusers checkpoint folder (model_index.json, transformer/, text_encoder/, vae/, scheduler/[, tokenizer/]). */
  from: string;
  /** Model folder to write (created if missing; files of the same names are replaced). */
  out: string;
  /** Default "cpu". */
  target?: Target;
  /** model.json name; default the checkpoint folder's name. */
  name?: string;
  /** ComfyUI-style single-file transformer used instead of `transformer/*.safetensors`. */
  transformerFile?: string;
  /** ComfyUI-style single-file VAE (LDM names) used instead of `vae/*.safetensors` (config stays vae/config.json). */
  vaeFile?: string;
  /** Overrides of model.json `defaults` (steps 8, guidance 0, 1024x1024). */
  defaults?: Partial<ModelJson["defaults"]>;
  /** Progress per component, in parameters written. */
  onProgress?: (component: GraphName, done: number, total: number) => void;
}

export interface ConvertResult {
  modelDir: string;
  model: ModelJson;
  graphs: Record<GraphName, BuiltGraph>;
  parameters: number;
  bytes: number;
  seconds: number;
  /** Peak resident set size of this process so far, bytes. */
  peakRssBytes: number;
}

/** Text-encoder sequences are capped at 512 tokens (spec §4; the pipeline's max_sequence_length). */
const MAX_TEXT_LENGTH = 512;
const DEFAULTS: ModelJson["defaults"] = { steps: 8, guidance_scale: 0, width: 1024, height: 1024 };

export async function convertCheckpoint(opts: ConvertOptions): Promise<ConvertResult> {
  const started = performance.now();
  const target = opts.target ?? "cpu";
  const out = resolve(opts.out);
  const ckpt = openCheckpoint(resolve(opts.from), {
    transformerFile: opts.transformerFile,
    vaeFile: opts.vaeFile,
  });
  try {
    // 1. Parse configs and check every tensor's shape before writing anything.
    const tConfig = parseWith(
      join(ckpt.transformer.dir, "config.json"),
      parseTransformerConfig,
      ckpt.transformer.configJson,
    );
    const teConfig = parseWith(
      join(ckpt.textEncoder.dir, "config.json"),
      parseTextEncoderConfig,
      ckpt.textEncoder.configJson,
    );
    const vConfig = ckpt.vae.config;
    checkShapes("transformer", ckpt.transformer.weights, transformerKeyShapes(tConfig));
    checkShapes("text_encoder", ckpt.textEncoder.weights, textEncoderKeyShapes(teConfig));
    checkShapes("vae_decoder", ckpt.vae.weights, vaeDecoderKeyShapes(vConfig));
    checkShapes("vae_encoder", ckpt.vae.weights, vaeEncoderKeyShapes(vConfig));
    if (vConfig.latent_channels !== tConfig.in_channels) {
      throw new Error(
        `vae latent_channels ${vConfig.latent_channels} != transformer in_channels ${tConfig.in_channels}`,
      );
    }
    if (teConfig.hidden_size !== tConfig.cap_feat_dim) {
      throw new Error(
        `text_encoder hidden_size ${teConfig.hidden_size} != transformer cap_feat_dim ${tConfig.cap_feat_dim}`,
      );
    }

    // 2. Build the graphs. model.json is written last, so a folder whose conversion failed has none.
    mkdirSync(out, { recursive: true });
    rmSync(join(out, MODEL_JSON), { force: true });
    const progress = (c: GraphName) => (done: number, total: number) => opts.onProgress?.(c, done, total);
    const graphs = {
      text_encoder: await buildTextEncoder({
        weights: ckpt.textEncoder.weights,
        config: teConfig,
        target,
        outDir: out,
        onProgress: progress("text_encoder"),
      }),
      transformer: await buildTransformer({
        weights: ckpt.transformer.weights,
        config: tConfig,
        target,
        outDir: out,
        onProgress: progress("transformer"),
      }),
      vae_decoder: await buildVaeDecoder({
        weights: ckpt.vae.weights,
        config: vConfig,
        target,
        outDir: out,
        onProgress: progress("vae_decoder"),
      }),
      vae_encoder: await buildVaeEncoder({
        weights: ckpt.vae.weights,
        config: vConfig,
        target,
        outDir: out,
        onProgress: progress("vae_encoder"),
      }),
    };

    // 3. Tokenizer, model.json.
    const tokenizer = copyTokenizer(ckpt, out);
    const settings = {
      scheduler: {
        num_train_timesteps: ckpt.scheduler.num_train_timesteps,
        shift: ckpt.scheduler.shift,
        use_dynamic_shifting: ckpt.scheduler.use_dynamic_shifting,
      },
      latent: {
        channels: vConfig.latent_channels,
        vae_scale_factor: vaeScaleFactor(vConfig),
        scaling_factor: vConfig.scaling_factor,
        shift_factor: vConfig.shift_factor ?? 0,
      },
      transformer: transformerIoConfig(tConfig),
      text_encoder: {
        hidden_size: teConfig.hidden_size,
        num_layers_used: usedLayerCount(teConfig),
        vocab_size: teConfig.vocab_size,
        max_length: MAX_TEXT_LENGTH,
        pad_token_id: padTokenId(ckpt, teConfig),
      },
      defaults: { ...DEFAULTS, ...opts.defaults },
    };
    const files = Object.values(graphs).flatMap((g) => [g.file, g.data]);
    if (tokenizer) files.push(tokenizer.file, tokenizer.config);
    const revision = contentRevision(
      files.map((f) => ({ name: f, path: join(out, f) })),
      JSON.stringify({ target, ...settings }),
    );
    const model: ModelJson = {
      format: MODEL_FORMAT,
      name: opts.name ?? basename(resolve(opts.from)),
      revision,
      target,
      graphs: {
        text_encoder: { file: graphs.text_encoder.file, data: graphs.text_encoder.data },
        transformer: { file: graphs.transformer.file, data: graphs.transformer.data },
        vae_decoder: { file: graphs.vae_decoder.file, data: graphs.vae_decoder.data },
        vae_encoder: { file: graphs.vae_encoder.file, data: graphs.vae_encoder.data },
      },
      tokenizer,
      ...settings,
    };
    writeModelJson(out, model);
    const all = Object.values(graphs);
    return {
      modelDir: out,
      model,
      graphs,
      parameters: all.reduce((n, g) => n + g.parameters, 0),
      bytes: all.reduce((n, g) => n + g.bytes, 0),
      seconds: (performance.now() - started) / 1000,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  } finally {
    ckpt.close();
  }
}

/** Copies tokenizer.json + tokenizer_config.json; null when the checkpoint has no complete tokenizer. */
function copyTokenizer(ckpt: Checkpoint, out: string): ModelJson["tokenizer"] {
  if (!ckpt.tokenizer?.config) return null;
  copyFileSync(ckpt.tokenizer.file, join(out, "tokenizer.json"));
  copyFileSync(ckpt.tokenizer.config, join(out, "tokenizer_config.json"));
  return { file: "tokenizer.json", config: "tokenizer_config.json" };
}

/**
 * The id the pipeline pads with: tokenizer_config's pad_token looked up in tokenizer.json, else the text
 * encoder config's pad_token_id, else its bos_token_id (Qwen3: <|endoftext|> = 151643 is both).
 */
function padTokenId(ckpt: Checkpoint, config: Record<string, unknown>): number {
  if (ckpt.tokenizer?.config && existsSync(ckpt.tokenizer.file)) {
    const tc = JSON.parse(readFileSync(ckpt.tokenizer.config, "utf8")) as { pad_token?: unknown };
    const pad =
      typeof tc.pad_token === "object" && tc.pad_token
        ? (tc.pad_token as { content?: unknown }).content
        : tc.pad_token;
    if (typeof pad === "string") {
      const tj = JSON.parse(readFileSync(ckpt.tokenizer.file, "utf8")) as {
        added_tokens?: { id: number; content: string }[];
        model?: { vocab?: Record<string, number> };
      };
      const id = tj.added_tokens?.find((t) => t.content === pad)?.id ?? tj.model?.vocab?.[pad];
      if (typeof id === "number") return id;
    }
  }
  for (const field of ["pad_token_id", "bos_token_id"]) {
    if (typeof config[field] === "number") return config[field] as number;
  }
  throw new Error(
    `${ckpt.textEncoder.dir}: cannot determine the pad token id (no tokenizer, no pad/bos id in config)`,
  );
}
