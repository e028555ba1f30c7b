import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseVaeConfig, vaeDecoderKeyShapes } from "../../../gpu-fn/model/builders/vae-decoder-config";
import { checkShapes, openCheckpoint } from "../../../gpu-fn/model/checkpoint";
import { openSafetensors, type TensorToWrite, writeSafetensors } from "../../../gpu-fn/model/safetensors";
import { comfyFileIn, writeComfyTransformer } from "./comfy-fixture";
import { useTempDirs } from "./temp-dirs";

const TINY = resolve("test/fixtures/golden/tiny-a");
const CKPT = join(TINY, "checkpoint");
const tmp = useTempDirs();

/** A writable copy of the tiny-a checkpoint. */
function copyCheckpoint(): string {
  const dir = join(tmp("ckpt-"), "checkpoint");
  cpSync(CKPT, dir, { recursive: true });
  return dir;
}

/** Every tensor of a file, renamed/reshaped by `map` (null drops it), written to `out`. */
function rewrite(
  src: string,
  out: string,
  map: (name: string) => string | null,
  extra: TensorToWrite[] = [],
): void {
  const set = openSafetensors(src);
  const tensors: TensorToWrite[] = [];
  for (const [name, t] of set.tensors) {
    const to = map(name);
    const e = t.file.entry(name);
    if (to) tensors.push({ name: to, dtype: e.dtype, shape: e.shape, data: t.file.readRaw(name) });
  }
  set.close();
  writeSafetensors(out, [...tensors, ...extra]);
}

describe("openCheckpoint", () => {
  it("opens the tiny-a diffusers folder: canonical text-encoder keys, parsed VAE and scheduler configs", async () => {
    const ckpt = openCheckpoint(CKPT);
    try {
      expect(ckpt.modelIndex._class_name).toBe("ZImagePipeline");
      expect(ckpt.scheduler).toMatchObject({
        num_train_timesteps: 1000,
        shift: 3,
        use_dynamic_shifting: false,
      });
      expect(ckpt.vae.config).toMatchObject({
        norm_num_groups: 8,
        scaling_factor: 0.3611,
        shift_factor: 0.1159,
      });
      expect(ckpt.transformer.layout).toBe("diffusers");
      expect(ckpt.transformer.weights.keys()).toHaveLength(73);
      expect(ckpt.textEncoder.weights.has("embed_tokens.weight")).toBe(true);
      expect(ckpt.textEncoder.weights.has("model.embed_tokens.weight")).toBe(false);
      expect(ckpt.textEncoder.weights.info("layers.0.self_attn.q_proj.weight")).toMatchObject({
        dtype: "BF16",
        shape: [64, 48],
      });
      expect(ckpt.tokenizer).toBeNull();
    } finally {
      ckpt.close();
    }
  });

  it("reads text-encoder keys stored without the model. prefix identically", async () => {
    const dir = copyCheckpoint();
    const file = join(dir, "text_encoder/model.safetensors");
    rewrite(join(CKPT, "text_encoder/model.safetensors"), file, (n) => n.replace(/^model\./, ""));
    const a = openCheckpoint(CKPT);
    const b = openCheckpoint(dir);
    try {
      expect(b.textEncoder.weights.keys().sort()).toEqual(a.textEncoder.weights.keys().sort());
      const key = "layers.1.mlp.down_proj.weight";
      expect(await b.textEncoder.weights.readF32(key)).toEqual(await a.textEncoder.weights.readF32(key));
    } finally {
      a.close();
      b.close();
    }
  });

  it("maps a ComfyUI single-file transformer (prefix, renames, fused qkv split, norm_final dropped)", async () => {
    const dir = copyCheckpoint();
    const single = comfyFileIn(dir);
    const tensors = writeComfyTransformer(join(CKPT, "transformer"), single);
    expect(tensors.some((t) => t.name.includes("to_q"))).toBe(false);

    const ref = openCheckpoint(CKPT);
    const comfy = openCheckpoint(dir, { transformerFile: single });
    try {
      expect(comfy.transformer.layout).toBe("comfyui");
      const keys = ref.transformer.weights.keys().sort();
      expect(comfy.transformer.weights.keys().sort()).toEqual(keys);
      for (const key of keys) {
        expect(comfy.transformer.weights.info(key).shape).toEqual(ref.transformer.weights.info(key).shape);
        const got = Buffer.from((await comfy.transformer.weights.readF32(key)).buffer);
        expect(got.equals(Buffer.from((await ref.transformer.weights.readF32(key)).buffer)), key).toBe(true);
      }
      expect(comfy.transformer.weights.location("layers.1.attention.to_k.weight")).toMatch(
        /z_image_turbo_comfy\.safetensors \["model\.diffusion_model\.layers\.1\.attention\.qkv\.weight" rows 64\.\.128\]/,
      );
    } finally {
      ref.close();
      comfy.close();
    }
  });

  it("names the file and field of a bad config", () => {
    const dir = copyCheckpoint();
    const cfg = join(dir, "vae/config.json");
    writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, "utf8")), norm_num_groups: 5 }));
    expect(() => openCheckpoint(dir)).toThrow(
      /vae\/config\.json: invalid config: .*not a multiple of norm_num_groups 5/,
    );
    rmSync(join(dir, "model_index.json"));
    expect(() => openCheckpoint(dir)).toThrow(/model_index\.json: missing/);
  });
});

describe("checkShapes", () => {
  it("passes the tiny-a VAE and fails fast naming key, expected vs actual shape and file", () => {
    const ckpt = openCheckpoint(CKPT);
    try {
      checkShapes("vae", ckpt.vae.weights, vaeDecoderKeyShapes(ckpt.vae.config));
      const wider = parseVaeConfig({
        ...(ckpt.vae.configJson as object),
        block_out_channels: [16, 32, 32, 64],
      });
      expect(() => checkShapes("vae", ckpt.vae.weights, vaeDecoderKeyShapes(wider))).toThrow(
        /vae \(.*checkpoint\/vae\): \d+ tensor\(s\) do not match the config:\n {2}"decoder\.conv_in\.weight": shape \[32,16,3,3\] in .*diffusion_pytorch_model\.safetensors \["decoder\.conv_in\.weight"\], expected \[64,16,3,3\]/,
      );
      const postQuant = parseVaeConfig({ ...(ckpt.vae.configJson as object), use_post_quant_conv: true });
      expect(() => checkShapes("vae", ckpt.vae.weights, vaeDecoderKeyShapes(postQuant))).toThrow(
        /"post_quant_conv\.weight": missing \(expected shape \[16,16,1,1\]\)/,
      );
    } finally {
      ckpt.close();
    }
  });

  it("derives exactly the 138 real VAE decoder keys and shapes of the spec", () => {
    const real = parseVaeConfig({
      block_out_channels: [128, 256, 512, 512],
      layers_per_block: 2,
      latent_channels: 16,
      norm_num_groups: 32,
      scaling_factor: 0.3611,
      shift_factor: 0.1159,
      use_post_quant_conv: false,
    });
    const tsv = readFileSync(resolve("test/fixtures/spec/vae_decoder_keys.tsv"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split("\t"));
    const ours = vaeDecoderKeyShapes(real);
    expect(ours.size).toBe(138);
    expect(new Map(tsv.map(([k, s]) => [k, JSON.parse(s)]))).toEqual(ours);
    const params = [...ours.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
    expect(params).toBe(49_545_475);
  });
});
