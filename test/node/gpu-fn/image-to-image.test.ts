import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCase } from "../../../gpu-fn/golden/img2img";
import type { GoldenCase, GoldenTensor } from "../../../gpu-fn/golden/types";
import { loadModelFolder } from "../../../gpu-fn/model/model-folder";
import { preprocessImage, scaleNoise, startStep, stepsRun } from "../../../gpu-fn/pipeline/image-to-image";
import { TorchGenerator, torchRandn } from "../../../gpu-fn/pipeline/noise/torch-randn";
import { type GenerationJob, ZImagePipeline } from "../../../gpu-fn/pipeline/text-to-image";
import { OrtPipelineModels, openModelSessions, pipelineConfigOf } from "../../../gpu-fn/runtime/ort-models";
import { GOLDEN_DIR, readSafetensors } from "./golden-files";
import { removeTinyAModel, tinyAModelDir } from "./tiny-a-model";

const img2img = JSON.parse(readFileSync(path.join(GOLDEN_DIR, "cases-img2img.json"), "utf8")) as {
  cases: GoldenCase[];
  img2img_strength_table: {
    rows_by_num_inference_steps: Record<string, [number, number, number, number][]>;
    float64_vs_exact_decimal_disagreements: { N: number; strength: number; t_start_reference: number }[];
  };
};
const caseNamed = (name: string) => img2img.cases.find((c) => c.name === name)!;

let modelDir: string;
let pipeline: ZImagePipeline;
let release: () => Promise<void>;
beforeAll(async () => {
  modelDir = await tinyAModelDir();
  const folder = loadModelFolder(modelDir);
  const { sessions } = await openModelSessions(folder, "cpu");
  pipeline = new ZImagePipeline(
    new OrtPipelineModels(sessions, folder.model),
    pipelineConfigOf(folder.model),
  );
  release = async () => {
    await Promise.all(Object.values(sessions).map((s) => s.release()));
  };
});
afterAll(async () => {
  await release?.();
  removeTinyAModel();
});

function caseInputs(c: GoldenCase) {
  const file = readSafetensors(c.file);
  const inputs: Record<string, GoldenTensor> = {};
  for (const k of Object.keys(c.inputs)) {
    const t = file[k];
    inputs[k] = { dtype: t.dtype as GoldenTensor["dtype"], dims: t.shape, data: t.data };
  }
  return { file, inputs };
}

