/**
 * The synthetic tiny checkpoint: official diffusers layout that the checkpoint opener accepts with every shape
 * matching its configs, byte-for-byte reproducible, and its real Qwen3 tokenizer feeding the text encoder.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import {
  buildTextEncoder,
  parseTextEncoderConfig,
  textEncoderKeyShapes,
} from "../../../gpu-fn/model/builders/text-encoder";
import {
  parseTransformerConfig,
  transformerKeyShapes,
} from "../../../gpu-fn/model/builders/transformer-config";
import { vaeDecoderKeyShapes } from "../../../gpu-fn/model/builders/vae-decoder-config";
import { openCheckpoint } from "../../../gpu-fn/model/checkpoint/open";
import { checkShapes } from "../../../gpu-fn/model/checkpoint/shapes";
import { SafetensorsFile } from "../../../gpu-fn/model/safetensors";
import { writeTinyCheckpoint } from "../../../gpu-fn/model/tiny/checkpoint";
import { PRESETS, QWEN3_VOCAB } from "../../../gpu-fn/model/tiny/presets";
import { PromptTokenizer } from "../../../gpu-fn/pipeline/prompt-tokenizer";
import { useTempDirs } from "./temp-dirs";

const tempDir = useTempDirs();

/** sha256 of every file under `dir`, by relative path. */
function digestTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

describe("tiny checkpoint", () => {
  let dir: string;
  beforeAll(async () => {
    dir = tempDir("tiny-ck-");
    await writeTinyCheckpoint(dir, PRESETS.tiny);
  });

  it("is written in the official diffusers layout", () => {
    for (const f of [
      "model_index.json",
      "scheduler/scheduler_config.json",
      "transformer/config.json",
      "transformer/diffusion_pytorch_model.safetensors.index.json",
      "transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
      "transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
      "text_encoder/config.json",
      "text_encoder/model.safetensors",
      "vae/config.json",
      "vae/diffusion_pytorch_model.safetensors",
      "tokenizer/tokenizer.json",
      "tokenizer/tokenizer_config.json",
    ]) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const te = SafetensorsFile.open(join(dir, "text_encoder/model.safetensors"));
    expect(te.keys().every((k) => k.startsWith("model."))).toBe(true);
    expect(te.entry("model.embed_tokens.weight")).toMatchObject({ dtype: "BF16", shape: [QWEN3_VOCAB, 64] });
    expect(te.metadata).toEqual({ format: "pt" });
    te.close();
  });

  it("opens through the converter's checkpoint layer with every shape matching the configs", () => {
    const ck = openCheckpoint(dir);
    try {
      expect(ck.transformer.layout).toBe("diffusers");
      const tf = transformerKeyShapes(parseTransformerConfig(ck.transformer.configJson));
      checkShapes("transformer", ck.transformer.weights, tf);
      expect(ck.transformer.weights.keys().length).toBe(tf.size);
      const te = parseTextEncoderConfig(ck.textEncoder.configJson);
      checkShapes("text_encoder", ck.textEncoder.weights, textEncoderKeyShapes(te));
      expect(ck.textEncoder.weights.has(`layers.${te.num_hidden_layers - 1}.mlp.down_proj.weight`)).toBe(
        true,
      );
      expect(ck.textEncoder.weights.has("norm.weight")).toBe(true);
      checkShapes("vae", ck.vae.weights, vaeDecoderKeyShapes(ck.vae.config));
      expect(ck.scheduler.shift).toBe(3);
    } finally {
      ck.close();
    }
  });

  it("is byte-for-byte reproducible", async () => {
    const again = tempDir("tiny-ck-");
    await writeTinyCheckpoint(again, PRESETS.tiny);
    expect(digestTree(again)).toEqual(digestTree(dir));
  });

  it("round-trips a prompt through its tokenizer and encodes it with the text encoder", async () => {
    const tok = await PromptTokenizer.fromFiles(
      join(dir, "tokenizer/tokenizer.json"),
      join(dir, "tokenizer/tokenizer_config.json"),
    );
    const prompt = 'A red fox reading "Z-Image" under a lamp, 你好';
    const { ids } = tok.encodePrompt(prompt);
    expect(ids.slice(0, 3)).toEqual([151644, 872, 198]);
    expect(ids.slice(-5)).toEqual([151645, 198, 151644, 77091, 198]);
    expect(tok.decode(ids)).toBe(`<|im_start|>user\n${prompt}<|im_end|>\n<|im_start|>assistant\n`);
    expect(Math.max(...ids)).toBeLessThan(QWEN3_VOCAB);

    const ck = openCheckpoint(dir);
    const modelDir = tempDir("tiny-te-");
    const config = parseTextEncoderConfig(ck.textEncoder.configJson);
    await buildTextEncoder({ weights: ck.textEncoder.weights, config, target: "cpu", outDir: modelDir });
    ck.close();
    const session = await ort.InferenceSession.create(join(modelDir, "text_encoder.onnx"));
    const feed = (v: number[]) => new ort.Tensor("int64", BigInt64Array.from(v.map(BigInt)), [1, ids.length]);
    const out = await session.run({ input_ids: feed(ids), attention_mask: feed(ids.map(() => 1)) });
    await session.release();
    const h = out.hidden_states.data as Float32Array;
    expect(out.hidden_states.dims).toEqual([1, ids.length, config.hidden_size]);
    expect(h.every(Number.isFinite)).toBe(true);
    // Activations stay O(1) with the golden-style scales (not degenerate, not exploding).
    const meanAbs = h.reduce((a, v) => a + Math.abs(v), 0) / h.length;
    expect(meanAbs).toBeGreaterThan(0.1);
    expect(meanAbs).toBeLessThan(10);
  });
});
