/**
 * npm run convert -- --from <hf-folder> --out <model-folder> [--target cpu|cuda] [--transformer <file>] [--vae <file>] [--name <n>]
 *
 * Converts a Z-Image(-Turbo) diffusers checkpoint into the ONNX model folder the GPU function loads.
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { type ConvertOptions, type ConvertResult, convertCheckpoint } from "../model/convert";

export { type ConvertOptions, type ConvertResult, convertCheckpoint } from "../model/convert";

const USAGE =
  "usage: npm run convert -- --from <hf-folder> --out <model-folder> [--target cpu|cuda] [--transformer <single-file.safetensors>] [--vae <single-file.safetensors>] [--name <name>]";

export function parseConvertArgs(argv: string[]): ConvertOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      from: { type: "string" },
      out: { type: "string" },
      target: { type: "string", default: "cpu" },
      transformer: { type: "string" },
      vae: { type: "string" },
      name: { type: "string" },
    },
    strict: true,
  });
  if (!values.from || !values.out) throw new Error(USAGE);
  if (values.target !== "cpu" && values.target !== "cuda") {
    throw new Error(`--target must be cpu or cuda, got ${values.target}\n${USAGE}`);
  }
  return {
    from: values.from,
    out: values.out,
    target: values.target,
    transformerFile: values.transformer,
    vaeFile: values.vae,
    name: values.name,
  };
}

/** Runs a conversion with a progress bar on stderr (TTY only) and prints a summary. */
export async function convertWithProgress(opts: ConvertOptions): Promise<ConvertResult> {
  const bar = new cliProgress.SingleBar(
    {
      format: "{component} |{bar}| {percentage}% {value}/{total} M params",
      hideCursor: true,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let current = "";
  const result = await convertCheckpoint({
    ...opts,
    onProgress: (component, done, total) => {
      if (component !== current) {
        if (current) bar.stop();
        bar.start(Math.round(total / 1e6), 0, { component: component.padEnd(12) });
        current = component;
      }
      bar.update(Math.round(done / 1e6), { component: component.padEnd(12) });
    },
  });
  if (current) bar.stop();
  printSummary(result);
  return result;
}

function printSummary(r: ConvertResult): void {
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const lines = [`model folder ${r.modelDir} (${r.model.target}, revision ${r.model.revision})`];
  for (const [name, g] of Object.entries(r.graphs)) {
    lines.push(
      `  ${name.padEnd(13)} ${g.parameters.toLocaleString("en-US").padStart(15)} params  ${mb(g.bytes).padStart(12)}`,
    );
  }
  lines.push(
    `  ${"total".padEnd(13)} ${r.parameters.toLocaleString("en-US").padStart(15)} params  ${mb(r.bytes).padStart(12)}`,
    `  time ${r.seconds.toFixed(1)} s, peak RSS ${mb(r.peakRssBytes)}`,
  );
  console.log(lines.join("\n"));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await convertWithProgress(parseConvertArgs(process.argv.slice(2)));
  } catch (err) {
    console.error(`convert failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
