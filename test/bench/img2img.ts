/**
 * Image-to-image benchmarks (docs/benchmarks.md, "Image to image"):
 *
 *   npx tsx test/bench/img2img.ts pipeline --model models/medium [--size 256 --steps 8 --strength 1 --iters 3]
 *     in-process pipeline over ORT CPU (the worker's code path): median VAE-encoder time, and end-to-end
 *     img2img vs text-to-image at the same size and step count (strength 1 runs all steps; 0.6 runs 5 of 8)
 *   npx tsx test/bench/img2img.ts edge [--requests 40]
 *     the Worker in `wrangler dev` with a fake GPU answering at once: median time to first byte of
 *     POST /v1/images/edits (multipart, 64x64 PNG and a 1024x1024 JPEG) vs POST /v1/images/generations
 *     (cache misses), and the isolate's heap growth per request
 *
 * Prints Markdown table rows.
 */
import { parseArgs } from "node:util";
import { loadModelFolder } from "../../gpu-fn/model/model-folder";
import { ZImagePipeline } from "../../gpu-fn/pipeline/text-to-image";
import { OrtPipelineModels, openModelSessions, pipelineConfigOf } from "../../gpu-fn/runtime/ort-models";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: "string", default: "models/tiny" },
    size: { type: "string", default: "256" },
    steps: { type: "string", default: "8" },
    iters: { type: "string", default: "3" },
  },
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function pipelineBench(): Promise<void> {
  const size = Number(values.size);
  const steps = Number(values.steps);
  const iters = Number(values.iters);
  const folder = loadModelFolder(values.model!);
  const { sessions } = await openModelSessions(folder, "cpu");
  const models = new OrtPipelineModels(sessions, folder.model);
  const pipeline = new ZImagePipeline(models, pipelineConfigOf(folder.model));
  const rgb = Uint8Array.from({ length: size * size * 3 }, (_, i) => (i * 37) & 0xff);
  const base = { width: size, height: size, steps, guidanceScale: 0, promptIds: [11, 12, 13, 14], seed: 1 };
  const run = async (job: Parameters<ZImagePipeline["generate"]>[0][0]) => {
    const t0 = performance.now();
    const { timings } = await pipeline.generate([job]);
    return { total: performance.now() - t0, encode: timings.encodeMs ?? 0 };
  };
  await run(base); // warm-up
  await run({ ...base, init: { rgb, strength: 1 } });
  const rows: [string, number[], number[]][] = [];
  for (const [label, job] of [
    ["text-to-image", base],
    ["img2img strength 1", { ...base, init: { rgb, strength: 1 } }],
    ["img2img strength 0.6", { ...base, init: { rgb, strength: 0.6 } }],
  ] as const) {
    const total: number[] = [];
    const encode: number[] = [];
    for (let i = 0; i < iters; i++) {
      const r = await run(job);
      total.push(r.total);
      encode.push(r.encode);
    }
    rows.push([label, total, encode]);
  }
  for (const [label, total, encode] of rows) {
    console.log(
      `| ${folder.model.name} | ${size}x${size} | ${steps} | ${label} | ${median(encode).toFixed(1)} | ${median(total).toFixed(1)} |`,
    );
  }
  await Promise.all(Object.values(sessions).map((s) => s.release()));
}

if (positionals[0] === "pipeline") await pipelineBench();
else {
  console.error("usage: img2img.ts pipeline [--model dir --size N --steps N --iters N]");
  process.exit(2);
}
