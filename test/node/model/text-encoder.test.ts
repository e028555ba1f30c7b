/**
 * Qwen3 text-encoder graph vs the golden set tiny-a (text_encoder_1, text_encoder_2_padded), both targets run
 * on the CPU execution provider. Only valid positions (attention_mask == 1) are compared, as cases.json says.
 */
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCase } from "../../../gpu-fn/golden/text_encoder";
import type { GoldenCase, GoldenTensor } from "../../../gpu-fn/golden/types";
import {
  buildTextEncoder,
  parseTextEncoderConfig,
  textEncoderKeyShapes,
} from "../../../gpu-fn/model/builders/text-encoder";
import type { Target } from "../../../gpu-fn/model/builders/types";
import { textEncoderRefs } from "../../../gpu-fn/model/checkpoint/layouts";
import { MappedWeightSource, openSafetensors, writeSafetensors } from "../../../gpu-fn/model/safetensors";
import type { WeightSource } from "../../../gpu-fn/model/weights";
import { GOLDEN_DIR, readCases, readSafetensors } from "../gpu-fn/golden-files";
import { useTempDirs } from "./temp-dirs";

const tempDir = useTempDirs();

const CHECKPOINT = join(GOLDEN_DIR, "checkpoint/text_encoder");
const config = parseTextEncoderConfig(JSON.parse(readFileSync(join(CHECKPOINT, "config.json"), "utf8")));

/**
 * cuda target tolerance. Its weights are exact in fp16 (the checkpoint is BF16, whose values fp16 holds), but
 * every matmul input, q/k and the attention run in fp16 (unit roundoff 2^-11 = 4.9e-4) on values up to ~6, and
 * the error compounds over the layers: measured max |Δ| 1.7e-3 (valid rows). atol = rtol = 5e-3 keeps ~3x
 * headroom while staying 20x below the ~1e-1 a bf16 compute path (or a wrong op) would show (README §6).
 */
const FP16_TOL = { atol: 5e-3, rtol: 5e-3 };

/** The text-encoder weights of a checkpoint folder under canonical keys (the converter's layout resolution). */
function weightsOf(dir: string): MappedWeightSource {
  const set = openSafetensors(dir);
  return new MappedWeightSource(set.label, textEncoderRefs(set));
}

/** The golden checkpoint stores `model.`-prefixed keys (a Qwen3ForCausalLM save). */
const goldenWeights = () => weightsOf(CHECKPOINT);

/** A copy of the golden text encoder saved without the `model.` prefix (a Qwen3Model save), same BF16 bytes. */
function unprefixedCopy(): string {
  const dir = tempDir("te-noprefix-");
  const set = openSafetensors(CHECKPOINT);
  const tensors = [...set.tensors].map(([name, t]) => {
    const e = t.file.entry(t.name);
    return {
      name: name.replace(/^model\./, ""),
      dtype: e.dtype,
      shape: e.shape,
      data: t.file.readRaw(t.name),
    };
  });
  set.close();
  expect(tensors.some((t) => t.name === "embed_tokens.weight")).toBe(true);
  writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  copyFileSync(join(CHECKPOINT, "config.json"), join(dir, "config.json"));
  return dir;
}

const cases = readCases().cases.filter((c) => c.component === "text_encoder") as unknown as GoldenCase[];

function caseTensors(c: GoldenCase) {
  const file = readSafetensors(c.file);
  const inputs: Record<string, GoldenTensor> = {};
  for (const name of Object.keys(c.inputs)) {
    const t = file[name];
    inputs[name] = { dtype: t.dtype as GoldenTensor["dtype"], dims: t.shape, data: t.data };
  }
  return { file, inputs };
}

/** Max |Δ| over the compared elements; fails when any exceeds atol + rtol·|ref|. */
function compare(
  got: Float32Array,
  ref: Float32Array,
  keep: (i: number) => boolean,
  tol: { atol: number; rtol: number },
): number {
  expect(got.length).toBe(ref.length);
  let worst = 0;
  let bad = 0;
  for (let i = 0; i < ref.length; i++) {
    if (!keep(i)) continue;
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= tol.atol + tol.rtol * Math.abs(ref[i]))) bad++;
    worst = Math.max(worst, d);
  }
  expect(bad, `max |Δ| ${worst}`).toBe(0);
  return worst;
}

