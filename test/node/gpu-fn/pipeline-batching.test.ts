import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModelFolder } from "../../../gpu-fn/model/model-folder";
import { type GenerationJob, ZImagePipeline } from "../../../gpu-fn/pipeline/text-to-image";
import {
  type ModelSessions,
  OrtPipelineModels,
  openModelSessions,
  pipelineConfigOf,
} from "../../../gpu-fn/runtime/ort-models";
import { removeTinyAModel, tinyAModelDir } from "./tiny-a-model";

let pipeline: ZImagePipeline;
let sessions: ModelSessions;

beforeAll(async () => {
  const folder = loadModelFolder(await tinyAModelDir());
  ({ sessions } = await openModelSessions(folder, "cpu"));
  pipeline = new ZImagePipeline(
    new OrtPipelineModels(sessions, folder.model),
    pipelineConfigOf(folder.model),
  );
});
afterAll(async () => {
  await Promise.all(Object.values(sessions ?? {}).map((s) => s.release()));
});

const base = { width: 64, height: 48, steps: 4 };
const jobs: GenerationJob[] = [
  { ...base, guidanceScale: 0, promptIds: [2, 4, 6, 100, 101, 3, 6, 2, 5, 6], seed: 1 },
  {
    ...base,
    guidanceScale: 0,
    promptIds: [2, 4, 6, ...Array.from({ length: 40 }, (_, i) => 10 + i), 3, 6, 2, 5, 6],
    seed: 2,
  },
  {
    ...base,
    guidanceScale: 3,
    promptIds: [2, 4, 6, 300, 3, 6, 2, 5, 6],
    negativePromptIds: [2, 4, 6, 3, 6, 2, 5, 6],
    seed: 3,
  },
];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("ZImagePipeline batching (tiny-a, ORT CPU)", () => {
  it("a batch (different caption lengths, mixed CFG) equals each job run alone", async () => {
    const batched = await pipeline.generate(jobs);
    for (const [k, j] of jobs.entries()) {
      const alone = (await pipeline.generate([j])).results[0]!;
      const b = batched.results[k]!;
      expect(maxAbsDiff(b.latents, alone.latents)).toBeLessThan(1e-4);
      expect(maxAbsDiff(b.image.float, alone.image.float)).toBeLessThan(1e-4);
    }
    expect(batched.timings.stepMs).toHaveLength(4);
  });

  it("is deterministic for a seed and differs across seeds", async () => {
    const a = (await pipeline.generate([jobs[0]])).results[0]!;
    const b = (await pipeline.generate([jobs[0]])).results[0]!;
    const c = (await pipeline.generate([{ ...jobs[0], seed: 99 }])).results[0]!;
    expect(Buffer.from(a.image.rgb).equals(Buffer.from(b.image.rgb))).toBe(true);
    expect(Buffer.from(a.image.rgb).equals(Buffer.from(c.image.rgb))).toBe(false);
  });

  it("drops a job cancelled between steps and finishes the others unchanged", async () => {
    let steps = 0;
    const out = await pipeline.generate(jobs.slice(0, 2), {
      onStep: () => steps++,
      isCancelled: (k) => k === 1 && steps >= 2,
    });
    expect(out.results[1]).toBeNull();
    const alone = (await pipeline.generate([jobs[0]])).results[0]!;
    expect(maxAbsDiff(out.results[0]!.latents, alone.latents)).toBeLessThan(1e-4);
  });

  it("rejects ids outside the vocabulary and sizes that are not multiples of 16", async () => {
    await expect(pipeline.generate([{ ...jobs[0], promptIds: [1, 100000] }])).rejects.toThrow(/vocabulary/);
    await expect(pipeline.generate([{ ...jobs[0], width: 40 }])).rejects.toThrow(/multiples of 16/);
  });
});

afterAll(removeTinyAModel);
