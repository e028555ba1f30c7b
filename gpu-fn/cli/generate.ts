/**
 * npm run generate -- --model <folder> --prompt "..." [--negative "..."] [--seed N] [--steps N] [--width W]
 *   [--height H] [--guidance G] [--format png|jpeg|webp] [--quality Q] [--provider cpu|cuda|auto] --out file.png
 *
 * One image through the same pipeline code as the server (in-process, no worker), with a per-step progress bar on
 * stderr and a timing summary: per stage, the sum of session.run, and end-to-end / session.run overhead.
 */
import { writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { loadModelFolder } from "../model/model-folder";
import { encodeImage, type ImageFormat } from "../pipeline/image-encode";
import { ZImagePipeline } from "../pipeline/text-to-image";
import { type ExecutionProviderSetting, parseExecutionProvider } from "../runtime/execution-provider";
import { OrtPipelineModels, openModelSessions, pipelineConfigOf } from "../runtime/ort-models";
import { loadPromptEncoder } from "../runtime/prompt-encoder";

const USAGE =
  'usage: npm run generate -- --model <folder> --prompt "..." --out file.png [--negative "..."] [--seed N] ' +
  "[--steps N] [--width W] [--height H] [--guidance G] [--format png|jpeg|webp] [--quality Q] [--provider cpu|cuda|auto]";

export interface GenerateArgs {
  model: string;
  prompt: string;
  out: string;
  negative: string;
  seed: number;
  steps?: number;
  width?: number;
  height?: number;
  guidance?: number;
  format: ImageFormat;
  quality?: number;
  provider: ExecutionProviderSetting;
}

function num(name: string, v: string | undefined, integer = true): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)))
    throw new Error(`--${name} must be a number, got "${v}"`);
  return n;
}

export function parseGenerateArgs(argv: string[]): GenerateArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" },
      prompt: { type: "string" },
      out: { type: "string" },
      negative: { type: "string", default: "" },
      seed: { type: "string", default: "0" },
      steps: { type: "string" },
      width: { type: "string" },
      height: { type: "string" },
      guidance: { type: "string" },
      format: { type: "string" },
      quality: { type: "string" },
      provider: { type: "string", default: "auto" },
    },
    strict: true,
  });
  if (!values.model || values.prompt === undefined || !values.out) throw new Error(USAGE);
  const format = (values.format ??
    values.out.split(".").pop()?.replace("jpg", "jpeg") ??
    "png") as ImageFormat;
  if (!["png", "jpeg", "webp"].includes(format))
    throw new Error(`--format must be png, jpeg or webp\n${USAGE}`);
  return {
    model: values.model,
    prompt: values.prompt,
    out: values.out,
    negative: values.negative ?? "",
    seed: num("seed", values.seed) ?? 0,
    steps: num("steps", values.steps),
    width: num("width", values.width),
    height: num("height", values.height),
    guidance: num("guidance", values.guidance, false),
    format,
    quality: num("quality", values.quality),
    provider: parseExecutionProvider(values.provider),
  };
}

export interface GenerateSummary {
  file: string;
  bytes: number;
  provider: string;
  promptTruncated: boolean;
  ms: {
    load: number;
    tokenize: number;
    textEncoder: number;
    steps: number[];
    decode: number;
    postprocess: number;
    imageEncode: number;
    /** Tokenize to encoded image (model load excluded). */
    endToEnd: number;
    sessionRun: number;
  };
}

export async function generate(
  args: GenerateArgs,
  onStep?: (step: number, total: number) => void,
): Promise<GenerateSummary> {
  const t0 = performance.now();
  const folder = loadModelFolder(args.model);
  const { model } = folder;
  const encoder = await loadPromptEncoder(folder, (l) => console.error(l));
  const { sessions, provider } = await openModelSessions(folder, args.provider, (l) => console.error(l));
  const models = new OrtPipelineModels(sessions, model);
  const pipeline = new ZImagePipeline(models, pipelineConfigOf(model));
  const load = performance.now() - t0;
  try {
    const width = args.width ?? model.defaults.width;
    const height = args.height ?? model.defaults.height;
    const steps = args.steps ?? model.defaults.steps;
    const guidance = args.guidance ?? model.defaults.guidance_scale;

    const start = performance.now();
    const prompt = encoder.encode(args.prompt);
    const negative = guidance > 0 ? encoder.encode(args.negative) : null;
    const tokenize = performance.now() - start;
    const { results, timings } = await pipeline.generate(
      [
        {
          width,
          height,
          steps,
          guidanceScale: guidance,
          promptIds: prompt.ids,
          negativePromptIds: negative?.ids,
          seed: args.seed,
        },
      ],
      { onStep },
    );
    const image = results[0]!.image;
    const tEnc = performance.now();
    const bytes = await encodeImage(image.rgb, width, height, {
      format: args.format,
      quality: args.quality,
      software: `${model.name} ${model.revision}`,
      parameters: {
        prompt: args.prompt,
        negative_prompt: negative ? args.negative : "",
        width,
        height,
        steps,
        guidance_scale: guidance,
        seed: args.seed,
        model: model.name,
        revision: model.revision,
      },
    });
    const imageEncode = performance.now() - tEnc;
    const endToEnd = performance.now() - start;
    await writeFile(args.out, bytes);
    return {
      file: args.out,
      bytes: bytes.length,
      provider,
      promptTruncated: prompt.truncated || Boolean(negative?.truncated),
      ms: {
        load,
        tokenize,
        textEncoder: timings.textEncoderMs,
        steps: timings.stepMs,
        decode: timings.decodeMs,
        postprocess: timings.postprocessMs,
        imageEncode,
        endToEnd,
        sessionRun: models.sessionRunMs,
      },
    };
  } finally {
    await Promise.all(Object.values(sessions).map((s) => s.release()));
  }
}

export function formatSummary(s: GenerateSummary): string {
  const f = (ms: number) => `${ms.toFixed(1).padStart(9)} ms`;
  const stepTotal = s.ms.steps.reduce((a, b) => a + b, 0);
  const lines = [
    `wrote ${s.file} (${s.bytes.toLocaleString("en-US")} bytes, ${s.provider.toUpperCase()})${s.promptTruncated ? " — prompt truncated to 512 tokens" : ""}`,
    `  model load      ${f(s.ms.load)}`,
    `  tokenize        ${f(s.ms.tokenize)}`,
    `  text encoder    ${f(s.ms.textEncoder)}`,
    ...s.ms.steps.map((ms, i) => `  step ${String(i + 1).padEnd(10)} ${f(ms)}`),
    `  steps total     ${f(stepTotal)}`,
    `  vae decode      ${f(s.ms.decode)}`,
    `  postprocess     ${f(s.ms.postprocess)}`,
    `  image encode    ${f(s.ms.imageEncode)}`,
    `  end to end      ${f(s.ms.endToEnd)}`,
    `  session.run sum ${f(s.ms.sessionRun)}   overhead ${(s.ms.endToEnd / s.ms.sessionRun).toFixed(3)}x`,
  ];
  return lines.join("\n");
}

async function main(): Promise<void> {
  const args = parseGenerateArgs(process.argv.slice(2));
  const bar = new cliProgress.SingleBar(
    {
      format: "denoise |{bar}| {value}/{total} steps | {duration_formatted}",
      hideCursor: true,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const summary = await generate(args, (step, total) => {
    if (!started) {
      bar.start(total, 0);
      started = true;
    }
    bar.update(step);
  });
  if (started) bar.stop();
  console.log(formatSummary(summary));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