/** The case's job: its picture and prompt, drawn from the seed (not the stored tensors). */
function seededJob(c: GoldenCase, file: ReturnType<typeof readSafetensors>): GenerationJob {
  const p = c.params as {
    width: number;
    height: number;
    num_inference_steps: number;
    strength: number;
    generator_seed: number;
  };
  const ids = file.input_ids.data as BigInt64Array;
  const mask = file.attention_mask.data as BigInt64Array;
  return {
    width: p.width,
    height: p.height,
    steps: p.num_inference_steps,
    guidanceScale: 0,
    promptIds: [...ids].flatMap((id, i) => (mask[i] === 1n ? [Number(id)] : [])),
    seed: p.generator_seed,
    init: { rgb: file.init_image_uint8.data as Uint8Array, strength: p.strength },
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe("strength -> start step (get_timesteps)", () => {
  it("matches the reference table for every N and strength, including the float64 rounding cases", () => {
    const t = img2img.img2img_strength_table;
    let checked = 0;
    for (const [n, rows] of Object.entries(t.rows_by_num_inference_steps)) {
      for (const [strength, tStart, run] of rows) {
        if (run === 0) expect(() => startStep(Number(n), strength)).toThrow(/runs no denoising step/);
        else {
          expect(startStep(Number(n), strength), `N=${n} strength=${strength}`).toBe(tStart);
          expect(stepsRun(Number(n), strength)).toBe(run);
        }
        checked++;
      }
    }
    for (const d of t.float64_vs_exact_decimal_disagreements)
      expect(startStep(d.N, d.strength)).toBe(d.t_start_reference);
    expect(checked).toBeGreaterThan(100);
    expect(startStep(25, 0.56)).toBe(10); // 25·0.56 = 14.000000000000002
    expect(() => startStep(8, 0)).toThrow(RangeError);
    expect(() => startStep(8, 1.01)).toThrow(RangeError);
  });
});

describe("image-to-image building blocks", () => {
  it("preprocesses uint8 exactly as the reference LUT (fl32(2·fl32(u/255) − 1)) into NCHW", () => {
    const { file } = caseInputs(caseNamed("img2img_1_turbo"));
    const lut = file.debug_preprocess_lut.data as Float32Array;
    const all = Uint8Array.from({ length: 256 * 3 }, (_, i) => Math.floor(i / 3));
    const out = preprocessImage(all, 256, 1);
    for (let u = 0; u < 256; u++) for (let c = 0; c < 3; c++) expect(out[c * 256 + u]).toBe(lut[u]);
    const pre = preprocessImage(file.init_image_uint8.data as Uint8Array, 128, 128);
    expect(maxAbsDiff(pre, file.image_preprocessed.data as Float32Array)).toBe(0);
  });

  it("draws ε then the noise from one generator, bit-exactly as torch's CPU generator (both cases)", () => {
    for (const name of ["img2img_1_turbo", "img2img_2_strength"]) {
      const c = caseNamed(name);
      const { file } = caseInputs(c);
      const n = (file.noise.data as Float32Array).length;
      const g = new TorchGenerator((c.params as { generator_seed: number }).generator_seed);
      expect(maxAbsDiff(g.randn(n), file.posterior_eps.data as Float32Array), name).toBe(0);
      expect(maxAbsDiff(g.randn(n), file.noise.data as Float32Array), name).toBe(0);
    }
    // One generator for two draws = one draw of twice the size, when the first is a multiple of 16.
    const g = new TorchGenerator(7);
    const both = torchRandn(64, 7);
    expect([...g.randn(32), ...g.randn(32)]).toEqual([...both]);
  });

  it("mixes noise as scale_noise: σ = 1 gives the noise itself, σ = 0 the image latents", () => {
    const x = Float32Array.from([0.5, -2, 3]);
    const noise = Float32Array.from([1, 2, -1]);
    expect([...scaleNoise(x, noise, 1)]).toEqual([...noise]);
    expect([...scaleNoise(x, noise, 0)]).toEqual([...x]);
  });
});

describe("image-to-image pipeline (ORT CPU, tiny-a)", () => {
  it("img2img golden cases pass through the golden handler (imported ε and noise)", async () => {
    for (const name of ["img2img_1_turbo", "img2img_2_strength"]) {
      const c = caseNamed(name);
      const { file, inputs } = caseInputs(c);
      const out = await runCase({ case: c, inputs, modelDir, provider: "cpu" });
      expect(
        maxAbsDiff(out.latents_final.data as Float32Array, file.latents_final.data as Float32Array),
      ).toBeLessThanOrEqual(2e-3);
      expect(
        maxAbsDiff(out.image_float.data as Float32Array, file.image_float.data as Float32Array),
      ).toBeLessThanOrEqual(1e-3);
      expect(maxAbsDiff(out.sigmas.data as Float32Array, file.sigmas.data as Float32Array)).toBe(0);
    }
  });

  it("from the seed alone reproduces the golden output, reports K steps, and a batch of two equals each alone", async () => {
    const c = caseNamed("img2img_2_strength");
    const { file } = caseInputs(c);
    const job = seededJob(c, file);
    const steps: [number, number][] = [];
    const alone = await pipeline.generate([job], { onStep: (s, t) => steps.push([s, t]) });
    expect(steps).toEqual([
      [1, 2],
      [2, 2],
    ]);
    const r = alone.results[0]!;
    expect(maxAbsDiff(r.latents, file.latents_final.data as Float32Array)).toBeLessThanOrEqual(2e-3);
    expect(maxAbsDiff(r.image.float, file.image_float.data as Float32Array)).toBeLessThanOrEqual(1e-3);
    expect(alone.timings.encodeMs).toBeGreaterThan(0);

    // Another picture, another seed, same start step: batched = alone.
    const flipped = Uint8Array.from(job.init!.rgb, (v) => 255 - v);
    const other: GenerationJob = { ...job, seed: 99, init: { rgb: flipped, strength: 0.26 } };
    const otherAlone = (await pipeline.generate([other])).results[0]!;
    const pair = await pipeline.generate([job, other]);
    expect(maxAbsDiff(pair.results[0]!.latents, r.latents)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(pair.results[1]!.latents, otherAlone.latents)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(otherAlone.latents, r.latents)).toBeGreaterThan(1e-2);

    // Different start steps cannot share a batch (the batcher keys on it).
    await expect(
      pipeline.generate([job, { ...other, init: { rgb: flipped, strength: 0.8 } }]),
    ).rejects.toThrow(/start step/);
  });

  it("strength 1 with the same noise equals text-to-image started from that noise (golden README §9.1)", async () => {
    const c = caseNamed("img2img_2_strength");
    const { file } = caseInputs(c);
    const job = seededJob(c, file);
    const noise = file.noise.data as Float32Array;
    const base = {
      width: job.width,
      height: job.height,
      steps: job.steps,
      guidanceScale: 0,
      promptIds: job.promptIds,
    };
    const i2i = await pipeline.generate([
      { ...base, seed: job.seed, initialLatents: noise, init: { ...job.init!, strength: 1 } },
    ]);
    const t2i = await pipeline.generate([{ ...base, initialLatents: noise }]);
    expect(maxAbsDiff(i2i.results[0]!.latents, t2i.results[0]!.latents)).toBe(0);
  });
});

describe("a model folder converted before image-to-image", () => {
  it("loads, says so in one line, serves text-to-image and refuses image-to-image clearly", async () => {
    const old = mkdtempSync(path.join(tmpdir(), "zi-old-"));
    try {
      cpSync(modelDir, old, { recursive: true });
      const json = JSON.parse(readFileSync(path.join(old, "model.json"), "utf8"));
      delete json.graphs.vae_encoder;
      writeFileSync(path.join(old, "model.json"), JSON.stringify(json));
      rmSync(path.join(old, "vae_encoder.onnx"));
      const folder = loadModelFolder(old);
      const lines: string[] = [];
      const { sessions } = await openModelSessions(folder, "cpu", (l) => lines.push(l));
      const rebuild = lines.filter((l) => /rebuild/.test(l));
      expect(rebuild).toHaveLength(1);
      expect(rebuild[0]).toMatch(/converted before image-to-image support.*npm run convert/);
      const p = new ZImagePipeline(
        new OrtPipelineModels(sessions, folder.model),
        pipelineConfigOf(folder.model),
      );
      const job = { width: 32, height: 32, steps: 2, guidanceScale: 0, promptIds: [7, 8], seed: 1 };
      expect((await p.generate([job])).results[0]!.image.rgb.length).toBe(32 * 32 * 3);
      const rgb = new Uint8Array(32 * 32 * 3).fill(128);
      await expect(p.generate([{ ...job, init: { rgb, strength: 0.5 } }])).rejects.toThrow(/no VAE encoder/);
      expect(() => folder.graphPath("vae_encoder")).toThrow(/rebuild/);
      await Promise.all(Object.values(sessions).map((s) => s.release()));
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });
});