describe.each(["cpu", "cuda"] as Target[])("text encoder graph, %s target", (target) => {
  let modelDir: string;

  beforeAll(async () => {
    modelDir = tempDir(`te-${target}-`);
    await buildTextEncoder({ weights: goldenWeights(), config, target, outDir: modelDir });
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s matches the golden output", async (_name, c) => {
    const { file, inputs } = caseTensors(c);
    const out = await runCase({ case: c, inputs, modelDir, provider: "cpu" });
    expect(Object.keys(out).sort()).toEqual(Object.keys(c.outputs).sort());
    const tol = target === "cpu" ? (c.tolerance as { atol: number; rtol: number }) : FP16_TOL;
    const mask = inputs.attention_mask.data as BigInt64Array;
    for (const [name, t] of Object.entries(out)) {
      expect(t.dims).toEqual(c.outputs[name].shape);
      const got = t.data as Float32Array;
      const width = t.dims[t.dims.length - 1];
      // hidden_states_m2 holds pad rows too: compare valid rows; pad rows must only be finite.
      const valid = (i: number) => name !== "hidden_states_m2" || mask[Math.floor(i / width)] === 1n;
      compare(got, file[name].data as Float32Array, valid, tol);
      for (let i = 0; i < got.length; i++) if (!valid(i)) expect(Number.isFinite(got[i])).toBe(true);
    }
  });
});

describe("text encoder key table and shape checks", () => {
  it("lists the embedding and layers 0..N-2 only, all present in the checkpoint", () => {
    const shapes = textEncoderKeyShapes(config);
    const weights = goldenWeights();
    expect(shapes.size).toBe(1 + 11 * (config.num_hidden_layers - 1));
    expect(shapes.has(`layers.${config.num_hidden_layers - 1}.mlp.up_proj.weight`)).toBe(false);
    expect(shapes.has("norm.weight")).toBe(false);
    for (const [key, shape] of shapes) expect(weights.info(key).shape, key).toEqual(shape);
  });

  it("builds identical graphs from keys with and without the `model.` prefix", async () => {
    const c = cases[0];
    const { inputs } = caseTensors(c);
    const outputs: Float32Array[] = [];
    for (const dir of [CHECKPOINT, unprefixedCopy()]) {
      const weights = weightsOf(dir);
      expect(weights.has("layers.0.self_attn.q_proj.weight")).toBe(true);
      const modelDir = tempDir("te-prefix-");
      await buildTextEncoder({ weights, config, target: "cpu", outDir: modelDir });
      const out = await runCase({ case: c, inputs, modelDir, provider: "cpu" });
      outputs.push(out.hidden_states_m2.data as Float32Array);
    }
    expect(outputs[1]).toEqual(outputs[0]);
  });

  it("rejects a checkpoint whose tensor shape disagrees with the config before writing", async () => {
    const real = goldenWeights();
    const wrong: WeightSource = {
      keys: () => real.keys(),
      has: (k) => real.has(k),
      info: (k) =>
        k === "layers.1.self_attn.k_proj.weight" ? { ...real.info(k), shape: [48, 48] } : real.info(k),
      readF32: (k) => real.readF32(k),
      chunksF32: (k, n) => real.chunksF32(k, n),
    };
    const outDir = tempDir("te-bad-");
    await expect(buildTextEncoder({ weights: wrong, config, target: "cpu", outDir })).rejects.toThrow(
      "text_encoder: layers.1.self_attn.k_proj.weight has shape [48,48], config expects [32,48]",
    );
  });

  it("rejects a config whose heads do not group evenly", () => {
    expect(() => parseTextEncoderConfig({ ...config, num_key_value_heads: 3 })).toThrow(/not a multiple/);
  });
});
