import { readFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import type { Target } from "../../../gpu-fn/model/builders/types";
import { parseVaeConfig, type VaeConfig } from "../../../gpu-fn/model/builders/vae-decoder";
import { buildVaeEncoder, vaeEncoderKeyShapes } from "../../../gpu-fn/model/builders/vae-encoder";
import { SafetensorsFile } from "../../../gpu-fn/model/safetensors";
import { excess } from "./allclose";
import { useTempDirs } from "./temp-dirs";
import { baseConfig, buildTinyVae, TINY, VAE } from "./tiny-vae";

const tmp = useTempDirs();
const OUTPUTS = ["latent_mean", "latent_logvar", "latent_std"] as const;

const build = (target: Target, config: VaeConfig = baseConfig) =>
  buildTinyVae(buildVaeEncoder, tmp(`vae-enc-${target}-`), target, config);

function goldenCase(name: string) {
  const f = SafetensorsFile.open(join(TINY, `cases/${name}.safetensors`));
  const c = {
    image: f.readF32("image"),
    dims: f.entry("image").shape,
    latentDims: f.entry("latent_mean").shape,
    expected: Object.fromEntries(OUTPUTS.map((k) => [k, f.readF32(k)])) as Record<string, Float32Array>,
  };
  f.close();
  return c;
}

describe.each([
  ["cpu", 1e-4, 1e-4],
  ["cuda", 5e-3, 5e-3],
] as const)("VAE encoder graph, %s target", (target, atol, rtol) => {
  it("matches the golden posteriors (square and non-square, batch 1 and 2) with dynamic batch and size", async () => {
    const g = await build(target);
    const expectedParams = [...vaeEncoderKeyShapes(baseConfig).values()].reduce(
      (n, s) => n + s.reduce((a, b) => a * b, 1),
      0,
    );
    expect(g.parameters).toBe(expectedParams);
    expect(g.parameters).toBe(128_592);
    const session = await ort.InferenceSession.create(g.path);
    for (const name of ["vae_encoder_1", "vae_encoder_2_nonsquare"]) {
      const c = goldenCase(name);
      const out = await session.run({ image: new ort.Tensor("float32", c.image, c.dims) });
      for (const k of OUTPUTS) {
        expect(out[k].dims, `${name} ${k}`).toEqual(c.latentDims);
        expect(
          excess(out[k].data as Float32Array, c.expected[k], atol, rtol),
          `${name} ${k}`,
        ).toBeLessThanOrEqual(0);
      }
    }
    // Batch 2 = each item encoded alone.
    const c = goldenCase("vae_encoder_2_nonsquare");
    const second = c.image.subarray(c.image.length / 2);
    const alone = await session.run({ image: new ort.Tensor("float32", second, [1, ...c.dims.slice(1)]) });
    const pair = await session.run({ image: new ort.Tensor("float32", c.image, c.dims) });
    const half = (pair.latent_mean.data as Float32Array).subarray(alone.latent_mean.data.length);
    expect(excess(half, alone.latent_mean.data as Float32Array, 1e-5, 1e-5)).toBeLessThanOrEqual(0);
    await session.release();
  });

  it("uses CPU+CUDA ops, the stride-2 asymmetric-pad downsample, fp16 initializers for cuda", async () => {
    const g = await build(target);
    const model = onnxProto.onnx.ModelProto.decode(readFileSync(g.path));
    const nodes = model.graph!.node!;
    const ops = new Set(nodes.map((n) => `${n.domain || ""}:${n.opType}`));
    expect(ops.has(":GroupNormalization")).toBe(false);
    expect(ops.has(":Pad")).toBe(false);
    expect(ops.has("com.microsoft:MultiHeadAttention")).toBe(target === "cuda");
    const down = nodes.find((n) => n.name === "encoder.down_blocks.0.downsamplers.0.conv/Conv")!;
    const attr = (n: string) => down.attribute!.find((a) => a.name === n)!.ints!.map(Number);
    expect(attr("strides")).toEqual([2, 2]);
    expect(attr("pads")).toEqual([0, 0, 1, 1]);
    const w = model.graph!.initializer!.find((t) => t.name === "encoder.conv_in.weight")!;
    expect(w.dataType).toBe(target === "cuda" ? 10 : 1);
    expect(model.graph!.input!.map((i) => i.name)).toEqual(["image"]);
    expect(model.graph!.output!.map((o) => o.name)).toEqual([...OUTPUTS]);
  });
});

describe("VAE encoder config", () => {
  it("reads quant_conv when the config asks for it, and rejects a mismatched down_block_types", () => {
    const shapes = vaeEncoderKeyShapes({ ...baseConfig, use_quant_conv: true });
    expect(shapes.get("quant_conv.weight")).toEqual([32, 32, 1, 1]);
    expect(vaeEncoderKeyShapes(baseConfig).has("quant_conv.weight")).toBe(false);
    expect(() =>
      parseVaeConfig({ ...JSON.parse(readFileSync(join(VAE, "config.json"), "utf8")), down_block_types: [] }),
    ).toThrow(/down_block_types/);
  });
});
